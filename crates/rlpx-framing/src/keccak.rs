//! The keccak256 behind the frame MACs. The default is `tiny-keccak`, the fastest portable (pure
//! Rust) implementation measured here, by a small margin over `sha3`; the `sha3-keccak` feature
//! selects `sha3`, and `asm-keccak` selects `keccak-asm` (CRYPTOGAMS assembly, built with perl and
//! a C compiler; it takes precedence when both features are on). `cargo bench -p
//! devp2p-rlpx-framing` measures all three side by side.

/// `keccak-asm` and `sha3` implement `Digest` (of different `digest` generations) with the same
/// methods.
#[cfg(any(feature = "sha3-keccak", feature = "asm-keccak"))]
mod imp {
    #[cfg(feature = "asm-keccak")]
    use keccak_asm::{Digest, Keccak256};
    #[cfg(all(feature = "sha3-keccak", not(feature = "asm-keccak")))]
    use sha3::{Digest, Keccak256};

    #[derive(Clone)]
    pub(super) struct Inner(Keccak256);

    impl Inner {
        pub(super) fn new() -> Self {
            Self(Keccak256::new())
        }
        pub(super) fn update(&mut self, data: &[u8]) {
            self.0.update(data);
        }
        pub(super) fn finalize(self) -> [u8; 32] {
            self.0.finalize().into()
        }
    }
}

#[cfg(not(any(feature = "sha3-keccak", feature = "asm-keccak")))]
mod imp {
    use tiny_keccak::{Hasher, Keccak};

    #[derive(Clone)]
    pub(super) struct Inner(Keccak);

    impl Inner {
        pub(super) fn new() -> Self {
            Self(Keccak::v256())
        }
        pub(super) fn update(&mut self, data: &[u8]) {
            self.0.update(data);
        }
        pub(super) fn finalize(self) -> [u8; 32] {
            let mut out = [0u8; 32];
            self.0.finalize(&mut out);
            out
        }
    }
}

/// A running keccak256.
#[derive(Clone)]
pub(crate) struct Keccak256(imp::Inner);

impl Keccak256 {
    /// A hasher that has absorbed `parts`.
    pub(crate) fn with_prefix(parts: &[&[u8]]) -> Self {
        let mut hash = imp::Inner::new();
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

#[cfg(test)]
mod tests {
    use super::Keccak256;

    #[test]
    fn known_digest() {
        // keccak256("") = c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470.
        let empty = Keccak256::with_prefix(&[]);
        assert_eq!(
            empty.digest16(),
            [
                0xc5, 0xd2, 0x46, 0x01, 0x86, 0xf7, 0x23, 0x3c, 0x92, 0x7e, 0x7d, 0xb2, 0xdc, 0xc7,
                0x03, 0xc0
            ]
        );
        let mut split = Keccak256::with_prefix(&[b"ab"]);
        split.update(b"c");
        assert_eq!(
            split.digest16(),
            Keccak256::with_prefix(&[b"a", b"bc"]).digest16()
        );
    }
}
