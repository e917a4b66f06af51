//! Decoding: the [`Decodable`] trait, its impls for core types, and whole-input entry points.

use alloc::{boxed::Box, string::String, sync::Arc, vec::Vec};

use crate::{DecodeError, DecodeErrorKind, Rlp, rlp::Item};

/// A value that can be read from canonical RLP.
///
/// The lifetime `'a` is the input's: types such as `&'a [u8]` and `&'a str` borrow from it, owned
/// types implement `Decodable<'a>` for every `'a`. Implementations read exactly one item from the
/// cursor and leave it after that item. After an error, where a direct call to
/// [`decode`](Self::decode) left the cursor is unspecified; [`Rlp::decode`] puts it back.
pub trait Decodable<'a>: Sized {
    /// The fewest bytes any encoding of a value of this type takes (at least 1). Collections use
    /// it to size their allocation from the input length before decoding. The derives compute
    /// it from the fields; a hand-written impl whose values are larger than a few bytes should
    /// set it (too low costs memory up front, bounded by the input's size; too high is a bug
    /// that only costs reallocations).
    const MIN_LENGTH: usize = 1;

    /// Reads one item from `rlp`.
    fn decode(rlp: &mut Rlp<'a>) -> Result<Self, DecodeError>;

    /// Reads one item from `rlp` and appends it to `out`; `Vec<T>` decodes its elements with
    /// it. Fixed-size byte arrays override it to copy from the input straight into the vector,
    /// which avoids moving each value through a `Result` (a list of 1000 hashes decodes 4x faster).
    #[inline]
    fn decode_push(rlp: &mut Rlp<'a>, out: &mut Vec<Self>) -> Result<(), DecodeError> {
        out.push(Self::decode(rlp)?);
        Ok(())
    }
}

/// Decodes `input` as exactly one `T`, rejecting trailing bytes.
///
/// ```
/// let v: Vec<u64> = devp2p_rlp_codec::decode_exact(&[0xc3, 0x01, 0x02, 0x03])?;
/// assert_eq!(v, [1, 2, 3]);
/// # Ok::<(), devp2p_rlp_codec::DecodeError>(())
/// ```
#[inline]
pub fn decode_exact<'a, T: Decodable<'a>>(input: &'a [u8]) -> Result<T, DecodeError> {
    let mut rlp = Rlp::new(input);
    let value = T::decode(&mut rlp)?;
    rlp.finish()?;
    Ok(value)
}

/// Decodes one `T` from the start of `input` and returns it with the bytes after it (for
/// formats that allow trailing data, such as EIP-8 discovery packets).
#[inline]
pub fn decode_prefix<'a, T: Decodable<'a>>(input: &'a [u8]) -> Result<(T, &'a [u8]), DecodeError> {
    let mut rlp = Rlp::new(input);
    let value = T::decode(&mut rlp)?;
    Ok((value, rlp.remaining()))
}

/// Encoded length of a string of `n` bytes, `n != 1` (a single byte may encode as itself).
pub(crate) const fn fixed_string_length(n: usize) -> usize {
    if n == 1 {
        1
    } else {
        crate::header_length(n) + n
    }
}

/// Reads an unsigned integer from its minimal big-endian form.
macro_rules! uint_impl {
    ($($t:ty),+) => {$(
        impl Decodable<'_> for $t {
            #[inline]
            fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
                const N: usize = core::mem::size_of::<$t>();
                let (be, window) = rlp.uint_window::<N>()?;
                Ok(match window {
                    // The first `be.len()` of the N bytes, shifted down (zero for none).
                    Some(window) => <$t>::from_be_bytes(window)
                        .checked_shr((8 * (N - be.len())) as u32)
                        .unwrap_or(0),
                    // Near the end of the input. Folding avoids a variable-length copy (a
                    // `memcpy` call) into a buffer.
                    None => be.iter().fold(0, |acc: $t, b| (acc << 4 << 4) | <$t>::from(*b)),
                })
            }
        }
    )+};
}
uint_impl!(u8, u16, u32, u64, u128);

impl Decodable<'_> for usize {
    #[inline]
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        let start = *rlp;
        let v = u64::decode(rlp)?;
        Self::try_from(v).map_err(|_| {
            *rlp = start;
            DecodeError::new(DecodeErrorKind::IntegerOverflow, start.offset())
        })
    }
}

impl Decodable<'_> for bool {
    #[inline]
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        rlp.map_bytes(|b| match b {
            [] => Ok(false),
            [1] => Ok(true),
            _ => Err(DecodeErrorKind::InvalidBool),
        })
    }
}

impl<'a> Decodable<'a> for &'a [u8] {
    #[inline]
    fn decode(rlp: &mut Rlp<'a>) -> Result<Self, DecodeError> {
        rlp.bytes()
    }
}

impl<'a> Decodable<'a> for &'a str {
    #[inline]
    fn decode(rlp: &mut Rlp<'a>) -> Result<Self, DecodeError> {
        rlp.map_bytes(|b| core::str::from_utf8(b).map_err(|_| DecodeErrorKind::InvalidUtf8))
    }
}

impl Decodable<'_> for String {
    #[inline]
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        <&str>::decode(rlp).map(Into::into)
    }
}

impl<const N: usize> Decodable<'_> for [u8; N] {
    const MIN_LENGTH: usize = fixed_string_length(N);

    #[inline]
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        rlp.array().copied()
    }

    #[inline]
    fn decode_push(rlp: &mut Rlp<'_>, out: &mut Vec<Self>) -> Result<(), DecodeError> {
        out.push(*rlp.array()?);
        Ok(())
    }
}

impl Decodable<'_> for bytes::Bytes {
    #[inline]
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        rlp.bytes().map(Self::copy_from_slice)
    }
}

impl Decodable<'_> for bytes::BytesMut {
    #[inline]
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        rlp.bytes().map(Self::from)
    }
}

/// `Box<T>` and `Arc<T>` read as the `T` they hold, as they encode (a recursive type can hold
/// itself in a box).
macro_rules! impl_decodable_boxed {
    ($($ptr:ident),+) => {$(
        impl<'a, T: Decodable<'a>> Decodable<'a> for $ptr<T> {
            const MIN_LENGTH: usize = T::MIN_LENGTH;

            #[inline]
            fn decode(rlp: &mut Rlp<'a>) -> Result<Self, DecodeError> {
                T::decode(rlp).map($ptr::new)
            }
        }
    )+};
}
impl_decodable_boxed!(Box, Arc);

impl<'a, T: Decodable<'a>> Decodable<'a> for Vec<T> {
    #[inline]
    fn decode(rlp: &mut Rlp<'a>) -> Result<Self, DecodeError> {
        let mut list = rlp.list()?;
        // At most one element per `MIN_LENGTH` input bytes (exact for fixed-size elements such
        // as hashes; counting items first to size it exactly measured slower than this). The
        // reservation never takes more bytes than the list's payload has, whatever `MIN_LENGTH`
        // claims: a type left at the default of 1 whose values are large (a block header) would
        // otherwise reserve hundreds of times the input before its first element fails. Past
        // that, the vector grows as elements actually decode.
        let len = list.remaining().len();
        let capacity = (len / T::MIN_LENGTH.max(1)).min(len / size_of::<T>().max(1));
        let mut out = Self::with_capacity(capacity);
        while !list.is_empty() {
            T::decode_push(&mut list, &mut out)?;
        }
        Ok(out)
    }
}

impl<'a> Decodable<'a> for Item<'a> {
    #[inline]
    fn decode(rlp: &mut Rlp<'a>) -> Result<Self, DecodeError> {
        rlp.item()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_to_vec;

    fn kind<T: for<'a> Decodable<'a> + core::fmt::Debug>(input: &[u8]) -> DecodeErrorKind {
        decode_exact::<T>(input).unwrap_err().kind()
    }

    #[test]
    fn boxes_and_shared_pointers_read_as_what_they_hold() {
        let input = encode_to_vec(&alloc::vec![1u64, 1000]);
        assert_eq!(
            decode_exact::<Box<Vec<u64>>>(&input),
            Ok(Box::new(alloc::vec![1, 1000]))
        );
        assert_eq!(
            decode_exact::<Arc<Vec<u64>>>(&input),
            Ok(Arc::new(alloc::vec![1, 1000]))
        );
        assert_eq!(<Box<[u8; 32]> as Decodable<'_>>::MIN_LENGTH, 33);
        let bytes = decode_exact::<bytes::BytesMut>(&[0x82, 7, 8]);
        assert_eq!(bytes.as_deref(), Ok(&[7u8, 8][..]));
        assert_eq!(encode_to_vec(&Box::new(1000u64)), [0x82, 0x03, 0xe8]);
    }

    #[test]
    fn integers() {
        assert_eq!(decode_exact::<u64>(&[0x80]), Ok(0));
        assert_eq!(decode_exact::<u8>(&[0x7f]), Ok(0x7f));
        assert_eq!(decode_exact::<u16>(&[0x82, 0x04, 0x00]), Ok(0x400));
        assert_eq!(
            decode_exact::<u128>(&encode_to_vec(&u128::MAX)),
            Ok(u128::MAX)
        );
        assert_eq!(kind::<u64>(&[0x00]), DecodeErrorKind::LeadingZero);
        assert_eq!(
            kind::<u64>(&[0x82, 0x00, 0x01]),
            DecodeErrorKind::LeadingZero
        );
        assert_eq!(
            kind::<u8>(&[0x82, 0x01, 0x00]),
            DecodeErrorKind::IntegerOverflow
        );
        assert_eq!(
            kind::<u64>(&[0x81, 0x05]),
            DecodeErrorKind::NonCanonicalSingleByte
        );
        assert_eq!(kind::<u64>(&[0xc0]), DecodeErrorKind::UnexpectedList);
        assert_eq!(kind::<u64>(&[0x01, 0x02]), DecodeErrorKind::TrailingBytes);
        assert_eq!(kind::<u64>(&[]), DecodeErrorKind::MissingItem);
    }

    #[test]
    fn other_scalars() {
        assert_eq!(decode_exact::<bool>(&[0x01]), Ok(true));
        assert_eq!(decode_exact::<bool>(&[0x80]), Ok(false));
        assert_eq!(kind::<bool>(&[0x02]), DecodeErrorKind::InvalidBool);
        assert_eq!(decode_exact::<[u8; 2]>(&[0x82, 1, 2]), Ok([1, 2]));
        assert_eq!(
            kind::<[u8; 2]>(&[0x83, 1, 2, 3]),
            DecodeErrorKind::UnexpectedLength
        );
        assert_eq!(kind::<String>(&[0x81, 0xff]), DecodeErrorKind::InvalidUtf8);
        assert_eq!(decode_exact::<&str>(&[0x83, b'd', b'o', b'g']), Ok("dog"));
    }

    #[test]
    fn offsets_are_absolute() {
        // [1, [2, 0x00 0x01]] with a leading zero in the innermost integer at byte 4.
        let input = [0xc6, 0x01, 0xc4, 0x02, 0x82, 0x00, 0x01];
        let mut rlp = Rlp::new(&input);
        let mut outer = rlp.list().unwrap();
        assert_eq!(outer.decode::<u64>(), Ok(1));
        let err = outer.decode::<Vec<u64>>().unwrap_err();
        assert_eq!(err, DecodeError::new(DecodeErrorKind::LeadingZero, 4));
    }

    /// A large value decoded from a short string, with the default `MIN_LENGTH` of 1.
    #[derive(Debug)]
    struct Large([u8; 2048]);

    impl Decodable<'_> for Large {
        fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
            rlp.bytes().map(|b| Self([b.len() as u8; 2048]))
        }
    }

    #[test]
    fn vec_reserves_no_more_than_its_input_holds() {
        // Two 3-byte strings in 8 bytes: sized from `MIN_LENGTH` alone, the vector would
        // reserve 8 elements (16 KiB) for them.
        let input = [0xc8, 0x83, 1, 2, 3, 0x83, 4, 5, 6];
        let list = decode_exact::<Vec<Large>>(&input).unwrap();
        assert_eq!(list.len(), 2);
        assert!(list.iter().all(|large| large.0 == [3; 2048]));
        assert!(list.capacity() <= 2 * list.len(), "{}", list.capacity());
        // Fixed-size elements are still sized exactly.
        let hashes = encode_to_vec(&[[7u8; 32]; 5].to_vec());
        assert_eq!(
            decode_exact::<Vec<[u8; 32]>>(&hashes).unwrap().capacity(),
            5
        );
    }

    #[test]
    fn prefix_leaves_the_rest() {
        assert_eq!(decode_prefix::<u8>(&[0x05, 0xaa]), Ok((5, &[0xaa][..])));
    }
}
