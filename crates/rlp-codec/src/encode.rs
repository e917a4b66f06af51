//! Encoding: the [`Encodable`] trait, its impls for core types, and list helpers.

use alloc::{
    borrow::{Cow, ToOwned},
    boxed::Box,
    string::String,
    sync::Arc,
    vec::Vec,
};

use bytes::BufMut;

use crate::header::{EMPTY_STRING_CODE, Header, be_len_u64, header_length, put_be};

/// A value with a canonical RLP encoding.
///
/// [`length`](Self::length) must return exactly the number of bytes [`encode`](Self::encode)
/// writes; [`encode_to_vec`] relies on it to allocate once.
pub trait Encodable {
    /// Appends the encoding of `self` to `out`.
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B);

    /// Number of bytes [`encode`](Self::encode) writes, computed without allocating.
    fn length(&self) -> usize;

    /// Appends the encodings of `items` one after the other (a list's payload). Each is
    /// encoded in turn, except fixed-size byte strings, which go out many to a write.
    #[inline]
    fn encode_slice<B: BufMut + ?Sized>(items: &[Self], out: &mut B)
    where
        Self: Sized,
    {
        for item in items {
            item.encode(out);
        }
    }
}

/// Encodes `value` into a new vector of exactly its encoded length.
pub fn encode_to_vec<T: Encodable + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.length());
    value.encode(&mut out);
    out
}

/// Total payload length of a list holding `items`.
#[inline]
pub fn list_payload_length<T: Encodable>(items: &[T]) -> usize {
    items.iter().map(Encodable::length).sum()
}

/// Encoded length of a list holding `items`, header included.
#[inline]
pub fn list_length<T: Encodable>(items: &[T]) -> usize {
    let payload = list_payload_length(items);
    header_length(payload) + payload
}

/// Encodes `items` as one list, computing the payload length once.
#[inline]
pub fn encode_list<T: Encodable, B: BufMut + ?Sized>(items: &[T], out: &mut B) {
    Header::list(list_payload_length(items)).encode(out);
    T::encode_slice(items, out);
}

/// Encodes the items of an iterator as one list. The iterator is walked twice (once for the
/// payload length, once to write), so it must yield the same items each time it is cloned.
pub fn encode_iter<'a, T, I, B>(items: I, out: &mut B)
where
    T: Encodable + 'a,
    I: Iterator<Item = &'a T> + Clone,
    B: BufMut + ?Sized,
{
    Header::list(items.clone().map(Encodable::length).sum()).encode(out);
    for item in items {
        item.encode(out);
    }
}

/// Writes `bytes` as an RLP string: a single byte below `0x80` as itself, otherwise header and
/// payload.
#[inline]
pub fn encode_bytes<B: BufMut + ?Sized>(bytes: &[u8], out: &mut B) {
    match bytes {
        [b] if *b < EMPTY_STRING_CODE => out.put_u8(*b),
        _ => {
            Header::string(bytes.len()).encode(out);
            out.put_slice(bytes);
        }
    }
}

/// Encoded length of `bytes` as an RLP string.
#[inline]
pub const fn bytes_length(bytes: &[u8]) -> usize {
    match bytes {
        [b] if *b < EMPTY_STRING_CODE => 1,
        _ => header_length(bytes.len()) + bytes.len(),
    }
}

/// Implements [`Encodable`] as the RLP string of the type's bytes (its `AsRef<[u8]>`).
macro_rules! impl_encodable_as_bytes {
    ($([$($g:tt)*] $t:ty),+ $(,)?) => {$(
        impl<$($g)*> $crate::Encodable for $t {
            #[inline]
            fn encode<B: bytes::BufMut + ?Sized>(&self, out: &mut B) {
                $crate::encode_bytes(AsRef::<[u8]>::as_ref(self), out);
            }
            #[inline]
            fn length(&self) -> usize {
                $crate::bytes_length(AsRef::<[u8]>::as_ref(self))
            }
        }
    )+};
}
#[cfg(feature = "alloy-primitives")]
pub(crate) use impl_encodable_as_bytes;

/// Implements [`Encodable`] for fixed-size byte strings through [`encode_array`].
macro_rules! impl_encodable_as_array {
    ($([$($g:tt)*] $t:ty => |$v:ident| $array:expr),+ $(,)?) => {$(
        impl<$($g)*> $crate::Encodable for $t {
            #[inline]
            fn encode<B: bytes::BufMut + ?Sized>(&self, out: &mut B) {
                let $v = self;
                $crate::encode::encode_array($array, out);
            }
            #[inline]
            fn length(&self) -> usize {
                let $v = self;
                $crate::bytes_length($array)
            }
            #[inline]
            fn encode_slice<B: bytes::BufMut + ?Sized>(items: &[Self], out: &mut B) {
                $crate::encode::encode_arrays(items.iter().map(|$v| $array), out);
            }
        }
    )+};
}
#[cfg(feature = "alloy-primitives")]
pub(crate) use impl_encodable_as_array;

impl_encodable_as_array!([const N: usize] [u8; N] => |v| v);

/// Writes fixed-size byte strings one after the other, gathered in a stack buffer that goes out
/// in one write when full: each write to a `Vec` pays a capacity check and a length update,
/// which a list of hashes written one write per hash spent much of its time on.
#[inline]
pub(crate) fn encode_arrays<'a, const N: usize, B: BufMut + ?Sized>(
    items: impl Iterator<Item = &'a [u8; N]>,
    out: &mut B,
) {
    // A one-byte string may be its own encoding; past 55 bytes the header is longer.
    let Ok(header @ 2..=55) = u8::try_from(N) else {
        items.for_each(|item| encode_array(item, out));
        return;
    };
    let mut buf = [0u8; 512];
    let mut used = 0;
    for item in items {
        if used + N + 1 > buf.len() {
            out.put_slice(buf.get(..used).unwrap_or_default());
            used = 0;
        }
        if let Some((head, payload)) = buf
            .get_mut(used..used + N + 1)
            .and_then(<[u8]>::split_first_mut)
        {
            *head = EMPTY_STRING_CODE + header;
            payload.copy_from_slice(item);
        }
        used += N + 1;
    }
    out.put_slice(buf.get(..used).unwrap_or_default());
}

/// Writes a fixed-size byte string. For the sizes of nonces, addresses, hashes and BLS keys,
/// header and payload go out in one write: as two, each with its capacity check and length
/// update, they took an eighth longer for a list of hashes.
#[inline]
pub(crate) fn encode_array<const N: usize, B: BufMut + ?Sized>(bytes: &[u8; N], out: &mut B) {
    macro_rules! one_write {
        ($($n:literal),+) => {
            match bytes.as_slice() {
                $(payload if N == $n => {
                    let mut item = [EMPTY_STRING_CODE + $n; $n + 1];
                    if let (Some(dst), Ok(src)) =
                        (item.last_chunk_mut::<$n>(), <&[u8; $n]>::try_from(payload))
                    {
                        *dst = *src;
                    }
                    out.put_slice(&item);
                })+
                payload => encode_bytes(payload, out),
            }
        };
    }
    one_write!(8, 20, 32, 48);
}

impl_encodable_as_bytes!(
    [] [u8],
    [] str,
    [] String,
    [] bytes::Bytes,
    [] bytes::BytesMut,
);

impl Encodable for bool {
    #[inline]
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        out.put_u8(if *self { 0x01 } else { EMPTY_STRING_CODE });
    }
    #[inline]
    fn length(&self) -> usize {
        1
    }
}

/// Writes an unsigned integer of up to 64 bits as its minimal big-endian string (zero is `0x80`).
macro_rules! uint_impl {
    ($($t:ty),+) => {$(
        impl Encodable for $t {
            #[inline]
            fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
                encode_u64(u64::from(*self), out);
            }
            #[inline]
            fn length(&self) -> usize {
                u64_length(u64::from(*self))
            }
        }
    )+};
}
uint_impl!(u8, u16, u32, u64);

#[inline]
fn encode_u64<B: BufMut + ?Sized>(v: u64, out: &mut B) {
    if v < u64::from(EMPTY_STRING_CODE) {
        out.put_u8(if v == 0 { EMPTY_STRING_CODE } else { v as u8 });
    } else {
        let len = be_len_u64(v);
        out.put_u8(EMPTY_STRING_CODE + len as u8);
        put_be(out, v, len);
    }
}

#[inline]
const fn u64_length(v: u64) -> usize {
    if v < EMPTY_STRING_CODE as u64 {
        1
    } else {
        1 + be_len_u64(v)
    }
}

impl Encodable for u128 {
    #[inline]
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        match u64::try_from(*self) {
            Ok(small) => encode_u64(small, out),
            Err(_) => {
                let high = (*self >> 64) as u64;
                let high_len = be_len_u64(high);
                out.put_u8(EMPTY_STRING_CODE + 8 + high_len as u8);
                put_be(out, high, high_len);
                out.put_u64(*self as u64);
            }
        }
    }
    #[inline]
    fn length(&self) -> usize {
        match u64::try_from(*self) {
            Ok(small) => u64_length(small),
            Err(_) => 1 + 8 + be_len_u64((*self >> 64) as u64),
        }
    }
}

impl Encodable for usize {
    #[inline]
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        (*self as u64).encode(out);
    }
    #[inline]
    fn length(&self) -> usize {
        (*self as u64).length()
    }
}

/// A list of `T`. Slices `[T]` have no impl (it would clash with the byte-string impl for
/// `[u8]`); encode them with [`encode_list`].
impl<T: Encodable> Encodable for Vec<T> {
    #[inline]
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        encode_list(self, out);
    }
    #[inline]
    fn length(&self) -> usize {
        list_length(self)
    }
}

/// Encodes through a pointer-like wrapper exactly as the value it points to.
macro_rules! deref_impl {
    ($([$($g:tt)*] $t:ty),+ $(,)?) => {$(
        impl<$($g)*> Encodable for $t {
            #[inline]
            fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
                (**self).encode(out);
            }
            #[inline]
            fn length(&self) -> usize {
                (**self).length()
            }
        }
    )+};
}
deref_impl!(
    ['a, T: Encodable + ?Sized] &'a T,
    ['a, T: Encodable + ?Sized] &'a mut T,
    [T: Encodable + ?Sized] Box<T>,
    [T: Encodable + ?Sized] Arc<T>,
    ['a, T: Encodable + ToOwned + ?Sized] Cow<'a, T>,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_encode_as_the_byte_strings_they_hold() {
        fn check<const N: usize>(fill: u8) {
            let array = [fill; N];
            let mut as_array = Vec::new();
            array.encode(&mut as_array);
            let mut as_slice = Vec::new();
            encode_bytes(&array, &mut as_slice);
            assert_eq!(as_array, as_slice, "N = {N}, fill = {fill:#x}");
            assert_eq!(array.length(), as_slice.len(), "N = {N}");
        }
        // The sizes written in one go, their neighbours, and the header boundaries.
        for fill in [0x00, 0x7f, 0x80, 0xff] {
            check::<0>(fill);
            check::<1>(fill);
            check::<2>(fill);
            check::<7>(fill);
            check::<8>(fill);
            check::<9>(fill);
            check::<20>(fill);
            check::<32>(fill);
            check::<33>(fill);
            check::<48>(fill);
            check::<55>(fill);
            check::<56>(fill);
            check::<256>(fill);
        }
        assert_eq!(
            encode_to_vec(&[0xab; 8]),
            [&[0x88][..], &[0xab; 8]].concat()
        );
    }

    #[test]
    fn integers() {
        assert_eq!(encode_to_vec(&0u64), [0x80]);
        assert_eq!(encode_to_vec(&1u8), [0x01]);
        assert_eq!(encode_to_vec(&0x7fu16), [0x7f]);
        assert_eq!(encode_to_vec(&0x80u32), [0x81, 0x80]);
        assert_eq!(encode_to_vec(&0x0400u64), [0x82, 0x04, 0x00]);
        assert_eq!(
            encode_to_vec(&u64::MAX),
            [0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(encode_to_vec(&(1u128 << 64)).len(), 10);
        assert_eq!(encode_to_vec(&true), [0x01]);
        assert_eq!(encode_to_vec(&false), [0x80]);
    }

    #[test]
    fn strings_and_lists() {
        assert_eq!(encode_to_vec("dog"), [0x83, b'd', b'o', b'g']);
        assert_eq!(encode_to_vec(&[0x00u8][..]), [0x00]);
        assert_eq!(encode_to_vec(&[0x80u8][..]), [0x81, 0x80]);
        assert_eq!(encode_to_vec(&Vec::<u8>::new()), [0xc0]);
        let cat_dog = alloc::vec!["cat", "dog"];
        assert_eq!(
            encode_to_vec(&cat_dog),
            [0xc8, 0x83, b'c', b'a', b't', 0x83, b'd', b'o', b'g']
        );
        let mut out = Vec::new();
        encode_iter(cat_dog.iter(), &mut out);
        assert_eq!(out, encode_to_vec(&cat_dog));
    }
}
