//! Snappy compression of message data (rlpx.md, "p2p v5"): the block format, no framing. The
//! decompressed length is read from the block's header and checked against the limit before
//! anything is allocated.

use bytes::Bytes;

use crate::ProtocolError;

/// Largest decompressed message accepted: 16 MiB, as go-ethereum (a frame's size field cannot
/// describe more either).
pub const MAX_DECOMPRESSED_SIZE: usize = 16 * 1024 * 1024;

/// Compresses `data` into a snappy block.
pub(crate) fn compress(data: &[u8]) -> Bytes {
    let mut out = vec![0; snap::raw::max_compress_len(data.len())];
    match snap::raw::Encoder::new().compress(data, &mut out) {
        Ok(len) => {
            out.truncate(len);
            out.into()
        }
        // Only input over 2^32 - 1 bytes fails, and messages stay under 2^24.
        Err(_) => Bytes::new(),
    }
}

/// Decompresses a snappy block of at most `limit` decompressed bytes.
pub(crate) fn decompress(data: &[u8], limit: usize) -> Result<Bytes, ProtocolError> {
    let len = snap::raw::decompress_len(data).map_err(|_| ProtocolError::Snappy)?;
    if len > limit {
        return Err(ProtocolError::DecompressedTooLarge(len));
    }
    let mut out = vec![0; len];
    snap::raw::Decoder::new()
        .decompress(data, &mut out)
        .map_err(|_| ProtocolError::Snappy)?;
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for data in [&b""[..], b"x", &[7; 100_000]] {
            assert_eq!(decompress(&compress(data), 1 << 20).unwrap(), data);
        }
    }

    #[test]
    fn length_checked_before_allocating() {
        // A block header claiming 1 GiB (varint 0x80 0x80 0x80 0x80 0x04), and no data.
        let claim = [0x80, 0x80, 0x80, 0x80, 0x04];
        assert_eq!(snap::raw::decompress_len(&claim).unwrap(), 1 << 30);
        assert_eq!(
            decompress(&claim, MAX_DECOMPRESSED_SIZE),
            Err(ProtocolError::DecompressedTooLarge(1 << 30))
        );
        // Just over the limit is refused too; the limit itself is not.
        let mut over = Vec::new();
        let mut n = MAX_DECOMPRESSED_SIZE + 1;
        while n >= 0x80 {
            over.push((n as u8) | 0x80);
            n >>= 7;
        }
        over.push(n as u8);
        assert_eq!(
            decompress(&over, MAX_DECOMPRESSED_SIZE),
            Err(ProtocolError::DecompressedTooLarge(
                MAX_DECOMPRESSED_SIZE + 1
            ))
        );
        let at_limit = compress(&vec![0; MAX_DECOMPRESSED_SIZE]);
        assert_eq!(
            decompress(&at_limit, MAX_DECOMPRESSED_SIZE).unwrap().len(),
            MAX_DECOMPRESSED_SIZE
        );
    }

    #[test]
    fn corrupt_blocks() {
        let good = compress(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        // Claims 10 bytes, carries fewer.
        assert_eq!(
            decompress(&good[..good.len() - 2], 1 << 20),
            Err(ProtocolError::Snappy)
        );
        assert_eq!(decompress(&[], 1 << 20), Err(ProtocolError::Snappy));
        // A copy reaching before the start of the output.
        assert_eq!(
            decompress(&[0x04, 0x05, 0x01], 1 << 20),
            Err(ProtocolError::Snappy)
        );
    }
}
