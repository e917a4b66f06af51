//! The handshake's cryptography for the "v4" identity scheme (discv5-theory.md, "Handshake
//! Steps" and "Identity-Specific Cryptography in the Handshake"), and AES-128-GCM for messages.
//!
//! Node A (the initiator, who answers WHOAREYOU) and node B (the recipient, who sent it) derive
//! the same [`SessionKeys`]: A from its ephemeral secret and B's static public key, B from its
//! static secret and A's ephemeral public key.

use aes_gcm::{
    Aes128Gcm, KeyInit,
    aead::{Aead, Payload},
};
use devp2p_enr::{NodeId, PublicKey, SigningKey};
use hkdf::Hkdf;
use k256::elliptic_curve::sec1::ToSec1Point;
use sha2::{Digest, Sha256};

use crate::wire::Nonce;

/// HKDF's info prefix, followed by both node ids (discv5-theory.md: `kdf-info`).
const KEY_AGREEMENT_TEXT: &[u8] = b"discovery v5 key agreement";

/// The prefix of the signed identity proof (discv5-theory.md: `id-signature-text`).
const ID_PROOF_TEXT: &[u8] = b"discovery v5 identity proof";

/// An AES-128-GCM session key.
pub type SessionKey = [u8; 16];

/// The two keys of a session: A (who sent the handshake) writes with `initiator_key` and reads
/// with `recipient_key`; B the other way round.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeys {
    /// Encrypts what the initiator sends, starting with the handshake packet's message.
    pub initiator_key: SessionKey,
    /// Encrypts what the recipient sends.
    pub recipient_key: SessionKey,
}

impl core::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

/// Why a handshake or message does not check out.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The bytes are not a point on secp256k1.
    #[error("invalid secp256k1 public key")]
    InvalidPublicKey,
    /// The id-signature is malformed or was not made by the claimed key over this challenge.
    #[error("id-signature does not verify")]
    InvalidSignature,
    /// AES-GCM authentication failed: wrong key, wrong nonce, or tampered bytes.
    #[error("message does not decrypt")]
    DecryptionFailed,
}

/// The public key of 33 compressed bytes (tag `02` or `03`), as the handshake packet's
/// `eph-pubkey` carries it.
pub fn public_key_from_bytes(bytes: &[u8; 33]) -> Result<PublicKey, CryptoError> {
    devp2p_enr::public_key_from_compressed(bytes).ok_or(CryptoError::InvalidPublicKey)
}

/// The 33-byte compressed form of `key` (`02`/`03` by the parity of y, then x).
pub fn public_key_to_bytes(key: &PublicKey) -> [u8; 33] {
    let point = key.to_sec1_point(true);
    <[u8; 33]>::try_from(point.as_bytes()).unwrap_or([0; 33])
}

/// `ecdh(pubkey, privkey)` of the "v4" scheme: the point `secret * public`, compressed to 33
/// bytes (`02` or `03` by the parity of y, then x) — not only x, as in RLPx.
pub fn ecdh(secret: &SigningKey, public: &PublicKey) -> [u8; 33] {
    backend::ecdh(secret, public)
}

/// The session keys: `HKDF-Expand(HKDF-Extract(challenge_data, ecdh(public, secret)),
/// "discovery v5 key agreement" || node_id_a || node_id_b)`, 32 bytes split in two.
///
/// A passes its ephemeral secret and B's static public key, B its static secret and A's
/// ephemeral public key; both pass A's id as `node_id_a`, B's as `node_id_b`, and the
/// WHOAREYOU's [challenge data](crate::wire::PacketHeader::challenge_data).
pub fn derive_keys(
    secret: &SigningKey,
    public: &PublicKey,
    node_id_a: &NodeId,
    node_id_b: &NodeId,
    challenge_data: &[u8],
) -> SessionKeys {
    keys_from_shared(&ecdh(secret, public), node_id_a, node_id_b, challenge_data)
}

/// A's side of the handshake in one step: its ephemeral public key (33 bytes, compressed) and
/// the session keys, from 32 random bytes (`None` in the 2^-128 case that they are not a
/// valid secret key) and B's static key.
pub(crate) fn initiator_keys(
    ephemeral_secret: &[u8; 32],
    remote: &PublicKey,
    node_id_a: &NodeId,
    node_id_b: &NodeId,
    challenge_data: &[u8],
) -> Option<([u8; 33], SessionKeys)> {
    let (ephemeral_pubkey, shared) = backend::ephemeral_ecdh(ephemeral_secret, remote)?;
    let keys = keys_from_shared(&shared, node_id_a, node_id_b, challenge_data);
    Some((ephemeral_pubkey, keys))
}

/// B's side of the handshake: the session keys from its static `key` and the handshake's
/// `ephemeral_pubkey`, which must be a point on the curve.
pub(crate) fn recipient_keys(
    key: &SigningKey,
    ephemeral_pubkey: &[u8; 33],
    node_id_a: &NodeId,
    node_id_b: &NodeId,
    challenge_data: &[u8],
) -> Result<SessionKeys, CryptoError> {
    let shared =
        backend::static_ecdh(key, ephemeral_pubkey).ok_or(CryptoError::InvalidPublicKey)?;
    Ok(keys_from_shared(
        &shared,
        node_id_a,
        node_id_b,
        challenge_data,
    ))
}

fn keys_from_shared(
    shared: &[u8; 33],
    node_id_a: &NodeId,
    node_id_b: &NodeId,
    challenge_data: &[u8],
) -> SessionKeys {
    let hkdf = Hkdf::<Sha256>::new(Some(challenge_data), shared);
    let mut key_data = [0u8; 32];
    // HKDF-SHA256 refuses only outputs over 255 * 32 bytes; 32 is always fine.
    let _ = hkdf.expand_multi_info(
        &[KEY_AGREEMENT_TEXT, &node_id_a.0, &node_id_b.0],
        &mut key_data,
    );
    let (initiator, recipient) = key_data.split_at(16);
    SessionKeys {
        initiator_key: initiator.try_into().unwrap_or_default(),
        recipient_key: recipient.try_into().unwrap_or_default(),
    }
}

/// `sha256("discovery v5 identity proof" || challenge-data || ephemeral-pubkey || node-id-B)`.
fn id_proof_digest(
    challenge_data: &[u8],
    ephemeral_pubkey: &[u8; 33],
    node_id_b: &NodeId,
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(ID_PROOF_TEXT);
    hasher.update(challenge_data);
    hasher.update(ephemeral_pubkey);
    hasher.update(node_id_b.0);
    hasher.finalize().into()
}

/// A's id-signature: its static `key` signs the identity proof over the WHOAREYOU's
/// `challenge_data`, A's `ephemeral_pubkey` and B's `node_id_b`, as `r || s` (ECDSA with
/// RFC 6979 nonces, so deterministic; low s).
pub fn id_sign(
    key: &SigningKey,
    challenge_data: &[u8],
    ephemeral_pubkey: &[u8; 33],
    node_id_b: &NodeId,
) -> [u8; 64] {
    backend::sign(
        key,
        &id_proof_digest(challenge_data, ephemeral_pubkey, node_id_b),
    )
}

/// B's check of A's id-signature: `key` is the static key of A's record, `node_id_b` B's own
/// id.
pub fn id_verify(
    key: &PublicKey,
    challenge_data: &[u8],
    ephemeral_pubkey: &[u8; 33],
    node_id_b: &NodeId,
    signature: &[u8; 64],
) -> Result<(), CryptoError> {
    let digest = id_proof_digest(challenge_data, ephemeral_pubkey, node_id_b);
    if devp2p_enr::verify_signature(key, &digest, signature) {
        Ok(())
    } else {
        Err(CryptoError::InvalidSignature)
    }
}

/// The pure-Rust backend (k256).
#[cfg(not(feature = "libsecp256k1"))]
mod backend {
    use devp2p_enr::{PublicKey, SigningKey};
    use ecdsa::hazmat::sign_prehashed_rfc6979;
    use k256::{Secp256k1, elliptic_curve::sec1::ToSec1Point};
    use sha2::Sha256;

    pub(super) fn ecdh(secret: &SigningKey, public: &PublicKey) -> [u8; 33] {
        let shared = public.to_projective() * secret.as_nonzero_scalar().as_ref();
        // A nonzero scalar times a point of the prime-order group is never the identity, so
        // the compressed form always has 33 bytes.
        <[u8; 33]>::try_from(shared.to_sec1_point(true).as_bytes()).unwrap_or([0; 33])
    }

    pub(super) fn ephemeral_ecdh(
        secret: &[u8; 32],
        remote: &PublicKey,
    ) -> Option<([u8; 33], [u8; 33])> {
        let secret = SigningKey::from_slice(secret).ok()?;
        let public = PublicKey::from(secret.verifying_key());
        Some((super::public_key_to_bytes(&public), ecdh(&secret, remote)))
    }

    pub(super) fn static_ecdh(key: &SigningKey, ephemeral_pubkey: &[u8; 33]) -> Option<[u8; 33]> {
        let ephemeral = super::public_key_from_bytes(ephemeral_pubkey).ok()?;
        Some(ecdh(key, &ephemeral))
    }

    pub(super) fn sign(key: &SigningKey, digest: &[u8; 32]) -> [u8; 64] {
        let (signature, _) =
            sign_prehashed_rfc6979::<Secp256k1, Sha256>(key.as_nonzero_scalar(), digest, &[]);
        signature.to_bytes().into()
    }
}

/// The libsecp256k1 backend: the same results (RFC 6979 nonces, low s), faster.
#[cfg(feature = "libsecp256k1")]
mod backend {
    use devp2p_enr::{PublicKey, SigningKey};
    use k256::elliptic_curve::sec1::ToSec1Point;
    use secp256k1::{Message, SECP256K1, SecretKey, ecdh::shared_secret_point};

    fn secret(key: &SigningKey) -> Option<SecretKey> {
        SecretKey::from_byte_array(key.to_bytes().into()).ok()
    }

    fn public(key: &PublicKey) -> Option<secp256k1::PublicKey> {
        // The uncompressed form: parsing it needs no square root, only a check on the curve.
        secp256k1::PublicKey::from_slice(key.to_sec1_point(false).as_bytes()).ok()
    }

    /// `secret * point`, compressed.
    fn multiply(point: &secp256k1::PublicKey, secret: &SecretKey) -> [u8; 33] {
        let xy = shared_secret_point(point, secret);
        let (x, y) = xy.split_at(32);
        let mut out = [0u8; 33];
        if let Some((tag, rest)) = out.split_first_mut() {
            *tag = 0x02 | (y.last().copied().unwrap_or(0) & 1);
            rest.copy_from_slice(x);
        }
        out
    }

    pub(super) fn ecdh(secret_key: &SigningKey, public_key: &PublicKey) -> [u8; 33] {
        // Both keys are valid already (k256 checked them), so the conversions succeed.
        match (secret(secret_key), public(public_key)) {
            (Some(scalar), Some(point)) => multiply(&point, &scalar),
            _ => [0; 33],
        }
    }

    pub(super) fn ephemeral_ecdh(
        secret: &[u8; 32],
        remote: &PublicKey,
    ) -> Option<([u8; 33], [u8; 33])> {
        let secret = SecretKey::from_byte_array(*secret).ok()?;
        let ephemeral = secp256k1::PublicKey::from_secret_key(SECP256K1, &secret).serialize();
        Some((ephemeral, multiply(&public(remote)?, &secret)))
    }

    pub(super) fn static_ecdh(key: &SigningKey, ephemeral_pubkey: &[u8; 33]) -> Option<[u8; 33]> {
        let point = secp256k1::PublicKey::from_byte_array_compressed(*ephemeral_pubkey).ok()?;
        Some(multiply(&point, &secret(key)?))
    }

    pub(super) fn sign(key: &SigningKey, digest: &[u8; 32]) -> [u8; 64] {
        secret(key).map_or([0; 64], |key| {
            SECP256K1
                .sign_ecdsa(Message::from_digest(*digest), &key)
                .serialize_compact()
        })
    }
}

/// `aesgcm_encrypt(key, nonce, plaintext, aad)`: the ciphertext with its 16-byte tag appended.
/// For a packet, `aad` is the header's [`message_ad`](crate::wire::PacketHeader::message_ad).
pub fn encrypt_message(key: &SessionKey, nonce: &Nonce, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    seal(&Aes128Gcm::new(&(*key).into()), nonce, plaintext, aad)
}

/// Checks and decrypts what [`encrypt_message`] made.
pub fn decrypt_message(
    key: &SessionKey,
    nonce: &Nonce,
    ciphertext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    open(&Aes128Gcm::new(&(*key).into()), nonce, ciphertext, aad)
}

/// A session key with its AES-GCM key schedule, expanded once for the session's life rather
/// than for every message (which took a tenth of the CPU time of a PING/PONG round trip in
/// memory).
pub(crate) struct SessionCipher(Aes128Gcm);

impl SessionCipher {
    pub(crate) fn new(key: &SessionKey) -> Self {
        Self(Aes128Gcm::new(&(*key).into()))
    }

    /// As [`encrypt_message`].
    pub(crate) fn encrypt(&self, nonce: &Nonce, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        seal(&self.0, nonce, plaintext, aad)
    }

    /// As [`decrypt_message`].
    pub(crate) fn decrypt(
        &self,
        nonce: &Nonce,
        ciphertext: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        open(&self.0, nonce, ciphertext, aad)
    }
}

fn seal(cipher: &Aes128Gcm, nonce: &Nonce, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    // AES-GCM refuses only plaintexts over 64 GiB.
    cipher
        .encrypt(
            &(*nonce).into(),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .unwrap_or_default()
}

fn open(
    cipher: &Aes128Gcm,
    nonce: &Nonce,
    ciphertext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    cipher
        .decrypt(
            &(*nonce).into(),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| CryptoError::DecryptionFailed)
}
