//! The RLPx frame codec (rlpx.md, "Framing"), sans-IO: frames are encrypted with AES-256-CTR
//! under the aes-secret (zero IV, one keystream per direction) and authenticated with the
//! running keccak256 MAC states, whose seeds are single AES-256 blocks under the mac-secret.
//!
//! ```text
//! frame = header-ciphertext(16) || header-mac(16) || frame-ciphertext || frame-mac(16)
//! header = frame-size(3) || header-data (RLP [0, 0] = c2 80 80) || zero padding to 16
//! ```

use crate::{FrameError, keccak::Keccak256};
use aes::{
    Aes256,
    cipher::{BlockCipherEncrypt, KeyInit},
};
use bytes::{BufMut, BytesMut};
use ctr::{
    Ctr128BE,
    cipher::{KeyIvInit, StreamCipher},
};
use devp2p_ecies::Secrets;
use subtle::ConstantTimeEq;

/// Largest frame body: the header's size field has 24 bits.
pub const MAX_FRAME_SIZE: usize = (1 << 24) - 1;
/// Header block and MAC size.
const BLOCK: usize = 16;
/// `header-data`: RLP of `[capability-id, context-id]` = `[0, 0]`, the only value in use.
const HEADER_DATA: [u8; 3] = [0xc2, 0x80, 0x80];
/// The most a frame's header makes us reserve ahead of its body's bytes.
const RESERVE_STEP: usize = 64 * 1024;

/// One running MAC: the keccak256 state and the AES-256 key of its seeds.
#[derive(Clone)]
struct MacState {
    hash: Keccak256,
    cipher: Aes256,
}

impl MacState {
    /// The first 16 bytes of the current digest.
    fn digest(&self) -> [u8; BLOCK] {
        self.hash.digest16()
    }

    /// `aes(mac-secret, block)`: one AES-256 block, no chaining.
    fn encrypt_block(&self, block: [u8; BLOCK]) -> [u8; BLOCK] {
        let mut block = block.into();
        self.cipher.encrypt_block(&mut block);
        block.into()
    }

    /// `header-mac-seed = aes(mac-secret, digest) ^ header-ciphertext`; returns the header MAC.
    fn header_mac(&mut self, header_ciphertext: &[u8]) -> [u8; BLOCK] {
        let mut seed = self.encrypt_block(self.digest());
        seed.iter_mut()
            .zip(header_ciphertext)
            .for_each(|(s, c)| *s ^= c);
        self.hash.update(&seed);
        self.digest()
    }

    /// Absorbs the frame ciphertext, then `frame-mac-seed = aes(mac-secret, digest) ^ digest`;
    /// returns the frame MAC.
    fn frame_mac(&mut self, frame_ciphertext: &[u8]) -> [u8; BLOCK] {
        self.hash.update(frame_ciphertext);
        let digest = self.digest();
        let mut seed = self.encrypt_block(digest);
        seed.iter_mut().zip(digest).for_each(|(s, d)| *s ^= d);
        self.hash.update(&seed);
        self.digest()
    }
}

/// What the decoder waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ReadState {
    /// The 32 bytes of header and header MAC.
    ExpectHeader,
    /// The body of a frame of `size` bytes (padded to 16, then its MAC).
    ExpectBody { size: usize },
    /// A frame failed: the MAC states have taken in bytes that did not check out, so nothing
    /// after it can be read. Every later call returns this error.
    Failed(FrameError),
}

/// Encrypts and decrypts the frames of one session.
///
/// [`encode`](Self::encode) appends a frame to an output buffer; [`decode`](Self::decode) takes
/// one frame off the front of an input buffer once it is complete, checking each MAC before
/// decrypting what it covers (the header, then the body). Decoding reads the header first and refuses a frame over the size limit
/// before its body is buffered.
pub struct FrameCodec {
    egress: Ctr128BE<Aes256>,
    ingress: Ctr128BE<Aes256>,
    egress_mac: MacState,
    ingress_mac: MacState,
    max_frame_size: usize,
    read: ReadState,
}

impl core::fmt::Debug for FrameCodec {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // No key material.
        f.debug_struct("FrameCodec")
            .field("max_frame_size", &self.max_frame_size)
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

impl FrameCodec {
    /// A codec for the session `secrets` describe, accepting frames of up to `max_frame_size`
    /// bytes (at most [`MAX_FRAME_SIZE`]).
    pub fn new(secrets: &Secrets, max_frame_size: usize) -> Self {
        let iv = [0u8; BLOCK];
        let ctr = || Ctr128BE::<Aes256>::new(&secrets.aes_secret.into(), &iv.into());
        let mac_cipher = Aes256::new(&secrets.mac_secret.into());
        Self {
            egress: ctr(),
            ingress: ctr(),
            egress_mac: MacState {
                hash: Keccak256::with_prefix(&[
                    &secrets.egress_mac.seed,
                    &secrets.egress_mac.message,
                ]),
                cipher: mac_cipher.clone(),
            },
            ingress_mac: MacState {
                hash: Keccak256::with_prefix(&[
                    &secrets.ingress_mac.seed,
                    &secrets.ingress_mac.message,
                ]),
                cipher: mac_cipher,
            },
            max_frame_size: max_frame_size.min(MAX_FRAME_SIZE),
            read: ReadState::ExpectHeader,
        }
    }

    /// Appends the frame whose body is `head || data` (a message id's RLP and the message data)
    /// to `out`, encrypting in place: the data is copied once, into `out`.
    pub fn encode(
        &mut self,
        head: &[u8],
        data: &[u8],
        out: &mut BytesMut,
    ) -> Result<(), FrameError> {
        let len = head.len() + data.len();
        if len > MAX_FRAME_SIZE {
            return Err(FrameError::TooLarge(len));
        }
        let padded = len.next_multiple_of(BLOCK);
        out.reserve(2 * BLOCK + padded + BLOCK);

        let mut header = [0u8; BLOCK];
        let size = (len as u32).to_be_bytes();
        header
            .iter_mut()
            .zip(size.iter().skip(1).chain(&HEADER_DATA))
            .for_each(|(h, s)| *h = *s);
        self.egress.apply_keystream(&mut header);
        let header_mac = self.egress_mac.header_mac(&header);
        out.put_slice(&header);
        out.put_slice(&header_mac);

        let start = out.len();
        out.put_slice(head);
        out.put_slice(data);
        out.put_bytes(0, padded - len);
        let mut ciphertext = out.split_off(start);
        self.egress.apply_keystream(&mut ciphertext);
        let frame_mac = self.egress_mac.frame_mac(&ciphertext);
        out.unsplit(ciphertext);
        out.put_slice(&frame_mac);
        Ok(())
    }

    /// The largest frame accepted, in bytes.
    pub const fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// Sets the largest frame accepted (at most [`MAX_FRAME_SIZE`]) for the frames whose
    /// headers are read from now on: a `p2p` session accepts no more than a Hello's size until
    /// the Hello has come.
    pub fn set_max_frame_size(&mut self, max_frame_size: usize) {
        self.max_frame_size = max_frame_size.min(MAX_FRAME_SIZE);
    }

    /// Whether a frame header was read and its body is still awaited.
    pub fn mid_frame(&self) -> bool {
        matches!(self.read, ReadState::ExpectBody { .. })
    }

    /// Takes one complete frame off the front of `input` and returns its body (message id and
    /// data, padding removed), or `None` while more bytes are needed.
    ///
    /// An error ends the session's read side: the codec returns the same error from then on,
    /// as the peer's stream cannot be followed past a frame that failed.
    pub fn decode(&mut self, input: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        if let ReadState::Failed(e) = &self.read {
            return Err(e.clone());
        }
        self.decode_frame(input)
            .inspect_err(|e| self.fail(e.clone()))
    }

    /// Marks the read side failed with `error` (also for a frame the layer above refused).
    pub(crate) fn fail(&mut self, error: FrameError) {
        self.read = ReadState::Failed(error);
    }

    fn decode_frame(&mut self, input: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        if self.read == ReadState::ExpectHeader {
            let Some(block) = input.first_chunk::<{ 2 * BLOCK }>() else {
                return Ok(None);
            };
            let Some((header, mac)) = block.split_first_chunk::<BLOCK>() else {
                return Ok(None);
            };
            let expected = self.ingress_mac.header_mac(header);
            if !bool::from(expected.ct_eq(mac)) {
                return Err(FrameError::HeaderMacMismatch);
            }
            let mut header = *header;
            self.ingress.apply_keystream(&mut header);
            let [s0, s1, s2, ..] = header;
            let size = usize::from(s0) << 16 | usize::from(s1) << 8 | usize::from(s2);
            if size > self.max_frame_size {
                return Err(FrameError::TooLarge(size));
            }
            let _ = input.split_to(2 * BLOCK);
            self.read = ReadState::ExpectBody { size };
        }
        let ReadState::ExpectBody { size } = self.read else {
            return Ok(None);
        };
        let padded = size.next_multiple_of(BLOCK);
        if input.len() < padded + BLOCK {
            // Room for what is missing, but no more than a step at a time: a header alone
            // must not make us hold its announced size (up to 16 MiB) for bytes that may
            // never come.
            input.reserve((padded + BLOCK - input.len()).min(RESERVE_STEP));
            return Ok(None);
        }
        let mut body = input.split_to(padded);
        let mac = input.split_to(BLOCK);
        let expected = self.ingress_mac.frame_mac(&body);
        if !bool::from(expected.as_slice().ct_eq(&mac)) {
            return Err(FrameError::FrameMacMismatch);
        }
        self.ingress.apply_keystream(&mut body);
        body.truncate(size);
        self.read = ReadState::ExpectHeader;
        Ok(Some(body))
    }
}
