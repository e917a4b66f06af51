//! Node records as packets carry them: their encoding, checked for size and shape but not yet
//! verified. Verifying a record's signature costs an ECDSA verification, so a protocol can keep
//! records it receives in this form and verify only those it is about to use (discv5's
//! handshakes and NODES, discv4's ENRResponse).

use crate::{Enr, EnrError, record};

/// A node record as received: its RLP encoding, not yet verified.
///
/// [`RawRecord::new`] checks only what costs nothing: at most 300 bytes, one RLP list with
/// nothing after it, starting with a signature and a sequence number.
/// [`RawRecord::verify`] decodes the rest and verifies the signature (64 bytes). A signature of
/// another length is found there, not here, as go-ethereum finds it: one such record in a
/// discv5 NODES message costs only itself, not the message's other records.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawRecord(Vec<u8>);

impl RawRecord {
    /// The record encoded as `bytes`, if its size and shape are those of a record.
    pub fn new(bytes: &[u8]) -> Result<Self, EnrError> {
        let mut list = record::open(bytes)?;
        list.bytes()?;
        list.decode::<u64>()?;
        Ok(Self(bytes.to_vec()))
    }

    /// The record's encoding, as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Decodes the record and verifies its signature.
    pub fn verify(&self) -> Result<Enr, EnrError> {
        Enr::from_rlp(&self.0)
    }
}

impl From<&Enr> for RawRecord {
    fn from(record: &Enr) -> Self {
        Self(record.to_rlp().to_vec())
    }
}

impl From<Enr> for RawRecord {
    fn from(record: Enr) -> Self {
        Self::from(&record)
    }
}

impl core::fmt::Debug for RawRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RawRecord(")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}
