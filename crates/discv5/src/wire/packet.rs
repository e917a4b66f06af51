//! Packets and their masked headers (discv5-wire.md, "Packet Encoding"): ordinary message
//! packets (flag 0), WHOAREYOU (flag 1) and handshake message packets (flag 2).

use aes::Aes128;
use ctr::{
    Ctr128BE, CtrCore,
    cipher::{InnerIvInit, KeyInit, StreamCipher},
};
use devp2p_enr::{EnrError, NodeId};

use super::RawRecord;

/// The largest packet sent or accepted, in bytes (discv5-wire.md: "The maximum size of any
/// packet is 1280 bytes").
pub const MAX_PACKET_SIZE: usize = 1280;

/// The smallest packet accepted, in bytes: a WHOAREYOU, masking IV, static header and 24 bytes
/// of authdata (discv5-wire.md: "The minimum size of any Discovery v5 packet is 63 bytes").
pub const MIN_PACKET_SIZE: usize = 63;

/// The `protocol-id` every header starts with.
pub const PROTOCOL_ID: &[u8; 6] = b"discv5";

/// The header's `version`: v5.1 is `0x0001`.
pub const PROTOCOL_VERSION: u16 = 1;

/// A message packet's `nonce`, also the AES-GCM nonce of its message (96 bits).
pub type Nonce = [u8; 12];

/// A WHOAREYOU's `id-nonce` (128 random bits).
pub type IdNonce = [u8; 16];

/// The random `masking-iv` every packet starts with.
pub type MaskingIv = [u8; 16];

/// `protocol-id || version || flag || nonce || authdata-size`.
const STATIC_HEADER_SIZE: usize = 6 + 2 + 1 + 12 + 2;

/// Masking IV and static header: the bytes before the authdata.
const STATIC_PACKET_SIZE: usize = 16 + STATIC_HEADER_SIZE;

/// Flag 0's authdata: `src-id`.
const MESSAGE_AUTHDATA_SIZE: usize = 32;

/// Flag 1's authdata: `id-nonce || enr-seq`.
const WHOAREYOU_AUTHDATA_SIZE: usize = 16 + 8;

/// Flag 2's `authdata-head`: `src-id || sig-size || eph-key-size`.
const HANDSHAKE_HEAD_SIZE: usize = 32 + 1 + 1;

/// The "v4" scheme's `sig-size` and `eph-key-size` (discv5-wire.md, "Handshake Message
/// Packet"); no other identity scheme is defined.
const V4_SIG_SIZE: u8 = 64;
const V4_EPH_KEY_SIZE: u8 = 33;

/// The AES-GCM tag: the shortest message a message or handshake packet can carry.
const GCM_TAG_SIZE: usize = 16;

/// The largest message plaintext an ordinary message packet carries: what is left of
/// [`MAX_PACKET_SIZE`] after the masking IV, static header, `src-id` and AES-GCM tag. A
/// handshake packet leaves less (its signature, ephemeral key and perhaps a record take room).
pub const MAX_MESSAGE_SIZE: usize =
    MAX_PACKET_SIZE - STATIC_PACKET_SIZE - MESSAGE_AUTHDATA_SIZE - GCM_TAG_SIZE;

const FLAG_MESSAGE: u8 = 0;
const FLAG_WHOAREYOU: u8 = 1;
const FLAG_HANDSHAKE: u8 = 2;

/// The packet kind (the header's `flag`) with its authdata.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one header per datagram, held briefly; boxing the handshake would only add an allocation"
)]
pub enum PacketKind {
    /// An ordinary message packet (flag 0).
    Message {
        /// The sender's node id.
        src_id: NodeId,
    },
    /// WHOAREYOU (flag 1): the challenge that starts a handshake. Its nonce is that of the
    /// packet it answers, and it carries no message.
    WhoAreYou {
        /// Random bytes the handshake signs.
        id_nonce: IdNonce,
        /// The sequence number of the requester's record as the challenger knows it; 0 when it
        /// knows none, which asks for the record.
        enr_seq: u64,
    },
    /// A handshake message packet (flag 2), answering a WHOAREYOU.
    Handshake {
        /// The sender's node id.
        src_id: NodeId,
        /// The sender's `r || s` over the identity proof ([`id_sign`](crate::crypto::id_sign)).
        id_signature: [u8; 64],
        /// The sender's ephemeral public key, compressed.
        ephemeral_pubkey: [u8; 33],
        /// The sender's record, when the WHOAREYOU's `enr_seq` was older than it (or 0); not
        /// verified here ([`RawRecord::verify`]).
        record: Option<RawRecord>,
    },
}

impl PacketKind {
    /// The header's `flag`: 0, 1 or 2.
    pub const fn flag(&self) -> u8 {
        match self {
            Self::Message { .. } => FLAG_MESSAGE,
            Self::WhoAreYou { .. } => FLAG_WHOAREYOU,
            Self::Handshake { .. } => FLAG_HANDSHAKE,
        }
    }

    fn authdata_size(&self) -> usize {
        match self {
            Self::Message { .. } => MESSAGE_AUTHDATA_SIZE,
            Self::WhoAreYou { .. } => WHOAREYOU_AUTHDATA_SIZE,
            Self::Handshake { record, .. } => {
                HANDSHAKE_HEAD_SIZE
                    + usize::from(V4_SIG_SIZE)
                    + usize::from(V4_EPH_KEY_SIZE)
                    + record.as_ref().map_or(0, |r| r.as_bytes().len())
            }
        }
    }

    fn encode_authdata(&self, out: &mut Vec<u8>) {
        match self {
            Self::Message { src_id } => out.extend_from_slice(&src_id.0),
            Self::WhoAreYou { id_nonce, enr_seq } => {
                out.extend_from_slice(id_nonce);
                out.extend_from_slice(&enr_seq.to_be_bytes());
            }
            Self::Handshake {
                src_id,
                id_signature,
                ephemeral_pubkey,
                record,
            } => {
                out.extend_from_slice(&src_id.0);
                out.extend_from_slice(&[V4_SIG_SIZE, V4_EPH_KEY_SIZE]);
                out.extend_from_slice(id_signature);
                out.extend_from_slice(ephemeral_pubkey);
                if let Some(record) = record {
                    out.extend_from_slice(record.as_bytes());
                }
            }
        }
    }
}

/// A packet's header, unmasked: everything but the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketHeader {
    /// The packet's first 16 bytes, random for every packet; masks the header.
    pub masking_iv: MaskingIv,
    /// The message's AES-GCM nonce, unique per message packet; a WHOAREYOU repeats the nonce
    /// of the packet it answers.
    pub nonce: Nonce,
    /// Flag and authdata.
    pub kind: PacketKind,
}

impl PacketHeader {
    /// `masking-iv || static-header || authdata`: the additional data the message is
    /// encrypted and authenticated with (`message-ad`).
    pub fn message_ad(&self) -> Vec<u8> {
        let authdata_size = self.kind.authdata_size();
        let mut out = Vec::with_capacity(STATIC_PACKET_SIZE + authdata_size);
        out.extend_from_slice(&self.masking_iv);
        out.extend_from_slice(PROTOCOL_ID);
        out.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
        out.push(self.kind.flag());
        out.extend_from_slice(&self.nonce);
        // At most 34 + 64 + 33 + 300 bytes: a record is never over 300.
        out.extend_from_slice(
            &u16::try_from(authdata_size)
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        self.kind.encode_authdata(&mut out);
        out
    }

    /// The `challenge-data` of a WHOAREYOU, which the handshake signs and derives its keys
    /// from: the same bytes as [`message_ad`](Self::message_ad).
    pub fn challenge_data(&self) -> Vec<u8> {
        self.message_ad()
    }
}

/// A packet whose header unmasked and checked out; its message is still encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The header.
    pub header: PacketHeader,
    /// `masking-iv || header` as received, unmasked: the message's additional data, and for a
    /// WHOAREYOU its challenge data.
    pub message_ad: Vec<u8>,
    /// The encrypted message with its tag: empty for WHOAREYOU, at least 16 bytes otherwise.
    pub message: &'a [u8],
}

/// Why a datagram is not a discv5 packet for us.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PacketError {
    /// Under [`MIN_PACKET_SIZE`].
    #[error("packet of {0} bytes is under 63")]
    TooShort(usize),
    /// Over [`MAX_PACKET_SIZE`].
    #[error("packet of {0} bytes exceeds 1280")]
    TooLarge(usize),
    /// The unmasked header does not start with "discv5": not discv5, or not for our node id.
    #[error("protocol id is not \"discv5\"")]
    WrongProtocolId,
    /// A header version other than 1.
    #[error("unsupported protocol version {0:#06x}")]
    UnsupportedVersion(u16),
    /// A flag other than 0, 1 and 2.
    #[error("unknown packet flag {0}")]
    UnknownFlag(u8),
    /// `authdata-size` reaches past the end of the packet.
    #[error("authdata of {0} bytes runs past the packet")]
    TruncatedAuthData(usize),
    /// `authdata-size` is not the size the flag prescribes.
    #[error("authdata of {size} bytes for flag {flag}")]
    AuthDataSize {
        /// The packet's flag.
        flag: u8,
        /// Its `authdata-size`.
        size: usize,
    },
    /// A handshake whose `sig-size` and `eph-key-size` are not the "v4" scheme's 64 and 33.
    #[error("signature size {sig_size} and key size {key_size} are not the v4 scheme's")]
    UnsupportedKeySizes {
        /// `sig-size`.
        sig_size: u8,
        /// `eph-key-size`.
        key_size: u8,
    },
    /// The record in a handshake is over 300 bytes or not shaped like a record
    /// ([`RawRecord::new`]); its signature is not checked here.
    #[error("invalid record in handshake: {0}")]
    InvalidRecord(#[from] EnrError),
    /// A message or handshake packet whose message is shorter than the 16-byte AES-GCM tag.
    #[error("message of {0} bytes is shorter than its tag")]
    MessageTooShort(usize),
    /// A WHOAREYOU with bytes after its authdata: its message is always empty.
    #[error("WHOAREYOU with a message of {0} bytes")]
    UnexpectedMessage(usize),
}

/// The masking key of a node id, its first 16 bytes, with its AES-128 key schedule expanded
/// once: a node unmasks every datagram it gets with its own.
#[derive(Debug)]
pub(crate) struct MaskingKey(Aes128);

impl MaskingKey {
    pub(crate) fn new(id: &NodeId) -> Self {
        let (key, _) = id.0.split_first_chunk::<16>().unwrap_or((&[0; 16], &[]));
        Self(Aes128::new(&(*key).into()))
    }

    /// The masking cipher: AES-128-CTR under this key, the whole 16-byte IV as a big-endian
    /// counter.
    fn cipher(&self, masking_iv: &MaskingIv) -> Ctr128BE<&Aes128> {
        Ctr128BE::from_core(CtrCore::inner_iv_init(&self.0, &(*masking_iv).into()))
    }
}

/// The packet for `dest_id`: `header`, masked, then `message` (the encrypted message, or
/// nothing for WHOAREYOU).
///
/// Refuses to make what [`decode_packet`] refuses: a packet over [`MAX_PACKET_SIZE`], a
/// message shorter than a GCM tag, a WHOAREYOU with a message. (It is never under
/// [`MIN_PACKET_SIZE`]: the smallest header is 63 bytes.)
pub fn encode_packet(
    dest_id: &NodeId,
    header: &PacketHeader,
    message: &[u8],
) -> Result<Vec<u8>, PacketError> {
    encode_packet_with(&MaskingKey::new(dest_id), header, message)
}

/// [`encode_packet`] with the destination's masking key already expanded.
pub(crate) fn encode_packet_with(
    dest: &MaskingKey,
    header: &PacketHeader,
    message: &[u8],
) -> Result<Vec<u8>, PacketError> {
    match header.kind {
        PacketKind::WhoAreYou { .. } if !message.is_empty() => {
            return Err(PacketError::UnexpectedMessage(message.len()));
        }
        PacketKind::Message { .. } | PacketKind::Handshake { .. }
            if message.len() < GCM_TAG_SIZE =>
        {
            return Err(PacketError::MessageTooShort(message.len()));
        }
        _ => {}
    }
    let mut packet = header.message_ad();
    let size = packet.len() + message.len();
    if size > MAX_PACKET_SIZE {
        return Err(PacketError::TooLarge(size));
    }
    if let Some(masked) = packet.get_mut(16..) {
        dest.cipher(&header.masking_iv).apply_keystream(masked);
    }
    packet.extend_from_slice(message);
    Ok(packet)
}

/// Unmasks and checks the header of `datagram` as received by `local_id`: size bounds,
/// protocol id, version, flag, the authdata size each flag prescribes, the "v4" key sizes and
/// record (at most 300 bytes and shaped like a record, its signature *not* verified: that is
/// for whoever uses it) of a handshake, the message's size.
///
/// A datagram for another node id unmasks to garbage and fails with
/// [`PacketError::WrongProtocolId`].
pub fn decode_packet<'a>(local_id: &NodeId, datagram: &'a [u8]) -> Result<Packet<'a>, PacketError> {
    decode_packet_with(&MaskingKey::new(local_id), datagram)
}

/// [`decode_packet`] with the recipient's masking key already expanded.
pub(crate) fn decode_packet_with<'a>(
    local: &MaskingKey,
    datagram: &'a [u8],
) -> Result<Packet<'a>, PacketError> {
    if datagram.len() < MIN_PACKET_SIZE {
        return Err(PacketError::TooShort(datagram.len()));
    }
    if datagram.len() > MAX_PACKET_SIZE {
        return Err(PacketError::TooLarge(datagram.len()));
    }
    let Some((masking_iv, masked)) = datagram.split_first_chunk::<16>() else {
        return Err(PacketError::TooShort(datagram.len()));
    };
    let Some((masked_static, rest)) = masked.split_first_chunk::<STATIC_HEADER_SIZE>() else {
        return Err(PacketError::TooShort(datagram.len()));
    };
    let mut cipher = local.cipher(masking_iv);
    let mut static_header = *masked_static;
    cipher.apply_keystream(&mut static_header);

    let (protocol_id, static_rest) = split::<6>(&static_header);
    if &protocol_id != PROTOCOL_ID {
        return Err(PacketError::WrongProtocolId);
    }
    let (version, static_rest) = split::<2>(static_rest);
    let version = u16::from_be_bytes(version);
    if version != PROTOCOL_VERSION {
        return Err(PacketError::UnsupportedVersion(version));
    }
    let (flag, static_rest) = split::<1>(static_rest);
    let [flag] = flag;
    let (nonce, static_rest) = split::<12>(static_rest);
    let (authdata_size, _) = split::<2>(static_rest);
    let authdata_size = usize::from(u16::from_be_bytes(authdata_size));

    if !matches!(flag, FLAG_MESSAGE | FLAG_WHOAREYOU | FLAG_HANDSHAKE) {
        return Err(PacketError::UnknownFlag(flag));
    }
    let (Some(masked_authdata), Some(message)) =
        (rest.get(..authdata_size), rest.get(authdata_size..))
    else {
        return Err(PacketError::TruncatedAuthData(authdata_size));
    };
    let mut message_ad = Vec::with_capacity(STATIC_PACKET_SIZE + authdata_size);
    message_ad.extend_from_slice(masking_iv);
    message_ad.extend_from_slice(&static_header);
    message_ad.extend_from_slice(masked_authdata);
    let authdata = message_ad.get_mut(STATIC_PACKET_SIZE..).unwrap_or_default();
    cipher.apply_keystream(authdata);
    let authdata = message_ad.get(STATIC_PACKET_SIZE..).unwrap_or_default();

    let kind = decode_authdata(flag, authdata)?;
    match kind {
        PacketKind::WhoAreYou { .. } if !message.is_empty() => {
            return Err(PacketError::UnexpectedMessage(message.len()));
        }
        PacketKind::Message { .. } | PacketKind::Handshake { .. }
            if message.len() < GCM_TAG_SIZE =>
        {
            return Err(PacketError::MessageTooShort(message.len()));
        }
        _ => {}
    }
    Ok(Packet {
        header: PacketHeader {
            masking_iv: *masking_iv,
            nonce,
            kind,
        },
        message_ad,
        message,
    })
}

/// `authdata` of a packet with `flag` (0, 1 or 2).
fn decode_authdata(flag: u8, authdata: &[u8]) -> Result<PacketKind, PacketError> {
    let wrong_size = || PacketError::AuthDataSize {
        flag,
        size: authdata.len(),
    };
    match flag {
        FLAG_MESSAGE => {
            let src_id = <[u8; 32]>::try_from(authdata).map_err(|_| wrong_size())?;
            Ok(PacketKind::Message {
                src_id: NodeId(src_id),
            })
        }
        FLAG_WHOAREYOU => {
            let authdata =
                <[u8; WHOAREYOU_AUTHDATA_SIZE]>::try_from(authdata).map_err(|_| wrong_size())?;
            let (id_nonce, enr_seq) = split::<16>(&authdata);
            let (enr_seq, _) = split::<8>(enr_seq);
            Ok(PacketKind::WhoAreYou {
                id_nonce,
                enr_seq: u64::from_be_bytes(enr_seq),
            })
        }
        _ => {
            let Some((head, rest)) = authdata.split_first_chunk::<HANDSHAKE_HEAD_SIZE>() else {
                return Err(wrong_size());
            };
            let (src_id, sizes) = split::<32>(head);
            let [sig_size, key_size] = split::<2>(sizes).0;
            if (sig_size, key_size) != (V4_SIG_SIZE, V4_EPH_KEY_SIZE) {
                return Err(PacketError::UnsupportedKeySizes { sig_size, key_size });
            }
            let Some((id_signature, rest)) = rest.split_first_chunk::<64>() else {
                return Err(wrong_size());
            };
            let Some((ephemeral_pubkey, record)) = rest.split_first_chunk::<33>() else {
                return Err(wrong_size());
            };
            let record = if record.is_empty() {
                None
            } else {
                Some(RawRecord::new(record)?)
            };
            Ok(PacketKind::Handshake {
                src_id: NodeId(src_id),
                id_signature: *id_signature,
                ephemeral_pubkey: *ephemeral_pubkey,
                record,
            })
        }
    }
}

/// The first `N` bytes of `bytes` (zero-padded if shorter, which the fixed-size callers never
/// are) and the rest.
fn split<const N: usize>(bytes: &[u8]) -> ([u8; N], &[u8]) {
    match bytes.split_first_chunk::<N>() {
        Some((head, rest)) => (*head, rest),
        None => ([0; N], &[]),
    }
}
