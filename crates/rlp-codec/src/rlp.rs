//! The zero-copy cursor [`Rlp`]: walks a sequence of items (a whole input, or a list's payload)
//! with strict canonical-form checks, borrowing strings and raw item bytes from the input.

use core::{fmt, marker::PhantomData};

use crate::{
    Decodable, DecodeError, DecodeErrorKind,
    header::{
        EMPTY_LIST_CODE, EMPTY_STRING_CODE, LONG_FORM_THRESHOLD, LONG_LIST_OFFSET,
        LONG_STRING_OFFSET,
    },
};

/// A cursor over a sequence of RLP items, borrowing from the input.
///
/// [`Rlp::new`] covers a whole input; [`Rlp::list`] hands out a cursor over one list's payload.
/// Every read checks the canonical form (minimal lengths, no `81 xx` for `xx < 0x80`, lengths
/// within the enclosing item), and errors carry the offset of the offending item counted from
/// the start of the input given to [`Rlp::new`], also inside nested lists. A read that fails
/// leaves the cursor where it was, so another type can be tried on the same item.
///
/// ```
/// use devp2p_rlp_codec::Rlp;
///
/// // ["cat", ["dog"]]
/// let input = [0xc9, 0x83, b'c', b'a', b't', 0xc4, 0x83, b'd', b'o', b'g'];
/// let mut top = Rlp::new(&input);
/// let mut outer = top.list()?;
/// assert_eq!(outer.bytes()?, b"cat");
/// let inner_raw = outer.clone().raw()?; // exact bytes of the next item, e.g. to hash them
/// assert_eq!(inner_raw, &input[5..]);
/// let mut inner = outer.list()?;
/// assert_eq!(inner.decode::<&str>()?, "dog");
/// inner.finish()?;
/// outer.finish()?;
/// top.finish()?;
/// # Ok::<(), devp2p_rlp_codec::DecodeError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Rlp<'a> {
    rest: &'a [u8],
    /// Address of byte 0 of the original input, so offsets are absolute even in nested lists.
    origin: usize,
    /// How many lists this cursor is inside: 0 for a whole input.
    depth: u16,
}

/// How deeply lists may nest: a list inside this many others is refused with
/// [`DecodeErrorKind::TooDeep`]. Ethereum's structures nest a handful of levels; the limit
/// keeps a recursive type (a tree that holds itself in a `Vec`) from running out of stack on an
/// input of lists nested thousands deep, and from reserving memory for each of them (each
/// level's `Vec` reserves up to its payload's size).
pub const MAX_DEPTH: u16 = 64;

/// One item read by [`Rlp::item`]: a string's payload or a cursor over a list's payload.
#[derive(Debug, Clone, Copy)]
pub enum Item<'a> {
    /// A string, borrowed from the input.
    Bytes(&'a [u8]),
    /// A list; walk it with the cursor.
    List(Rlp<'a>),
}

impl fmt::Debug for Rlp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rlp")
            .field("offset", &self.offset())
            .field("remaining", &self.rest.len())
            .finish()
    }
}

impl<'a> Rlp<'a> {
    /// A cursor over all of `input`.
    #[inline]
    pub fn new(input: &'a [u8]) -> Self {
        Self {
            rest: input,
            origin: input.as_ptr().addr(),
            depth: 0,
        }
    }

    /// Whether the sequence has no more items.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The bytes not yet read.
    #[inline]
    pub const fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// Offset of the next unread byte from the start of the input.
    #[inline]
    pub fn offset(&self) -> usize {
        self.offset_of(self.rest)
    }

    #[inline]
    fn offset_of(&self, at: &[u8]) -> usize {
        at.as_ptr().addr().wrapping_sub(self.origin)
    }

    /// An error of `kind` at the start of `at`. Takes no reference to the cursor, so that the
    /// cursor can live in registers in hot loops.
    #[inline]
    fn error(&self, kind: DecodeErrorKind, at: &[u8]) -> DecodeError {
        error_at(kind, self.origin, at)
    }

    /// Whether the next item is a list (`Some(true)`), a string (`Some(false)`), or there is none.
    #[inline]
    pub fn peek_is_list(&self) -> Option<bool> {
        self.rest.first().map(|b| *b >= EMPTY_LIST_CODE)
    }

    /// Reads the next item and returns whether it is a list, and its payload. With `STRICT`
    /// false, a single byte below 0x80 in a string header (`81 05`) is taken as a string.
    #[inline(always)]
    fn next_payload<const STRICT: bool>(&mut self) -> Result<(bool, &'a [u8]), DecodeError> {
        let start = self.rest;
        let Some((first, tail)) = start.split_first() else {
            return Err(self.error(DecodeErrorKind::MissingItem, start));
        };
        let b0 = *first;
        if b0 < EMPTY_STRING_CODE {
            self.rest = tail;
            Ok((false, core::slice::from_ref(first)))
        } else if b0 <= LONG_STRING_OFFSET {
            let Some((payload, after)) = tail.split_at_checked(usize::from(b0 - EMPTY_STRING_CODE))
            else {
                return Err(self.error(DecodeErrorKind::InputTooShort, start));
            };
            if STRICT
                && b0 == EMPTY_STRING_CODE + 1
                && payload.first().is_some_and(|b| *b < EMPTY_STRING_CODE)
            {
                return Err(self.error(DecodeErrorKind::NonCanonicalSingleByte, start));
            }
            self.rest = after;
            Ok((false, payload))
        } else if (EMPTY_LIST_CODE..=LONG_LIST_OFFSET).contains(&b0) {
            let Some((payload, after)) = tail.split_at_checked(usize::from(b0 - EMPTY_LIST_CODE))
            else {
                return Err(self.error(DecodeErrorKind::InputTooShort, start));
            };
            self.rest = after;
            Ok((true, payload))
        } else {
            // Long form. Payloads of 56..=65535 bytes (one or two length bytes, `b0 & 7` being
            // that count minus one for strings and lists alike) are read here, inline: out of
            // line, with a loop over the length bytes, they took a fifth of a walk's time. Any
            // other length, and every error, takes the general path.
            let short_len = match (b0 & 7, tail) {
                (0, [len, rest @ ..]) if usize::from(*len) >= LONG_FORM_THRESHOLD => {
                    Some((usize::from(*len), rest))
                }
                (1, [hi, lo, rest @ ..]) if *hi != 0 => {
                    Some((usize::from(u16::from_be_bytes([*hi, *lo])), rest))
                }
                _ => None,
            };
            let (list, payload, after) =
                match short_len.and_then(|(len, rest)| rest.split_at_checked(len)) {
                    Some((payload, after)) => (b0 > LONG_LIST_OFFSET, payload, after),
                    None => long_payload(b0, tail, start, self.origin)?,
                };
            self.rest = after;
            Ok((list, payload))
        }
    }

    /// Reads the next item, which must be a string, and returns its payload.
    #[inline(always)]
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.rest;
        match self.next_payload::<true>()? {
            (false, payload) => Ok(payload),
            (true, _) => {
                self.rest = start;
                Err(error_at(
                    DecodeErrorKind::UnexpectedList,
                    self.origin,
                    start,
                ))
            }
        }
    }

    /// Reads the next item, which must be a string of exactly `N` bytes, and borrows it.
    #[inline(always)]
    pub fn array<const N: usize>(&mut self) -> Result<&'a [u8; N], DecodeError> {
        // Fast path: an N-byte string has exactly one canonical header, known at compile time.
        let (header, header_len) = const { fixed_string_header(N) };
        if header_len > 0
            && let Some(tail) = self
                .rest
                .strip_prefix(header.get(..header_len).unwrap_or(&[]))
            && let Some((array, after)) = tail.split_first_chunk::<N>()
        {
            self.rest = after;
            return Ok(array);
        }
        let start = self.rest;
        let payload = self.bytes()?;
        let array = <&[u8; N]>::try_from(payload);
        if array.is_err() {
            self.rest = start;
        }
        array.map_err(|_| error_at(DecodeErrorKind::UnexpectedLength, self.origin, start))
    }

    /// Reads the next item as an unsigned integer of at most `N` bytes and returns its minimal
    /// big-endian bytes (empty for zero) and, when the input holds at least `N` bytes from
    /// where they start, those `N` bytes: the integer is then their first `len` bytes, read
    /// with one load and one shift instead of a loop whose length changes from one integer to
    /// the next (a mispredicted branch each).
    #[inline(always)]
    pub(crate) fn uint_window<const N: usize>(
        &mut self,
    ) -> Result<(&'a [u8], Option<[u8; N]>), DecodeError> {
        let start = self.rest;
        let be = self.uint_bytes(N)?;
        // Where `be` starts: it ends where the unread rest begins.
        let from = start.len().saturating_sub(self.rest.len() + be.len());
        let window = start
            .get(from..)
            .and_then(|s| s.first_chunk::<N>())
            .copied();
        Ok((be, window))
    }

    /// Reads the next item as an unsigned integer of at most `max_len` bytes and returns its
    /// minimal big-endian bytes (empty for zero). `max_len` must be below 56: the fast path
    /// takes the header byte for a short string's.
    #[inline(always)]
    pub(crate) fn uint_bytes(&mut self, max_len: usize) -> Result<&'a [u8], DecodeError> {
        debug_assert!(max_len < 56, "uint_bytes reads short strings only");
        let start = self.rest;
        // Fast path: a single byte 0x01..=0x7f, or a short string with a non-zero first byte.
        if let Some((first, tail)) = start.split_first() {
            let b0 = *first;
            if b0.wrapping_sub(1) < 0x7f {
                self.rest = tail;
                return Ok(core::slice::from_ref(first));
            }
            let len = usize::from(b0.wrapping_sub(EMPTY_STRING_CODE));
            if len <= max_len
                && let Some((be, after)) = tail.split_at_checked(len)
                && be
                    .first()
                    .is_none_or(|b| *b >= if len == 1 { EMPTY_STRING_CODE } else { 1 })
            {
                self.rest = after;
                return Ok(be);
            }
        }
        Err(uint_error(start, self.origin))
    }

    /// Reads the next string and converts its payload with `f`; an error from `f` is reported at
    /// the string's offset. This is how [`Decodable`] impls for string-like types report errors.
    #[inline(always)]
    pub fn map_bytes<T>(
        &mut self,
        f: impl FnOnce(&'a [u8]) -> Result<T, DecodeErrorKind>,
    ) -> Result<T, DecodeError> {
        let start = self.rest;
        let payload = self.bytes()?;
        let converted = f(payload);
        if converted.is_err() {
            self.rest = start;
        }
        converted.map_err(|kind| error_at(kind, self.origin, start))
    }

    /// Reads the next item, which must be a list, and returns a cursor over its payload.
    #[inline(always)]
    pub fn list(&mut self) -> Result<Self, DecodeError> {
        let start = self.rest;
        match self.next_payload::<true>()? {
            (true, payload) => self.enter(payload, start),
            (false, _) => {
                self.rest = start;
                Err(error_at(
                    DecodeErrorKind::UnexpectedString,
                    self.origin,
                    start,
                ))
            }
        }
    }

    /// Reads the next item of either kind.
    #[inline(always)]
    pub fn item(&mut self) -> Result<Item<'a>, DecodeError> {
        let start = self.rest;
        Ok(match self.next_payload::<true>()? {
            (false, payload) => Item::Bytes(payload),
            (true, payload) => Item::List(self.enter(payload, start)?),
        })
    }

    /// A cursor over the payload of the list that starts at `start`, one level deeper; past
    /// [`MAX_DEPTH`] the list is not read.
    #[inline(always)]
    fn enter(&mut self, payload: &'a [u8], start: &'a [u8]) -> Result<Self, DecodeError> {
        if self.depth >= MAX_DEPTH {
            self.rest = start;
            return Err(error_at(DecodeErrorKind::TooDeep, self.origin, start));
        }
        Ok(Self {
            rest: payload,
            origin: self.origin,
            depth: self.depth + 1,
        })
    }

    /// Reads the next item and returns its complete encoding (header and payload), for example
    /// to hash a transaction or header over its exact bytes. Only the header is checked; walk the
    /// returned bytes with a new cursor to check the payload.
    #[inline]
    pub fn raw(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.rest;
        self.next_payload::<true>()?;
        let used = start.len() - self.rest.len();
        Ok(start.get(..used).unwrap_or(start))
    }

    /// Decodes the next item as a `T`.
    #[inline]
    pub fn decode<T: Decodable<'a>>(&mut self) -> Result<T, DecodeError> {
        let start = self.rest;
        let decoded = T::decode(self);
        if decoded.is_err() {
            self.rest = start;
        }
        decoded
    }

    /// An iterator decoding each remaining item as a `T`. It stops after the first error.
    pub fn iter<T: Decodable<'a>>(self) -> DecodeIter<'a, T> {
        DecodeIter {
            rlp: self,
            _marker: PhantomData,
        }
    }

    /// Succeeds when every item has been read; otherwise reports the first unread one as
    /// [`DecodeErrorKind::ListTooLong`] (inside a list) or [`DecodeErrorKind::TrailingBytes`]
    /// (at the top level).
    #[inline]
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else if self.depth > 0 {
            Err(self.error(DecodeErrorKind::ListTooLong, self.rest))
        } else {
            Err(self.error(DecodeErrorKind::TrailingBytes, self.rest))
        }
    }

    /// Consumes the remaining items, checking that each is a complete item (its header only:
    /// a list's contents are not read); for "ignore extra list elements" (EIP-8 forward
    /// compatibility). As go-ethereum's `rlp:"tail"` reads them, a single byte below 0x80 in
    /// a string header (`81 05`), which no value is decoded from, is accepted here.
    pub fn skip_rest(&mut self) -> Result<(), DecodeError> {
        let start = self.rest;
        while !self.rest.is_empty() {
            if let Err(e) = self.next_payload::<false>() {
                self.rest = start;
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Why the integer at the start of `start` did not take the fast path of [`Rlp::uint_bytes`]:
/// every such input is an error (a long string is too wide for any integer type).
#[cold]
#[inline(never)]
fn uint_error(start: &[u8], origin: usize) -> DecodeError {
    let mut rlp = Rlp {
        rest: start,
        origin,
        depth: 0,
    };
    match rlp.bytes() {
        Err(err) => err,
        Ok([0, ..]) => error_at(DecodeErrorKind::LeadingZero, origin, start),
        Ok(_) => error_at(DecodeErrorKind::IntegerOverflow, origin, start),
    }
}

/// The canonical header of a string of `n` bytes, and its length; length 0 where `n` has no
/// single header (`n == 1`: a byte below 0x80 is its own encoding).
// Only evaluated in `const { }` blocks, where an out-of-bounds index fails the build.
#[allow(clippy::indexing_slicing)]
const fn fixed_string_header(n: usize) -> ([u8; 9], usize) {
    let mut header = [0u8; 9];
    if n == 1 {
        return (header, 0);
    }
    if n < LONG_FORM_THRESHOLD {
        header[0] = EMPTY_STRING_CODE + n as u8;
        return (header, 1);
    }
    let len_of_len = 8 - (n as u64).leading_zeros() as usize / 8;
    header[0] = LONG_STRING_OFFSET + len_of_len as u8;
    let mut i = 0;
    while i < len_of_len {
        header[1 + i] = (n >> (8 * (len_of_len - 1 - i))) as u8;
        i += 1;
    }
    (header, 1 + len_of_len)
}

#[cold]
#[inline(never)]
fn error_at(kind: DecodeErrorKind, origin: usize, at: &[u8]) -> DecodeError {
    DecodeError::new(kind, at.as_ptr().addr().wrapping_sub(origin))
}

/// Reads a long-form item (payload of 56 bytes or more): the prefix `b0` is followed by 1 to 8
/// bytes of length in `tail`. Returns whether it is a list, its payload, and the bytes after it.
/// The general path behind [`Rlp::next_payload`]'s inline one for one- and two-byte lengths:
/// kept out of line and free of references to the cursor, so the common forms stay small.
#[inline(never)]
fn long_payload<'a>(
    b0: u8,
    tail: &'a [u8],
    start: &'a [u8],
    origin: usize,
) -> Result<(bool, &'a [u8], &'a [u8]), DecodeError> {
    let list = b0 > LONG_LIST_OFFSET;
    let len_of_len = usize::from(
        b0 - if list {
            LONG_LIST_OFFSET
        } else {
            LONG_STRING_OFFSET
        },
    );
    let Some((len_bytes, tail)) = tail.split_at_checked(len_of_len) else {
        return Err(error_at(DecodeErrorKind::InputTooShort, origin, start));
    };
    if len_bytes.first() == Some(&0) {
        return Err(error_at(DecodeErrorKind::LengthLeadingZero, origin, start));
    }
    let len = len_bytes
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let Ok(len) = usize::try_from(len) else {
        return Err(error_at(DecodeErrorKind::LengthOverflow, origin, start));
    };
    if len < LONG_FORM_THRESHOLD {
        return Err(error_at(DecodeErrorKind::NonCanonicalLength, origin, start));
    }
    match tail.split_at_checked(len) {
        Some((payload, after)) => Ok((list, payload, after)),
        None => Err(error_at(DecodeErrorKind::InputTooShort, origin, start)),
    }
}

/// Iterator returned by [`Rlp::iter`]: decodes each remaining item as a `T`.
#[derive(Debug)]
pub struct DecodeIter<'a, T> {
    rlp: Rlp<'a>,
    _marker: PhantomData<fn() -> T>,
}

impl<'a, T: Decodable<'a>> Iterator for DecodeIter<'a, T> {
    type Item = Result<T, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rlp.is_empty() {
            return None;
        }
        let item = self.rlp.decode();
        if item.is_err() {
            // Stop here, keeping the slice inside the input so offsets stay meaningful.
            self.rlp.rest = self.rlp.rest.get(self.rlp.rest.len()..).unwrap_or_default();
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Header, decode_exact};
    use alloc::vec::Vec;

    #[test]
    fn fixed_headers_match_the_encoder() {
        for n in [0, 2, 32, 55, 56, 256, 70_000] {
            let (header, len) = fixed_string_header(n);
            let mut expected = Vec::new();
            Header::string(n).encode(&mut expected);
            assert_eq!(&header[..len], expected.as_slice(), "n = {n}");
        }
        assert_eq!(fixed_string_header(1).1, 0);
    }

    #[test]
    fn arrays_take_the_fast_path_and_still_report_errors() {
        let mut input = alloc::vec![0xf8, 66, 0xa0];
        input.extend([0x11; 32]);
        input.push(0x9f); // the second element is one byte short
        input.extend([0x22; 31]);
        input.push(0x00);
        let err = decode_exact::<Vec<[u8; 32]>>(&input).unwrap_err();
        assert_eq!(err, DecodeError::new(DecodeErrorKind::UnexpectedLength, 35));
        input[35] = 0xa0;
        let mut second = [0x22; 32];
        second[31] = 0;
        assert_eq!(
            decode_exact::<Vec<[u8; 32]>>(&input).unwrap(),
            [[0x11; 32], second]
        );
    }

    #[test]
    fn integers_read_the_same_at_the_end_of_the_input_and_before_more_bytes() {
        // Every width of u64 and u128, and every u8: read through the one-load window when
        // bytes follow, through the loop at the very end of the input.
        let mut values = alloc::vec![0u128];
        values.extend((0..128).map(|bit| 1u128 << bit));
        values.extend((1..=16).map(|bytes| u128::MAX >> (128 - 8 * bytes)));
        for value in values {
            let encoded = crate::encode_to_vec(&value);
            let mut padded = encoded.clone();
            padded.extend([0xff; 16]);
            let mut rlp = Rlp::new(&padded);
            assert_eq!(rlp.decode::<u128>(), Ok(value));
            assert_eq!(rlp.remaining(), [0xff; 16]);
            assert_eq!(decode_exact::<u128>(&encoded), Ok(value));
            if let Ok(small) = u64::try_from(value) {
                assert_eq!(Rlp::new(&padded).decode::<u64>(), Ok(small));
                assert_eq!(decode_exact::<u64>(&encoded), Ok(small));
            }
        }
        for byte in 0..=u8::MAX {
            let encoded = crate::encode_to_vec(&byte);
            let mut padded = encoded.clone();
            padded.push(0xff);
            assert_eq!(Rlp::new(&padded).decode::<u8>(), Ok(byte));
            assert_eq!(decode_exact::<u8>(&encoded), Ok(byte));
        }
    }

    #[test]
    fn long_forms_read_inline_and_in_general_agree_at_every_boundary() {
        // One length byte, two (both inline) and three (the general path), strings and lists.
        for len in [56, 255, 256, 0xffff, 0x1_0000] {
            for list in [false, true] {
                let mut input = Vec::new();
                Header {
                    list,
                    payload_length: len,
                }
                .encode(&mut input);
                let header_len = input.len();
                input.resize(header_len + len, 0x01);
                input.push(0x80); // one more item after it
                let mut rlp = Rlp::new(&input);
                let (is_list, payload) = rlp.next_payload::<true>().unwrap();
                assert_eq!((is_list, payload.len()), (list, len), "len {len}");
                assert_eq!(rlp.offset(), header_len + len, "len {len}");
                // One byte short: the payload overruns the input, reported at the header.
                let short = &input[..header_len + len - 1];
                let err = Rlp::new(short).next_payload::<true>().unwrap_err();
                assert_eq!(err, DecodeError::new(DecodeErrorKind::InputTooShort, 0));
            }
        }
        let kind = |input: &[u8]| Rlp::new(input).next_payload::<true>().unwrap_err().kind();
        let mut long = alloc::vec![0xb8, 55];
        long.extend([1u8; 55]);
        assert_eq!(kind(&long), DecodeErrorKind::NonCanonicalLength);
        let mut zero_led = alloc::vec![0xf9, 0x00, 0xff];
        zero_led.extend([0x80; 0xff]);
        assert_eq!(kind(&zero_led), DecodeErrorKind::LengthLeadingZero);
        assert_eq!(kind(&[0xb9, 0x01]), DecodeErrorKind::InputTooShort);
        assert_eq!(kind(&[0xf8]), DecodeErrorKind::InputTooShort);
    }

    #[test]
    fn integers_report_why_the_fast_path_refused() {
        let kind = |input: &[u8]| decode_exact::<u64>(input).unwrap_err().kind();
        assert_eq!(kind(&[0x00]), DecodeErrorKind::LeadingZero);
        assert_eq!(kind(&[0x81, 0x7f]), DecodeErrorKind::NonCanonicalSingleByte);
        assert_eq!(
            kind(&[0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
            DecodeErrorKind::IntegerOverflow
        );
        assert_eq!(kind(&[0x83, 1, 2]), DecodeErrorKind::InputTooShort);
        assert_eq!(kind(&[0xc1, 1]), DecodeErrorKind::UnexpectedList);
        let mut long = alloc::vec![0xb8, 60];
        long.extend([1u8; 60]);
        assert_eq!(kind(&long), DecodeErrorKind::IntegerOverflow);
        long[2] = 0;
        assert_eq!(kind(&long), DecodeErrorKind::LeadingZero);
    }

    #[test]
    fn a_failed_read_leaves_the_cursor_where_it_was() {
        // [[1], "ab", 2, <a list whose second item runs past it>]
        let input = [0xc1, 0x01, 0x82, b'a', b'b', 0x02, 0xc2, 0x01, 0x83];
        let mut rlp = Rlp::new(&input);
        let unmoved = |rlp: &Rlp<'_>, offset: usize| assert_eq!(rlp.offset(), offset);
        assert!(rlp.bytes().is_err());
        unmoved(&rlp, 0);
        assert!(rlp.array::<1>().is_err());
        unmoved(&rlp, 0);
        assert!(rlp.decode::<Vec<bool>>().is_ok());
        assert!(rlp.list().is_err());
        unmoved(&rlp, 2);
        assert!(rlp.array::<3>().is_err());
        unmoved(&rlp, 2);
        assert!(rlp.decode::<bool>().is_err());
        unmoved(&rlp, 2);
        assert_eq!(rlp.decode::<&str>(), Ok("ab"));
        assert!(rlp.decode::<bool>().is_err());
        unmoved(&rlp, 5);
        assert_eq!(rlp.decode::<u8>(), Ok(2));
        assert!(rlp.decode::<Vec<u64>>().is_err());
        unmoved(&rlp, 6);
        assert_eq!(rlp.raw(), Ok(&input[6..]));
        // A well-formed item, then a header running past the input.
        let mut rest = Rlp::new(&[0x01, 0x83]);
        assert!(rest.skip_rest().is_err());
        unmoved(&rest, 0);
    }
}
