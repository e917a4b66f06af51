//! Helpers shared by the integration tests.

use devp2p_discv5::{Enr, wire::RawRecord};

/// `record` with its signature spoiled (its last byte flipped): well formed, but it does not
/// verify.
pub(crate) fn tampered(record: &Enr) -> RawRecord {
    let mut bytes = record.to_rlp().to_vec();
    let at = bytes
        .windows(64)
        .position(|w| w == record.signature())
        .unwrap();
    bytes[at + 63] ^= 1;
    RawRecord::new(&bytes).unwrap()
}
