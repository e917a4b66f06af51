//! The messages inside packets (discv5-wire.md, "Protocol Messages"): `message-type ||
//! message-data`, the data an RLP list whose first element is the request id.
//!
//! The topic messages (REGTOPIC, REGCONFIRMATION, TOPICQUERY, TOPICNODES) are not implemented,
//! as in go-ethereum: their types decode as [`MessageError::UnknownType`].

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use devp2p_enr::EnrError;
use devp2p_rlp_codec::{DecodeError, Encodable, Header, Rlp, bytes_length, encode_bytes};

use super::{RawRecord, packet::MAX_PACKET_SIZE};

/// The most distances one FINDNODE may ask for (there are 257, 0 to 256).
pub const MAX_DISTANCES: usize = 256;

/// The largest log2 distance between two 256-bit node ids.
pub const MAX_DISTANCE: u16 = 256;

const PING: u8 = 0x01;
const PONG: u8 = 0x02;
const FIND_NODE: u8 = 0x03;
const NODES: u8 = 0x04;
const TALK_REQ: u8 = 0x05;
const TALK_RESP: u8 = 0x06;

/// A request id: up to 8 bytes, chosen by the requester and mirrored in the response
/// (discv5-wire.md: "`request-id` is an RLP byte array of length <= 8 bytes").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RequestId {
    bytes: [u8; 8],
    len: u8,
}

impl RequestId {
    /// The longest request id, in bytes.
    pub const MAX_LEN: usize = 8;

    /// The id made of `bytes`, if there are at most 8.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        let len = u8::try_from(bytes.len())
            .ok()
            .filter(|l| usize::from(*l) <= Self::MAX_LEN)?;
        let mut id = [0u8; 8];
        id.iter_mut().zip(bytes).for_each(|(dst, src)| *dst = *src);
        Some(Self { bytes: id, len })
    }

    /// The id's bytes, as sent.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes
            .get(..usize::from(self.len))
            .unwrap_or(&self.bytes)
    }
}

impl From<[u8; 8]> for RequestId {
    fn from(bytes: [u8; 8]) -> Self {
        Self { bytes, len: 8 }
    }
}

impl core::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RequestId(")?;
        self.as_bytes()
            .iter()
            .try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}

/// A discv5 message (the plaintext of a message packet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// PING (0x01): `[request-id, enr-seq]`.
    Ping {
        /// Request id.
        req_id: RequestId,
        /// The sender's record sequence number.
        enr_seq: u64,
    },
    /// PONG (0x02): `[request-id, enr-seq, recipient-ip, recipient-port]`.
    Pong {
        /// The Ping's request id.
        req_id: RequestId,
        /// The sender's record sequence number.
        enr_seq: u64,
        /// The IP the Ping came from, as the Pong's sender saw it (4 or 16 bytes on the wire;
        /// an IPv4-mapped IPv6 address decodes as IPv4).
        ip: IpAddr,
        /// The UDP port the Ping came from.
        port: u16,
    },
    /// FINDNODE (0x03): `[request-id, [distance, ...]]`.
    FindNode {
        /// Request id.
        req_id: RequestId,
        /// Log2 distances from the recipient; at most [`MAX_DISTANCES`] of them. Distance 0
        /// asks for the recipient's own record. One over [`MAX_DISTANCE`] is kept as sent
        /// (so that the others are still answered, as go-ethereum answers them) and matches
        /// no node. Unlike go-ethereum, which skips them too, a distance over 65535 or more
        /// than [`MAX_DISTANCES`] of them make the message undecodable, so it goes unanswered
        /// (no implementation we know of sends either).
        distances: Vec<u16>,
    },
    /// NODES (0x04): `[request-id, total, [ENR, ...]]`.
    Nodes {
        /// The request id of the FINDNODE answered.
        req_id: RequestId,
        /// How many NODES messages answer the request, this one included. Not bounded here: the
        /// receiver caps how many it waits for.
        total: u64,
        /// Records, each at most 300 bytes and shaped like a record but not verified
        /// ([`RawRecord::verify`]); as many as fit in the packet.
        enrs: Vec<RawRecord>,
    },
    /// TALKREQ (0x05): `[request-id, protocol, request]`.
    TalkReq {
        /// Request id.
        req_id: RequestId,
        /// The application protocol's name.
        protocol: Vec<u8>,
        /// The request, opaque to discovery.
        request: Vec<u8>,
    },
    /// TALKRESP (0x06): `[request-id, response]`.
    TalkResp {
        /// The TALKREQ's request id.
        req_id: RequestId,
        /// The response; empty when the protocol is unknown.
        response: Vec<u8>,
    },
}

/// Why a decrypted message is not one we understand.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MessageError {
    /// No message type byte.
    #[error("empty message")]
    Empty,
    /// Longer than any packet could carry.
    #[error("message of {0} bytes exceeds a packet")]
    TooLarge(usize),
    /// A message type other than 0x01–0x06 (the topic messages included).
    #[error("unknown message type {0:#04x}")]
    UnknownType(u8),
    /// A request id over 8 bytes.
    #[error("request id of {0} bytes exceeds 8")]
    RequestIdTooLong(usize),
    /// A PONG IP of neither 4 nor 16 bytes.
    #[error("IP address of {0} bytes")]
    InvalidIp(usize),
    /// A FINDNODE with more than [`MAX_DISTANCES`] distances.
    #[error("FINDNODE with more than 256 distances")]
    TooManyDistances,
    /// A FINDNODE distance that is not even a 16-bit number.
    #[error("distance {0} is out of range")]
    InvalidDistance(u64),
    /// A NODES record over 300 bytes or not shaped like a record ([`RawRecord::new`]).
    #[error("invalid record in NODES: {0}")]
    InvalidEnr(#[from] EnrError),
    /// The message data is not the RLP list its type requires (extra elements and trailing
    /// bytes included).
    #[error("invalid message data: {0}")]
    Rlp(#[from] DecodeError),
}

impl Message {
    /// The `message-type` byte.
    pub const fn message_type(&self) -> u8 {
        match self {
            Self::Ping { .. } => PING,
            Self::Pong { .. } => PONG,
            Self::FindNode { .. } => FIND_NODE,
            Self::Nodes { .. } => NODES,
            Self::TalkReq { .. } => TALK_REQ,
            Self::TalkResp { .. } => TALK_RESP,
        }
    }

    /// The request id.
    pub const fn request_id(&self) -> &RequestId {
        match self {
            Self::Ping { req_id, .. }
            | Self::Pong { req_id, .. }
            | Self::FindNode { req_id, .. }
            | Self::Nodes { req_id, .. }
            | Self::TalkReq { req_id, .. }
            | Self::TalkResp { req_id, .. } => req_id,
        }
    }

    /// `message-type || message-data`: the plaintext to encrypt, written once into a buffer
    /// of its exact size.
    pub fn encode(&self) -> Vec<u8> {
        let payload = self.payload_length();
        let header = Header::list(payload);
        let mut out = Vec::with_capacity(1 + header.length_with_payload());
        out.push(self.message_type());
        header.encode(&mut out);
        encode_bytes(self.request_id().as_bytes(), &mut out);
        match self {
            Self::Ping { enr_seq, .. } => enr_seq.encode(&mut out),
            Self::Pong {
                enr_seq, ip, port, ..
            } => {
                enr_seq.encode(&mut out);
                match ip {
                    IpAddr::V4(v4) => encode_bytes(&v4.octets(), &mut out),
                    IpAddr::V6(v6) => encode_bytes(&v6.octets(), &mut out),
                }
                port.encode(&mut out);
            }
            Self::FindNode { distances, .. } => distances.encode(&mut out),
            Self::Nodes { total, enrs, .. } => {
                total.encode(&mut out);
                Header::list(records_length(enrs)).encode(&mut out);
                for record in enrs {
                    out.extend_from_slice(record.as_bytes());
                }
            }
            Self::TalkReq {
                protocol, request, ..
            } => {
                encode_bytes(protocol, &mut out);
                encode_bytes(request, &mut out);
            }
            Self::TalkResp { response, .. } => encode_bytes(response, &mut out),
        }
        out
    }

    /// The length of [`encode`](Self::encode)'s output, computed without encoding.
    pub fn encoded_len(&self) -> usize {
        1 + Header::list(self.payload_length()).length_with_payload()
    }

    /// The length of the message data's list payload.
    fn payload_length(&self) -> usize {
        let fields = match self {
            Self::Ping { enr_seq, .. } => enr_seq.length(),
            Self::Pong {
                enr_seq, ip, port, ..
            } => {
                // A header byte and the 4 or 16 bytes.
                let ip = if ip.is_ipv4() { 1 + 4 } else { 1 + 16 };
                enr_seq.length() + ip + port.length()
            }
            Self::FindNode { distances, .. } => distances.length(),
            Self::Nodes { total, enrs, .. } => {
                total.length() + Header::list(records_length(enrs)).length_with_payload()
            }
            Self::TalkReq {
                protocol, request, ..
            } => bytes_length(protocol) + bytes_length(request),
            Self::TalkResp { response, .. } => bytes_length(response),
        };
        bytes_length(self.request_id().as_bytes()) + fields
    }

    /// Decodes a decrypted message. Strict: canonical RLP, no extra list elements, no bytes
    /// after the list, request ids of at most 8 bytes, records of at most 300 bytes and the
    /// shape of a record. Record signatures are not verified here: see [`RawRecord`].
    pub fn decode(plaintext: &[u8]) -> Result<Self, MessageError> {
        if plaintext.len() > MAX_PACKET_SIZE {
            return Err(MessageError::TooLarge(plaintext.len()));
        }
        let Some((&kind, data)) = plaintext.split_first() else {
            return Err(MessageError::Empty);
        };
        if !(PING..=TALK_RESP).contains(&kind) {
            return Err(MessageError::UnknownType(kind));
        }
        let mut outer = Rlp::new(data);
        let mut list = outer.list()?;
        outer.finish()?;
        let req_id = list.bytes()?;
        let req_id = RequestId::new(req_id).ok_or(MessageError::RequestIdTooLong(req_id.len()))?;
        let message = match kind {
            PING => Self::Ping {
                req_id,
                enr_seq: list.decode()?,
            },
            PONG => Self::Pong {
                req_id,
                enr_seq: list.decode()?,
                ip: decode_ip(list.bytes()?)?,
                port: list.decode()?,
            },
            FIND_NODE => Self::FindNode {
                req_id,
                distances: decode_distances(list.list()?)?,
            },
            NODES => Self::Nodes {
                req_id,
                total: list.decode()?,
                enrs: decode_enrs(list.list()?)?,
            },
            TALK_REQ => Self::TalkReq {
                req_id,
                protocol: list.bytes()?.to_vec(),
                request: list.bytes()?.to_vec(),
            },
            _ => Self::TalkResp {
                req_id,
                response: list.bytes()?.to_vec(),
            },
        };
        list.finish()?;
        Ok(message)
    }
}

/// The total length of NODES records (each already RLP).
fn records_length(enrs: &[RawRecord]) -> usize {
    enrs.iter().map(|r| r.as_bytes().len()).sum()
}

fn decode_ip(bytes: &[u8]) -> Result<IpAddr, MessageError> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        Ok(IpAddr::V4(Ipv4Addr::from(v4)))
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        Ok(IpAddr::V6(Ipv6Addr::from(v6)).to_canonical())
    } else {
        Err(MessageError::InvalidIp(bytes.len()))
    }
}

fn decode_distances(mut list: Rlp<'_>) -> Result<Vec<u16>, MessageError> {
    let mut distances = Vec::new();
    while !list.is_empty() {
        if distances.len() == MAX_DISTANCES {
            return Err(MessageError::TooManyDistances);
        }
        let distance: u64 = list.decode()?;
        let distance =
            u16::try_from(distance).map_err(|_| MessageError::InvalidDistance(distance))?;
        distances.push(distance);
    }
    Ok(distances)
}

/// Records of a NODES list, unverified; their number is bounded by the message's size (each
/// is at least some 70 bytes: a 64-byte signature and a list header).
fn decode_enrs(mut list: Rlp<'_>) -> Result<Vec<RawRecord>, MessageError> {
    let mut enrs = Vec::new();
    while !list.is_empty() {
        enrs.push(RawRecord::new(list.raw()?)?);
    }
    Ok(enrs)
}
