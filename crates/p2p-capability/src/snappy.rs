//! Snappy compression of message data (rlpx.md, "p2p v5"): the block format, no framing. The
//! decompressed length is read from the block's header and checked against the limit before
//! anything is allocated.

use bytes::Bytes;

use crate::ProtocolError;

/// Largest decompressed message accepted or sent: 16 MiB less one byte, the largest a 24-bit
/// size describes, as go-ethereum (`maxUint24`), which refuses a message of exactly 16 MiB.
pub const MAX_DECOMPRESSED_SIZE: usize = (1 << 24) - 1;

/// Largest scratch buffer a [`Compressor`] keeps between messages; larger messages get a buffer
/// of their own, so a session does not hold on to megabytes after one big message.
const MAX_SCRATCH: usize = 1 << 20;

/// A snappy encoder with its hash table and an output buffer kept between messages.
pub(crate) struct Compressor {
    encoder: snap::raw::Encoder,
    scratch: Vec<u8>,
}

impl core::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Compressor").finish_non_exhaustive()
    }
}

impl Default for Compressor {
    fn default() -> Self {
        Self {
            encoder: snap::raw::Encoder::new(),
            scratch: Vec::new(),
        }
    }
}

impl Compressor {
    /// Compresses `data` into a snappy block.
    pub(crate) fn compress(&mut self, data: &[u8]) -> Bytes {
        let max = snap::raw::max_compress_len(data.len());
        if max > MAX_SCRATCH {
            let mut out = vec![0; max];
            let len = self.encoder.compress(data, &mut out).unwrap_or(0);
            out.truncate(len);
            return out.into();
        }
        if self.scratch.len() < max {
            self.scratch.resize(max, 0);
        }
        // Only input over 2^32 - 1 bytes fails, and messages stay under 2^24.
        let len = self.encoder.compress(data, &mut self.scratch).unwrap_or(0);
        Bytes::copy_from_slice(self.scratch.get(..len).unwrap_or_default())
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
            let compressed = Compressor::default().compress(data);
            assert_eq!(decompress(&compressed, 1 << 20).unwrap(), data);
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
        let at_limit = Compressor::default().compress(&vec![0; MAX_DECOMPRESSED_SIZE]);
        assert_eq!(
            decompress(&at_limit, MAX_DECOMPRESSED_SIZE).unwrap().len(),
            MAX_DECOMPRESSED_SIZE
        );
    }

    #[test]
    fn corrupt_blocks() {
        let good = Compressor::default().compress(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
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
