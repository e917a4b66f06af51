//! The keccak256 behind the frame MACs. The default is the portable `sha3` crate (pure Rust);
//! the `asm-keccak` feature swaps in `keccak-asm` (CRYPTOGAMS assembly, built with perl and a C
//! compiler, for x86-64 and aarch64 among others). `cargo xtask bench rlpx-framing` measures
//! them side by side with `tiny-keccak`.

#[cfg(feature = "asm-keccak")]
use keccak_asm::{Digest, Keccak256 as Inner};
#[cfg(not(feature = "asm-keccak"))]
use sha3::{Digest, Keccak256 as Inner};

/// A running keccak256.
#[derive(Clone)]
pub(crate) struct Keccak256(Inner);

impl Keccak256 {
    /// A hasher that has absorbed `parts`.
    pub(crate) fn with_prefix(parts: &[&[u8]]) -> Self {
        let mut hash = Inner::new();
        for part in parts {
            hash.update(part);
        }
        Self(hash)
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The first 16 bytes of the digest of what was absorbed so far.
    pub(crate) fn digest16(&self) -> [u8; 16] {
        let full = self.0.clone().finalize();
        let mut out = [0u8; 16];
        out.iter_mut().zip(full.iter()).for_each(|(o, d)| *o = *d);
        out
    }
}
