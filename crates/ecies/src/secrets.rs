//! Session secrets (rlpx.md, "Initial Handshake"): from both ephemeral keys, both nonces and the
//! two handshake messages as sent, the AES and MAC secrets and what the MAC states of
//! `rlpx-framing` start from.

use core::fmt;

use devp2p_enr::PeerId;
use k256::{PublicKey, SecretKey};
use sha3::{Digest, Keccak256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::crypto::ecdh_x;

/// The secrets of an established RLPx session, for one side.
///
/// Handed to the frame codec as they are; nothing else of the handshake is needed there. The
/// secrets (and the MAC seeds) are overwritten with zeros when dropped, clones included.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Secrets {
    /// The remote node's static public key.
    #[zeroize(skip)]
    pub remote_id: PeerId,
    /// `keccak256(ephemeral-key || shared-secret)`: the AES-256-CTR key of the frames.
    pub aes_secret: [u8; 32],
    /// `keccak256(ephemeral-key || aes-secret)`: the key of the MAC seeds.
    pub mac_secret: [u8; 32],
    /// The egress MAC's start: `(mac-secret ^ remote nonce) || message we sent`.
    pub egress_mac: MacInit,
    /// The ingress MAC's start: `(mac-secret ^ our nonce) || message we received`.
    pub ingress_mac: MacInit,
}

/// The bytes a running frame MAC has absorbed when the session starts: keccak256 over
/// `seed || message`, where `seed = mac-secret ^ nonce`.
///
/// Handed over as bytes rather than as a hasher so the frame codec can run the MAC on whichever
/// keccak implementation it was built with. Overwritten with zeros when dropped.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct MacInit {
    /// `mac-secret ^ nonce`.
    pub seed: [u8; 32],
    /// The handshake message, as it went over the wire.
    pub message: Vec<u8>,
}

impl fmt::Debug for MacInit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The seed is key material.
        f.debug_struct("MacInit")
            .field("message_len", &self.message.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("Secrets")
            .field("remote_id", &self.remote_id)
            .finish_non_exhaustive()
    }
}

/// Which side of the handshake we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sent auth, received ack.
    Initiator,
    /// Received auth, sent ack.
    Recipient,
}

/// What the secrets are derived from.
#[derive(Debug)]
pub struct SecretInputs<'a> {
    /// Our side.
    pub role: Role,
    /// Our ephemeral secret key.
    pub ephemeral_key: &'a SecretKey,
    /// The remote's ephemeral public key.
    pub remote_ephemeral: &'a PublicKey,
    /// The initiator's nonce (from auth).
    pub initiator_nonce: &'a [u8; 32],
    /// The recipient's nonce (from ack).
    pub recipient_nonce: &'a [u8; 32],
    /// The auth message as it went over the wire (with its EIP-8 size prefix).
    pub auth: &'a [u8],
    /// The ack message as it went over the wire.
    pub ack: &'a [u8],
    /// The remote node's static public key.
    pub remote_id: PeerId,
}

impl Secrets {
    /// Derives the session secrets as rlpx.md specifies.
    pub fn derive(inputs: &SecretInputs<'_>) -> Self {
        let ephemeral = ecdh_x(inputs.ephemeral_key, inputs.remote_ephemeral);
        let nonce_hash = Keccak256::new()
            .chain_update(inputs.recipient_nonce)
            .chain_update(inputs.initiator_nonce)
            .finalize();
        // keccak256(ephemeral-key || x), cleared when dropped.
        let derive = |x: &[u8]| -> Zeroizing<[u8; 32]> {
            Zeroizing::new(
                Keccak256::new()
                    .chain_update(ephemeral.as_slice())
                    .chain_update(x)
                    .finalize()
                    .into(),
            )
        };
        let shared = derive(&nonce_hash);
        let aes_secret = derive(shared.as_slice());
        let mac_secret = derive(aes_secret.as_slice());
        let mac = |nonce: &[u8; 32], message: &[u8]| {
            let mut seed = *mac_secret;
            seed.iter_mut().zip(nonce).for_each(|(s, n)| *s ^= n);
            MacInit {
                seed,
                message: message.to_vec(),
            }
        };
        let (egress_mac, ingress_mac) = match inputs.role {
            Role::Initiator => (
                mac(inputs.recipient_nonce, inputs.auth),
                mac(inputs.initiator_nonce, inputs.ack),
            ),
            Role::Recipient => (
                mac(inputs.initiator_nonce, inputs.ack),
                mac(inputs.recipient_nonce, inputs.auth),
            ),
        };
        Self {
            remote_id: inputs.remote_id,
            aes_secret: *aes_secret,
            mac_secret: *mac_secret,
            egress_mac,
            ingress_mac,
        }
    }
}
