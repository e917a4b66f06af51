//! Walking RLP by its headers only, for the counts and shape checks that come before anything
//! is decoded.

use devp2p_rlp_codec::{DecodeError, DecodeErrorKind, Rlp};

/// The list reached from `list` by taking, for each index of `path` in turn, that field of the
/// current list (which must itself be a list).
pub(crate) fn descend<'a>(mut list: Rlp<'a>, path: &[usize]) -> Result<Rlp<'a>, DecodeError> {
    for &field in path {
        for _ in 0..field {
            list.raw()?;
        }
        list = list.list()?;
    }
    Ok(list)
}

/// How many items `list` holds.
pub(crate) fn count(mut list: Rlp<'_>) -> Result<usize, DecodeError> {
    let mut count = 0;
    while !list.is_empty() {
        list.raw()?;
        count += 1;
    }
    Ok(count)
}

/// How many strings `list` holds, each of `size` bytes.
pub(crate) fn count_sized(mut list: Rlp<'_>, size: usize) -> Result<usize, DecodeError> {
    let mut count = 0;
    while !list.is_empty() {
        let offset = list.offset();
        if list.bytes()?.len() != size {
            return Err(DecodeError::new(DecodeErrorKind::UnexpectedLength, offset));
        }
        count += 1;
    }
    Ok(count)
}
