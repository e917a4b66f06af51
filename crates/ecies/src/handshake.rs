//! The RLPx handshake as a sans-IO state machine for both roles (rlpx.md "Initial Handshake",
//! EIP-8): the initiator sends auth and waits for ack; the recipient waits for auth and answers
//! with ack in the same format. Bytes go in with [`Handshake::handle_bytes`], messages to send come
//! out of [`Handshake::poll_transmit`], and once complete [`Handshake::take_secrets`] hands over
//! the session secrets and any bytes that followed the handshake message.

use core::ops::RangeInclusive;

use devp2p_enr::PeerId;
use ecdsa::hazmat::sign_prehashed_rfc6979;
use k256::{
    PublicKey, Secp256k1, SecretKey,
    ecdsa::{RecoveryId, Signature, VerifyingKey},
    elliptic_curve::Generate,
};
use rand_core::CryptoRng;
use sha2::Sha256;
use sha3::{Digest, Keccak256};

use crate::{
    HandshakeError,
    crypto::{ECIES_OVERHEAD, decrypt, ecdh_x, encrypt},
    messages::{Ack, Auth, Format, HANDSHAKE_VERSION, LEGACY_ACK_SIZE, LEGACY_AUTH_SIZE},
    secrets::{Role, SecretInputs, Secrets},
};

/// Largest handshake message accepted, size prefix excluded (rlpx.md leaves it open; go-ethereum
/// and this crate refuse more than 2048 bytes).
pub const MAX_HANDSHAKE_SIZE: usize = 2048;

/// Handshake settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Format of the auth we send as initiator. Default [`Format::Eip8`]; [`Format::Legacy`] is
    /// an explicit opt-in for old peers. As recipient we answer in the format of the auth.
    pub format: Format,
    /// Random zero padding added to EIP-8 messages, in bytes. Default `100..=200` (as
    /// go-ethereum): it also keeps EIP-8 messages above the 307 bytes some peers (ethereumjs)
    /// wait for before parsing. Bound: the message must stay within [`MAX_HANDSHAKE_SIZE`], so
    /// at most 1700.
    pub padding: RangeInclusive<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            format: Format::Eip8,
            padding: 100..=200,
        }
    }
}

/// A node's static key together with its public key and id, derived once: every handshake
/// needs them, and deriving a public key is a scalar multiplication.
#[derive(Clone)]
pub struct NodeKey {
    secret: SecretKey,
    public: PublicKey,
    id: PeerId,
}

impl NodeKey {
    /// Wraps `secret`, deriving its public key.
    pub fn new(secret: SecretKey) -> Self {
        let public = secret.public_key();
        Self {
            id: PeerId::from_public_key(&public),
            secret,
            public,
        }
    }

    /// The secret key.
    pub const fn secret(&self) -> &SecretKey {
        &self.secret
    }

    /// The public key.
    pub const fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The node's id (its public key without the SEC1 tag).
    pub const fn id(&self) -> &PeerId {
        &self.id
    }
}

impl From<SecretKey> for NodeKey {
    fn from(secret: SecretKey) -> Self {
        Self::new(secret)
    }
}

impl core::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print the secret.
        f.debug_struct("NodeKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Our keys and nonce for one handshake.
#[derive(Clone)]
pub struct HandshakeKeys {
    /// The node's static key.
    pub static_key: NodeKey,
    /// A fresh ephemeral key for this handshake.
    pub ephemeral_key: SecretKey,
    /// A fresh random nonce.
    pub nonce: [u8; 32],
}

impl HandshakeKeys {
    /// `static_key` with a new ephemeral key and nonce drawn from `rng`.
    pub fn generate(static_key: NodeKey, rng: &mut impl CryptoRng) -> Self {
        let mut nonce = [0u8; 32];
        rng.fill_bytes(&mut nonce);
        Self {
            static_key,
            ephemeral_key: SecretKey::generate_from_rng(rng),
            nonce,
        }
    }
}

impl core::fmt::Debug for HandshakeKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Neither the ephemeral key nor the nonce: the session secrets derive from them.
        f.debug_struct("HandshakeKeys")
            .field("static_key", &self.static_key)
            .finish_non_exhaustive()
    }
}

/// What the handshake waits for.
enum State {
    /// Recipient: the auth message.
    ExpectAuth,
    /// Initiator: the ack message; we sent `auth` to `remote`.
    ExpectAck {
        remote: PublicKey,
        auth: Vec<u8>,
        format: Format,
    },
    /// Done.
    Complete(Box<Secrets>),
    /// A previous input failed; the handshake cannot continue.
    Failed,
}

/// One side of an RLPx handshake.
///
/// Drive it with the bytes read from the peer and send what [`poll_transmit`](Self::poll_transmit)
/// returns, until [`is_complete`](Self::is_complete):
///
/// ```
/// use devp2p_ecies::{Config, Handshake, HandshakeKeys, NodeKey};
/// use k256::SecretKey;
/// # use rand_core::{TryCryptoRng, TryRng};
/// # struct Counter(u64);
/// # impl TryRng for Counter {
/// #     type Error = core::convert::Infallible;
/// #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(self.try_next_u64()? as u32) }
/// #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> { self.0 += 0x9e37_79b9; Ok(self.0) }
/// #     fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
/// #         for b in dst { *b = self.try_next_u64()? as u8; } Ok(())
/// #     }
/// # }
/// # impl TryCryptoRng for Counter {}
/// # let mut rng = Counter(1);
///
/// let alice_key = NodeKey::new(SecretKey::from_slice(&[1; 32]).unwrap());
/// let bob_key = NodeKey::new(SecretKey::from_slice(&[2; 32]).unwrap());
/// let bob_id = *bob_key.id();
///
/// let mut alice = Handshake::initiator(
///     Config::default(), HandshakeKeys::generate(alice_key, &mut rng), &bob_id, &mut rng,
/// )?;
/// let mut bob = Handshake::recipient(Config::default(), HandshakeKeys::generate(bob_key, &mut rng));
///
/// bob.handle_bytes(&alice.poll_transmit().unwrap(), &mut rng)?;
/// alice.handle_bytes(&bob.poll_transmit().unwrap(), &mut rng)?;
/// let (alice_secrets, _) = alice.take_secrets().unwrap();
/// let (bob_secrets, _) = bob.take_secrets().unwrap();
/// assert_eq!(alice_secrets.aes_secret, bob_secrets.aes_secret);
/// # Ok::<(), devp2p_ecies::HandshakeError>(())
/// ```
pub struct Handshake {
    config: Config,
    keys: HandshakeKeys,
    state: State,
    /// Received bytes not yet consumed.
    input: Vec<u8>,
    /// A message waiting to be sent.
    output: Option<Vec<u8>>,
    /// The awaited message's first bytes did not decrypt as pre-EIP-8 (see [`read_message`]).
    legacy_ruled_out: bool,
}

impl core::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // No key, nonce or secret: only where the handshake stands and with whom.
        let state = match self.state {
            State::ExpectAuth => "ExpectAuth",
            State::ExpectAck { .. } => "ExpectAck",
            State::Complete(_) => "Complete",
            State::Failed => "Failed",
        };
        f.debug_struct("Handshake")
            .field("config", &self.config)
            .field("static_key", &self.keys.static_key)
            .field("state", &state)
            .field("remote_id", &self.remote_id())
            .field("buffered", &self.input.len())
            .field("output_pending", &self.output.is_some())
            .finish_non_exhaustive()
    }
}

impl Handshake {
    /// Starts a handshake to `remote`: the auth message is ready in
    /// [`poll_transmit`](Self::poll_transmit).
    pub fn initiator(
        config: Config,
        keys: HandshakeKeys,
        remote: &PeerId,
        rng: &mut impl CryptoRng,
    ) -> Result<Self, HandshakeError> {
        let remote = remote
            .to_public_key()
            .ok_or(HandshakeError::InvalidPublicKey)?;
        let mut message = ecdh_x(keys.static_key.secret(), &remote);
        message
            .iter_mut()
            .zip(&keys.nonce)
            .for_each(|(m, n)| *m ^= n);
        // RFC 6979 signing straight from the scalar: a `SigningKey` would first derive the
        // ephemeral public key, which only the legacy format needs.
        let (signature, recovery) = sign_prehashed_rfc6979::<Secp256k1, Sha256>(
            &keys.ephemeral_key.to_nonzero_scalar(),
            message.as_slice(),
            &[],
        );
        let mut sig = [0u8; 65];
        let rsv = signature.to_bytes().into_iter().chain([recovery.to_byte()]);
        sig.iter_mut().zip(rsv).for_each(|(dst, src)| *dst = src);
        let auth = Auth {
            signature: sig,
            id: keys.static_key.id().0,
            nonce: keys.nonce,
            version: HANDSHAKE_VERSION,
        };
        let padding = pick(rng, &config.padding);
        let plain = match config.format {
            Format::Eip8 => auth.to_eip8(padding),
            Format::Legacy => {
                let ephemeral_id = PeerId::from_public_key(&keys.ephemeral_key.public_key());
                auth.to_legacy(&Keccak256::digest(ephemeral_id.0).into())
            }
        };
        let wire = seal(rng, config.format, &remote, &plain);
        let format = config.format;
        Ok(Self {
            config,
            keys,
            state: State::ExpectAck {
                remote,
                auth: wire.clone(),
                format,
            },
            input: Vec::new(),
            output: Some(wire),
            legacy_ruled_out: false,
        })
    }

    /// Waits for a handshake from a peer.
    pub fn recipient(config: Config, keys: HandshakeKeys) -> Self {
        Self {
            config,
            keys,
            state: State::ExpectAuth,
            input: Vec::new(),
            output: None,
            legacy_ruled_out: false,
        }
    }

    /// Feeds bytes received from the peer. Bytes after the handshake message, whether they came
    /// with it or are fed once the handshake is complete, are kept for
    /// [`take_secrets`](Self::take_secrets): they are the start of the frame stream. They are
    /// buffered as fed, so the caller bounds them by what it reads before taking the secrets.
    /// `rng` draws the ack's IV, ephemeral ECIES key and padding.
    ///
    /// [`HandshakeError::UnexpectedInput`] after a failure and after the secrets were taken.
    pub fn handle_bytes(
        &mut self,
        data: &[u8],
        rng: &mut impl CryptoRng,
    ) -> Result<(), HandshakeError> {
        match self.state {
            State::ExpectAuth | State::ExpectAck { .. } => {}
            State::Complete(_) => {
                self.input.extend_from_slice(data);
                return Ok(());
            }
            State::Failed => return Err(HandshakeError::UnexpectedInput),
        }
        self.input.extend_from_slice(data);
        match self.advance(rng) {
            Ok(()) => Ok(()),
            Err(err) => {
                self.state = State::Failed;
                Err(err)
            }
        }
    }

    fn advance(&mut self, rng: &mut impl CryptoRng) -> Result<(), HandshakeError> {
        match core::mem::replace(&mut self.state, State::Failed) {
            State::ExpectAuth => {
                let Some((format, len, plain)) = read_message(
                    &self.input,
                    self.keys.static_key.secret(),
                    LEGACY_AUTH_SIZE,
                    &mut self.legacy_ruled_out,
                )?
                else {
                    self.state = State::ExpectAuth;
                    return Ok(());
                };
                let auth_wire: Vec<u8> = self.input.drain(..len).collect();
                let (auth, ephemeral_hash) = Auth::from_plaintext(format, &plain)?;
                self.answer(format, &auth, ephemeral_hash.as_ref(), &auth_wire, rng)
            }
            State::ExpectAck {
                remote,
                auth,
                format: sent_format,
            } => {
                let Some((format, len, plain)) = read_message(
                    &self.input,
                    self.keys.static_key.secret(),
                    LEGACY_ACK_SIZE,
                    &mut self.legacy_ruled_out,
                )?
                else {
                    self.state = State::ExpectAck {
                        remote,
                        auth,
                        format: sent_format,
                    };
                    return Ok(());
                };
                let ack_wire: Vec<u8> = self.input.drain(..len).collect();
                let ack = Ack::from_plaintext(format, &plain)?;
                let remote_ephemeral = public_key(&ack.ephemeral)?;
                let secrets = Secrets::derive(&SecretInputs {
                    role: Role::Initiator,
                    ephemeral_key: &self.keys.ephemeral_key,
                    remote_ephemeral: &remote_ephemeral,
                    initiator_nonce: &self.keys.nonce,
                    recipient_nonce: &ack.nonce,
                    auth: &auth,
                    ack: &ack_wire,
                    remote_id: PeerId::from_public_key(&remote),
                });
                self.state = State::Complete(Box::new(secrets));
                Ok(())
            }
            other => {
                self.state = other;
                Ok(())
            }
        }
    }

    /// Recipient: checks the auth (with a pre-EIP-8 auth's `ephemeral_hash`), sends ack in the
    /// same format, derives the secrets.
    fn answer(
        &mut self,
        format: Format,
        auth: &Auth,
        ephemeral_hash: Option<&[u8; 32]>,
        auth_wire: &[u8],
        rng: &mut impl CryptoRng,
    ) -> Result<(), HandshakeError> {
        let remote = public_key(&auth.id)?;
        if &remote == self.keys.static_key.public_key() {
            return Err(HandshakeError::OwnKey);
        }
        let remote_ephemeral = ephemeral_key(self.keys.static_key.secret(), &remote, auth)?;
        check_ephemeral_hash(&remote_ephemeral, ephemeral_hash)?;

        let ack = Ack {
            ephemeral: PeerId::from_public_key(&self.keys.ephemeral_key.public_key()).0,
            nonce: self.keys.nonce,
            version: HANDSHAKE_VERSION,
        };
        let padding = pick(rng, &self.config.padding);
        let ack_wire = seal(rng, format, &remote, &ack.to_plaintext(format, padding));
        let secrets = Secrets::derive(&SecretInputs {
            role: Role::Recipient,
            ephemeral_key: &self.keys.ephemeral_key,
            remote_ephemeral: &remote_ephemeral,
            initiator_nonce: &auth.nonce,
            recipient_nonce: &self.keys.nonce,
            auth: auth_wire,
            ack: &ack_wire,
            remote_id: PeerId(auth.id),
        });
        self.output = Some(ack_wire);
        self.state = State::Complete(Box::new(secrets));
        Ok(())
    }

    /// The next message to send to the peer.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.output.take()
    }

    /// Whether the handshake has completed (a recipient still has its ack to send).
    pub const fn is_complete(&self) -> bool {
        matches!(self.state, State::Complete(_))
    }

    /// The remote node's static key, once known.
    pub fn remote_id(&self) -> Option<PeerId> {
        match &self.state {
            State::ExpectAck { remote, .. } => Some(PeerId::from_public_key(remote)),
            State::Complete(secrets) => Some(secrets.remote_id),
            State::ExpectAuth | State::Failed => None,
        }
    }

    /// Takes the session secrets and the bytes received after the handshake message (the start
    /// of the first frame) once the handshake is complete and its last message was taken with
    /// [`poll_transmit`](Self::poll_transmit). `None` before that, and after they were taken.
    pub fn take_secrets(&mut self) -> Option<(Secrets, Vec<u8>)> {
        if !self.is_complete() || self.output.is_some() {
            return None;
        }
        match core::mem::replace(&mut self.state, State::Failed) {
            State::Complete(secrets) => Some((*secrets, core::mem::take(&mut self.input))),
            other => {
                self.state = other;
                None
            }
        }
    }
}

/// A random length from `range`, clamped so a message stays within [`MAX_HANDSHAKE_SIZE`].
fn pick(rng: &mut impl CryptoRng, range: &RangeInclusive<usize>) -> usize {
    let (low, high) = (*range.start(), (*range.end()).min(1700));
    if high <= low {
        return low.min(1700);
    }
    low + (rng.next_u64() % (high - low + 1) as u64) as usize
}

/// Encrypts a handshake plaintext for the wire: EIP-8 with its size prefix as MAC data, legacy
/// without.
fn seal(rng: &mut impl CryptoRng, format: Format, remote: &PublicKey, plain: &[u8]) -> Vec<u8> {
    match format {
        Format::Legacy => encrypt(rng, remote, plain, &[]),
        Format::Eip8 => {
            let size = ((plain.len() + ECIES_OVERHEAD) as u16).to_be_bytes();
            let mut wire = size.to_vec();
            wire.extend(encrypt(rng, remote, plain, &size));
            wire
        }
    }
}

/// The handshake message at the start of `input`, decrypted: its format, its length on the wire
/// and its plaintext; `None` while more bytes are needed. A message starting with `04` may be
/// legacy (an ECIES message starts with its uncompressed ephemeral key): it is tried as legacy
/// once `legacy_plain` bytes of plaintext can be here, and read as EIP-8 if that fails. The
/// attempt costs an ECDH, so it is made once: its failure sets `legacy_ruled_out`, which the
/// caller passes back in with the same input and more bytes after it.
fn read_message(
    input: &[u8],
    key: &SecretKey,
    legacy_plain: usize,
    legacy_ruled_out: &mut bool,
) -> Result<Option<(Format, usize, Vec<u8>)>, HandshakeError> {
    let legacy_size = legacy_plain + ECIES_OVERHEAD;
    let Some(&[high, low]) = input.first_chunk::<2>() else {
        return Ok(None);
    };
    if high == 0x04 && !*legacy_ruled_out {
        let Some(candidate) = input.get(..legacy_size) else {
            return Ok(None);
        };
        #[cfg(test)]
        tests::LEGACY_ATTEMPTS.with(|n| n.set(n.get().saturating_add(1)));
        match decrypt(key, candidate, &[]) {
            Ok(plain) => return Ok(Some((Format::Legacy, legacy_size, plain))),
            Err(_) => *legacy_ruled_out = true,
        }
    }
    let size = usize::from(u16::from_be_bytes([high, low]));
    if size > MAX_HANDSHAKE_SIZE {
        return Err(HandshakeError::TooLarge(size));
    }
    let Some(body) = input.get(2..2 + size) else {
        return Ok(None);
    };
    Ok(Some((
        Format::Eip8,
        2 + size,
        decrypt(key, body, &[high, low])?,
    )))
}

fn public_key(xy: &[u8; 64]) -> Result<PublicKey, HandshakeError> {
    PeerId(*xy)
        .to_public_key()
        .ok_or(HandshakeError::InvalidPublicKey)
}

/// The ephemeral public key that made `signature` (`r || s || v`) over `message`.
fn recover(message: &[u8; 32], signature: &[u8; 65]) -> Result<PublicKey, HandshakeError> {
    let (rs, v) = signature
        .split_first_chunk::<64>()
        .ok_or(HandshakeError::InvalidSignature)?;
    let signature = Signature::from_slice(rs).map_err(|_| HandshakeError::InvalidSignature)?;
    let recovery = v
        .first()
        .and_then(|v| RecoveryId::from_byte(*v))
        .ok_or(HandshakeError::InvalidSignature)?;
    let key = VerifyingKey::recover_from_prehash(message, &signature, recovery)
        .map_err(|_| HandshakeError::InvalidSignature)?;
    Ok(PublicKey::from(&key))
}

/// The initiator's ephemeral public key, recovered by the recipient holding `key` from the
/// signature of `auth`, sent by `remote`.
fn ephemeral_key(
    key: &SecretKey,
    remote: &PublicKey,
    auth: &Auth,
) -> Result<PublicKey, HandshakeError> {
    let mut message = ecdh_x(key, remote);
    message
        .iter_mut()
        .zip(&auth.nonce)
        .for_each(|(m, n)| *m ^= n);
    recover(&message, &auth.signature)
}

/// A pre-EIP-8 auth carries `keccak256(ephemeral-pubk)` next to the signature: the ephemeral key
/// the signature recovers to must hash to it (rlpx.md). EIP-8 auths carry no hash (`None`).
fn check_ephemeral_hash(
    ephemeral: &PublicKey,
    hash: Option<&[u8; 32]>,
) -> Result<(), HandshakeError> {
    match hash {
        Some(hash)
            if Keccak256::digest(PeerId::from_public_key(ephemeral).0).as_slice() != hash =>
        {
            Err(HandshakeError::EphemeralKeyHash)
        }
        _ => Ok(()),
    }
}

/// Decrypts and parses an auth message addressed to `key`: the format it used and its body. For
/// a pre-EIP-8 auth this also recovers the initiator's ephemeral key to check the hash of it the
/// message carries ([`HandshakeError::EphemeralKeyHash`]).
pub fn read_auth(key: &SecretKey, wire: &[u8]) -> Result<(Format, Auth), HandshakeError> {
    let (format, _, plain) =
        read_message(wire, key, LEGACY_AUTH_SIZE, &mut false)?.ok_or(HandshakeError::Truncated)?;
    let (auth, ephemeral_hash) = Auth::from_plaintext(format, &plain)?;
    if let Some(hash) = ephemeral_hash {
        let ephemeral = ephemeral_key(key, &public_key(&auth.id)?, &auth)?;
        check_ephemeral_hash(&ephemeral, Some(&hash))?;
    }
    Ok((format, auth))
}

/// Decrypts and parses an ack message addressed to `key`: the format it used and its body.
pub fn read_ack(key: &SecretKey, wire: &[u8]) -> Result<(Format, Ack), HandshakeError> {
    let (format, _, plain) =
        read_message(wire, key, LEGACY_ACK_SIZE, &mut false)?.ok_or(HandshakeError::Truncated)?;
    Ok((format, Ack::from_plaintext(format, &plain)?))
}

/// The initiator's ephemeral public key, recovered from an auth message's signature by the
/// recipient holding `key`.
pub fn auth_ephemeral_key(key: &SecretKey, auth: &Auth) -> Result<PublicKey, HandshakeError> {
    ephemeral_key(key, &public_key(&auth.id)?, auth)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use core::cell::Cell;

    use rand_core::UnwrapErr;

    use super::*;

    std::thread_local! {
        /// How often [`read_message`] tried the pre-EIP-8 format on this thread.
        pub(super) static LEGACY_ATTEMPTS: Cell<usize> = const { Cell::new(0) };
    }

    /// The operating system's randomness (nothing here depends on the values drawn).
    fn rng() -> UnwrapErr<getrandom::SysRng> {
        UnwrapErr(getrandom::SysRng)
    }

    fn node_key(byte: u8) -> NodeKey {
        NodeKey::new(SecretKey::from_slice(&[byte; 32]).unwrap())
    }

    /// An EIP-8 auth whose size prefix is `04 ff` starts like a pre-EIP-8 one (an uncompressed
    /// point). Fed one byte at a time, the legacy decryption is tried once, when its 307 bytes
    /// are in, not again for each of the ~970 bytes after them.
    #[test]
    fn legacy_format_is_tried_once_per_message() {
        let mut rng = rng();
        let bob_key = node_key(2);
        let bob_id = *bob_key.id();
        let body = Auth {
            signature: [0; 65],
            id: [0; 64],
            nonce: [0; 32],
            version: HANDSHAKE_VERSION,
        }
        .to_eip8(0)
        .len();
        let padding = 0x04ff - ECIES_OVERHEAD - body;
        let config = Config {
            format: Format::Eip8,
            padding: padding..=padding,
        };
        let mut alice = Handshake::initiator(
            config,
            HandshakeKeys::generate(node_key(1), &mut rng),
            &bob_id,
            &mut rng,
        )
        .unwrap();
        let auth = alice.poll_transmit().unwrap();
        assert_eq!(auth[..2], [0x04, 0xff]);
        assert_eq!(auth.len(), 2 + 0x04ff);

        let mut bob = Handshake::recipient(
            Config::default(),
            HandshakeKeys::generate(bob_key, &mut rng),
        );
        LEGACY_ATTEMPTS.set(0);
        let legacy_size = LEGACY_AUTH_SIZE + ECIES_OVERHEAD;
        for (i, b) in auth.iter().enumerate() {
            bob.handle_bytes(&[*b], &mut rng).unwrap();
            let expected = usize::from(i + 1 >= legacy_size);
            assert_eq!(LEGACY_ATTEMPTS.get(), expected, "after {} bytes", i + 1);
        }
        assert!(bob.is_complete());
    }

    /// Neither Debug shows the nonce or the ephemeral key.
    #[test]
    fn debug_shows_no_key_material() {
        let mut rng = rng();
        let mut keys = HandshakeKeys::generate(node_key(1), &mut rng);
        keys.nonce = [0x5a; 32];
        let ephemeral = keys.ephemeral_key.to_bytes();
        let handshake =
            Handshake::initiator(Config::default(), keys.clone(), node_key(2).id(), &mut rng)
                .unwrap();
        for shown in [format!("{keys:?}"), format!("{handshake:?}")] {
            assert!(!shown.contains("nonce"), "{shown}");
            assert!(!shown.contains("90, 90"), "{shown}");
            assert!(!shown.contains("5a5a"), "{shown}");
            assert!(!shown.contains("ephemeral"), "{shown}");
            assert!(
                !shown.to_lowercase().contains(&hex_of(&ephemeral[..8])),
                "{shown}"
            );
        }
    }

    fn hex_of(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
