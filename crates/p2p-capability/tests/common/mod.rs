//! Helpers shared by the integration tests.

/// A pseudo-random byte string (xorshift), reproducible: bytes snappy cannot shrink.
pub(crate) fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}
