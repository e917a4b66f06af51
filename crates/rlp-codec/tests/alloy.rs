//! `alloy-primitives` impls (feature `alloy-primitives`): round trips, and the same bytes as
//! `alloy-rlp` for each type.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use alloy_primitives::{Address, B256, B512, Bloom, Bytes, FixedBytes, U256};
use devp2p_rlp_codec::{Decodable, DecodeErrorKind, Encodable, decode_exact, encode_to_vec};
use proptest::prelude::*;

fn check<T>(value: &T)
where
    T: Encodable + for<'a> Decodable<'a> + alloy_rlp::Encodable + PartialEq + std::fmt::Debug,
{
    let ours = encode_to_vec(value);
    assert_eq!(ours.len(), Encodable::length(value));
    assert_eq!(ours, alloy_rlp::encode(value), "{value:?}");
    assert_eq!(&decode_exact::<T>(&ours).unwrap(), value);
}

proptest! {
    #[test]
    fn same_as_alloy_rlp(
        limbs: [u64; 4],
        shift in 0u32..256,
        hash: [u8; 32],
        wide: [u8; 64],
        addr: [u8; 20],
        data in proptest::collection::vec(any::<u8>(), 0..200),
        bloom_byte: u8,
    ) {
        check(&(U256::from_limbs(limbs) >> shift));
        check(&B256::from(hash));
        check(&B512::from(wide));
        check(&Address::from(addr));
        check(&Bloom::repeat_byte(bloom_byte));
        check(&Bytes::from(data));
        check(&FixedBytes::<3>::from([hash[0], hash[1], hash[2]]));
    }
}

#[test]
fn u256_edges() {
    for v in [
        U256::ZERO,
        U256::from(0x7f),
        U256::from(0x80),
        U256::from(u64::MAX),
        U256::MAX,
    ] {
        check(&v);
    }
    assert_eq!(encode_to_vec(&U256::ZERO), [0x80]);
    let mut too_wide = vec![0xa1, 0x01];
    too_wide.extend([0u8; 32]);
    assert_eq!(
        decode_exact::<U256>(&too_wide).unwrap_err().kind(),
        DecodeErrorKind::IntegerOverflow
    );
    assert_eq!(
        decode_exact::<U256>(&[0x82, 0x00, 0x01])
            .unwrap_err()
            .kind(),
        DecodeErrorKind::LeadingZero
    );
    assert_eq!(
        decode_exact::<B256>(&[0x81, 0x80]).unwrap_err().kind(),
        DecodeErrorKind::UnexpectedLength
    );
}
