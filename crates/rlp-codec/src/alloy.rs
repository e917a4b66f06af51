//! Impls for `alloy-primitives` types (feature `alloy-primitives`): fixed-size byte strings
//! (`FixedBytes<N>`, `B256`, `B512`, `Address`, `Bloom`), `Bytes`, and `U256` as an integer.

use alloy_primitives::{Address, Bloom, Bytes, FixedBytes, U256};
use bytes::BufMut;

use crate::{
    Decodable, DecodeError, DecodeErrorKind, Encodable, Rlp,
    decode::fixed_string_length,
    encode::{impl_encodable_as_array, impl_encodable_as_bytes},
    header::EMPTY_STRING_CODE,
};

impl_encodable_as_array!(
    [const N: usize] FixedBytes<N> => |v| &v.0,
    [] Address => |v| &v.0.0,
    [] Bloom => |v| &v.0.0,
);
impl_encodable_as_bytes!([] Bytes);

impl<const N: usize> Decodable<'_> for FixedBytes<N> {
    const MIN_LENGTH: usize = fixed_string_length(N);

    #[inline]
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        rlp.array().map(|a| Self(*a))
    }

    #[inline]
    fn decode_push(rlp: &mut Rlp<'_>, out: &mut alloc::vec::Vec<Self>) -> Result<(), DecodeError> {
        out.push(Self(*rlp.array()?));
        Ok(())
    }
}

impl Decodable<'_> for Address {
    const MIN_LENGTH: usize = fixed_string_length(20);

    #[inline]
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        rlp.array().map(|a| Self(FixedBytes(*a)))
    }
}

impl Decodable<'_> for Bloom {
    const MIN_LENGTH: usize = fixed_string_length(256);

    #[inline]
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        rlp.array().map(|a| Self(FixedBytes(*a)))
    }
}

impl Decodable<'_> for Bytes {
    #[inline]
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        bytes::Bytes::decode(rlp).map(Self)
    }
}

impl Encodable for U256 {
    #[inline]
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        if let Ok(small) = u64::try_from(*self) {
            return small.encode(out);
        }
        let be = self.to_be_bytes::<32>();
        let be = be.get(self.leading_zeros() / 8..).unwrap_or_default();
        out.put_u8(EMPTY_STRING_CODE + be.len() as u8);
        out.put_slice(be);
    }
    #[inline]
    fn length(&self) -> usize {
        if let Ok(small) = u64::try_from(*self) {
            return small.length();
        }
        // Above u64::MAX: always a header byte plus 9 to 32 payload bytes.
        1 + 32 - (self.leading_zeros() / 8)
    }
}

impl Decodable<'_> for U256 {
    #[inline]
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        let offset = rlp.offset();
        let be = rlp.uint_bytes(32)?;
        Self::try_from_be_slice(be)
            .ok_or(DecodeError::new(DecodeErrorKind::IntegerOverflow, offset))
    }
}
