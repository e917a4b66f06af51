//! ECIES as rlpx.md specifies it: ECDH on secp256k1, NIST SP 800-56 concatenation KDF with
//! SHA-256, AES-128-CTR, and HMAC-SHA256 over `iv || ciphertext || shared-mac-data`.

use aes::Aes128;
use ctr::{
    Ctr128BE,
    cipher::{KeyIvInit, StreamCipher},
};
use hmac::{Hmac, KeyInit, Mac};
use k256::{
    PublicKey, SecretKey,
    ecdh::diffie_hellman,
    elliptic_curve::{Generate, sec1::ToSec1Point},
};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::EciesError;

/// Uncompressed public key (`04 || x || y`).
const PUBLIC_KEY_SIZE: usize = 65;
/// AES block and IV size.
const IV_SIZE: usize = 16;
/// HMAC-SHA256 tag size.
const MAC_SIZE: usize = 32;
/// Bytes ECIES adds to a message: ephemeral key, IV and tag.
pub const ECIES_OVERHEAD: usize = PUBLIC_KEY_SIZE + IV_SIZE + MAC_SIZE;

/// The x coordinate of `secret * public` (rlpx.md's `ecdh.agree`), cleared when dropped.
pub(crate) fn ecdh_x(secret: &SecretKey, public: &PublicKey) -> Zeroizing<[u8; 32]> {
    let shared = diffie_hellman(secret.to_nonzero_scalar(), public.as_affine());
    let mut x = Zeroizing::new([0u8; 32]);
    x.copy_from_slice(shared.raw_secret_bytes().as_slice());
    x
}

/// `kE || kM` from the shared secret: the concatenation KDF of NIST SP 800-56A with SHA-256 and
/// empty other-info. 32 bytes is one SHA-256 block of output, so the KDF is the single hash
/// `SHA256(counter 1 as u32 big-endian || shared)`; `kE` is its first 16 bytes and the MAC key is
/// `SHA256` of the last 16.
fn derive_keys(shared_x: &[u8; 32]) -> (Zeroizing<[u8; 16]>, Zeroizing<[u8; 32]>) {
    let k: Zeroizing<[u8; 32]> = Zeroizing::new(
        Sha256::new()
            .chain_update(1u32.to_be_bytes())
            .chain_update(shared_x)
            .finalize()
            .into(),
    );
    let (k_e, k_m) = k.split_at(16);
    let mut enc = Zeroizing::new([0u8; 16]);
    enc.copy_from_slice(k_e);
    (enc, Zeroizing::new(Sha256::digest(k_m).into()))
}

/// AES-128-CTR over `data` in place. Key and IV are arrays of the cipher's sizes, so the cipher is
/// built by the constructor that cannot fail.
fn aes_ctr(key: &[u8; 16], iv: &[u8; IV_SIZE], data: &mut [u8]) {
    Ctr128BE::<Aes128>::new(key.into(), iv.into()).apply_keystream(data);
}

/// HMAC-SHA256 keyed with `key`, having absorbed `iv || ciphertext || shared_mac_data`.
fn mac(
    key: &[u8; 32],
    iv: &[u8; IV_SIZE],
    ciphertext: &[u8],
    shared_mac_data: &[u8],
) -> Hmac<Sha256> {
    // HMAC's key is one hash block (64 bytes for SHA-256), a shorter key being zero-padded to it
    // (RFC 2104): padding the 32-byte key here lets the constructor that cannot fail take it.
    let mut block = Zeroizing::new([0u8; 64]);
    block.iter_mut().zip(key).for_each(|(b, k)| *b = *k);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&(*block).into());
    mac.update(iv);
    mac.update(ciphertext);
    mac.update(shared_mac_data);
    mac
}

/// Encrypts `message` to `recipient`: `R || iv || ciphertext || tag`, with the tag also covering
/// `shared_mac_data` (EIP-8's 2-byte size prefix, or nothing).
pub fn encrypt(
    rng: &mut impl CryptoRng,
    recipient: &PublicKey,
    message: &[u8],
    shared_mac_data: &[u8],
) -> Vec<u8> {
    let ephemeral = SecretKey::generate_from_rng(rng);
    let mut iv = [0u8; IV_SIZE];
    rng.fill_bytes(&mut iv);
    encrypt_with(&ephemeral, &iv, recipient, message, shared_mac_data)
}

/// [`encrypt`] with a given ephemeral key and IV (for reproducible tests).
pub fn encrypt_with(
    ephemeral: &SecretKey,
    iv: &[u8; IV_SIZE],
    recipient: &PublicKey,
    message: &[u8],
    shared_mac_data: &[u8],
) -> Vec<u8> {
    let (k_e, k_m) = derive_keys(&ecdh_x(ephemeral, recipient));
    let mut out = Vec::with_capacity(ECIES_OVERHEAD + message.len());
    out.extend_from_slice(ephemeral.public_key().to_sec1_point(false).as_bytes());
    out.extend_from_slice(iv);
    // Encrypted in a buffer of its own: no slice of `out` to look up, and so no branch that
    // could leave the message unencrypted.
    let mut ciphertext = message.to_vec();
    aes_ctr(&k_e, iv, &mut ciphertext);
    let tag = mac(&k_m, iv, &ciphertext, shared_mac_data).finalize();
    out.extend_from_slice(&ciphertext);
    out.extend_from_slice(tag.into_bytes().as_slice());
    out
}

/// Decrypts an ECIES message addressed to `secret`, checking its tag over `shared_mac_data`.
pub fn decrypt(
    secret: &SecretKey,
    data: &[u8],
    shared_mac_data: &[u8],
) -> Result<Vec<u8>, EciesError> {
    if data.len() < ECIES_OVERHEAD {
        return Err(EciesError::TooShort(data.len()));
    }
    let (ephemeral, rest) = data.split_at(PUBLIC_KEY_SIZE);
    let (iv, rest) = rest
        .split_first_chunk::<IV_SIZE>()
        .ok_or(EciesError::TooShort(data.len()))?;
    let (ciphertext, tag) = rest
        .split_last_chunk::<MAC_SIZE>()
        .ok_or(EciesError::TooShort(data.len()))?;
    if ephemeral.first() != Some(&0x04) {
        return Err(EciesError::InvalidPublicKey);
    }
    let ephemeral =
        PublicKey::from_sec1_bytes(ephemeral).map_err(|_| EciesError::InvalidPublicKey)?;
    let (k_e, k_m) = derive_keys(&ecdh_x(secret, &ephemeral));
    mac(&k_m, iv, ciphertext, shared_mac_data)
        .verify_slice(tag)
        .map_err(|_| EciesError::MacMismatch)?;
    let mut plain = ciphertext.to_vec();
    aes_ctr(&k_e, iv, &mut plain);
    Ok(plain)
}
