//! The discv4 wire format (ethereum/devp2p `discv4.md`, EIP-8, EIP-868):
//! `packet = hash || signature || packet-type || packet-data`, where
//! `hash = keccak256(signature || packet-type || packet-data)` and the 65-byte recoverable
//! signature (`r || s || v`, `v` in {0, 1}) signs `keccak256(packet-type || packet-data)`.
//!
//! Decoding follows EIP-8: a higher Ping version, extra list elements and bytes after the
//! packet data's RLP list are all accepted. EIP-868's optional ENR sequence number (Ping's 5th
//! and Pong's 4th element) is read when it is an integer and otherwise treated as one more extra
//! element, so the EIP-8 vectors that carry a list in that place decode too.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use devp2p_enr::{NodeRecord, PeerId, RawRecord, SigningKey};
use devp2p_rlp_codec::{DecodeError, Encodable, Header, Rlp, bytes::BufMut, encode_bytes};
use ecdsa::hazmat::sign_prehashed_rfc6979;
use k256::{
    Secp256k1,
    ecdsa::{RecoveryId, Signature, VerifyingKey},
};
use sha2::Sha256;
use sha3::{Digest, Keccak256};

/// The largest packet sent or accepted, in bytes (discv4.md: "The maximum size of any packet is
/// 1280 bytes").
pub const MAX_PACKET_SIZE: usize = 1280;

/// Where a packet's type is: after its hash and signature.
pub(crate) const PACKET_TYPE_OFFSET: usize = 32 + 65;

/// Hash, signature and type: the bytes before the packet data.
const HEAD_SIZE: usize = PACKET_TYPE_OFFSET + 1;

/// Whether packet type `kind` is a request (Ping, FINDNODE, ENRRequest): one that makes the
/// receiver answer.
pub(crate) const fn is_request(kind: u8) -> bool {
    matches!(kind, 0x01 | 0x03 | 0x05)
}

/// The most nodes one Neighbours packet carries: 12 IPv6 entries with 64-byte ids and 3-byte
/// ports make a 1,201-byte packet, 13 would exceed [`MAX_PACKET_SIZE`] (go-ethereum computes the
/// same 12 as `maxNeighbors`).
pub const MAX_NEIGHBOURS: usize = 12;

/// Ping's version field as we send it (discv4.md: "version = 4").
pub const PING_VERSION: u64 = 4;

/// A UDP/TCP endpoint as packets carry it: `[ip, udp-port, tcp-port]`, the IP as 4 or 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// IPv4 or IPv6 address.
    pub ip: IpAddr,
    /// Discovery (UDP) port.
    pub udp_port: u16,
    /// RLPx (TCP) port; 0 when the node does not accept connections.
    pub tcp_port: u16,
}

/// PING (0x01): `[version, from, to, expiration, enr-seq?, ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    /// Protocol version: 4 when sent; any value is accepted (EIP-8).
    pub version: u64,
    /// The sender's endpoint as the sender believes it to be (not trusted: replies go to the
    /// packet's source address).
    pub from: Endpoint,
    /// The recipient's endpoint as the sender sees it.
    pub to: Endpoint,
    /// Unix time in seconds after which the packet is void.
    pub expiration: u64,
    /// The sender's ENR sequence number (EIP-868).
    pub enr_seq: Option<u64>,
}

/// PONG (0x02): `[to, ping-hash, expiration, enr-seq?, ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong {
    /// The source address of the Ping this answers, as the Pong's sender saw it.
    pub to: Endpoint,
    /// The hash of the Ping this answers.
    pub ping_hash: [u8; 32],
    /// Unix time in seconds after which the packet is void.
    pub expiration: u64,
    /// The sender's ENR sequence number (EIP-868).
    pub enr_seq: Option<u64>,
}

/// FINDNODE (0x03): `[target, expiration, ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindNode {
    /// A 64-byte public key; the nodes closest to its keccak256 are asked for.
    pub target: PeerId,
    /// Unix time in seconds after which the packet is void.
    pub expiration: u64,
}

/// NEIGHBOURS (0x04): `[[[ip, udp-port, tcp-port, node-id], ...], expiration, ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbours {
    /// At most [`MAX_NEIGHBOURS`] nodes when we send; whatever fits in a packet when received.
    pub nodes: Vec<NodeRecord>,
    /// Unix time in seconds after which the packet is void.
    pub expiration: u64,
}

/// ENRREQUEST (0x05, EIP-868): `[expiration, ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrRequest {
    /// Unix time in seconds after which the packet is void.
    pub expiration: u64,
}

/// ENRRESPONSE (0x06, EIP-868): `[request-hash, record, ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrResponse {
    /// The hash of the ENRRequest this answers.
    pub request_hash: [u8; 32],
    /// The sender's record, as received: checked for size and shape; the signature is
    /// verified when the response is matched to a request ([`RawRecord::verify`]).
    pub record: RawRecord,
}

/// Any discv4 message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // Each variant is its packet type, documented on the payload.
pub enum Message {
    Ping(Ping),
    Pong(Pong),
    FindNode(FindNode),
    Neighbours(Neighbours),
    EnrRequest(EnrRequest),
    EnrResponse(EnrResponse),
}

/// A received packet whose hash and signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The packet hash (its first 32 bytes): Pong and ENRResponse name their request by it.
    pub hash: [u8; 32],
    /// The public key that signed the packet.
    pub sender: PeerId,
    /// The message.
    pub message: Message,
}

/// Why a datagram is not a valid discv4 packet.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PacketError {
    /// Shorter than hash, signature, type and one byte of data.
    #[error("packet of {0} bytes is too short")]
    TooShort(usize),
    /// Over [`MAX_PACKET_SIZE`].
    #[error("packet of {0} bytes exceeds 1280")]
    TooLarge(usize),
    /// The first 32 bytes are not the keccak256 of the rest.
    #[error("packet hash does not match its contents")]
    HashMismatch,
    /// The signature does not recover to a public key.
    #[error("invalid signature")]
    InvalidSignature,
    /// A packet type other than 0x01–0x06.
    #[error("unknown packet type {0:#04x}")]
    UnknownType(u8),
    /// A port of more than 2 bytes.
    #[error("port of {0} bytes")]
    InvalidPort(usize),
    /// The ENR of an ENRResponse is not shaped like a record ([`RawRecord::new`]).
    #[error("invalid ENR in ENRResponse: {0}")]
    InvalidEnr(#[from] devp2p_enr::EnrError),
    /// The packet data is not the RLP its type requires.
    #[error("invalid packet data: {0}")]
    Rlp(#[from] DecodeError),
}

impl Message {
    /// The packet type byte.
    pub const fn packet_type(&self) -> u8 {
        match self {
            Self::Ping(_) => 0x01,
            Self::Pong(_) => 0x02,
            Self::FindNode(_) => 0x03,
            Self::Neighbours(_) => 0x04,
            Self::EnrRequest(_) => 0x05,
            Self::EnrResponse(_) => 0x06,
        }
    }

    /// Signs the message with `key` (RFC 6979, deterministic) and returns the packet and its
    /// hash.
    pub fn encode(&self, key: &SigningKey) -> (Vec<u8>, [u8; 32]) {
        self.encode_salted(key, &[])
    }

    /// Like [`encode`](Self::encode), with `salt` as RFC 6979's additional data: the same
    /// message signed twice within a second (a retry) then makes two distinct packets, so the
    /// receiver's replay filter keeps the second.
    pub fn encode_salted(&self, key: &SigningKey, salt: &[u8]) -> (Vec<u8>, [u8; 32]) {
        let mut data = Vec::with_capacity(128);
        self.encode_data(&mut data);
        sign_packet(key, self.packet_type(), &data, salt)
    }

    fn encode_data(&self, out: &mut Vec<u8>) {
        let mut body = Vec::with_capacity(64);
        match self {
            Self::Ping(ping) => {
                ping.version.encode(&mut body);
                ping.from.encode(&mut body);
                ping.to.encode(&mut body);
                ping.expiration.encode(&mut body);
                if let Some(seq) = ping.enr_seq {
                    seq.encode(&mut body);
                }
            }
            Self::Pong(pong) => {
                pong.to.encode(&mut body);
                pong.ping_hash.encode(&mut body);
                pong.expiration.encode(&mut body);
                if let Some(seq) = pong.enr_seq {
                    seq.encode(&mut body);
                }
            }
            Self::FindNode(find) => {
                find.target.encode(&mut body);
                find.expiration.encode(&mut body);
            }
            Self::Neighbours(neighbours) => {
                let nodes: Vec<NodeEntry<'_>> = neighbours.nodes.iter().map(NodeEntry).collect();
                nodes.encode(&mut body);
                neighbours.expiration.encode(&mut body);
            }
            Self::EnrRequest(request) => request.expiration.encode(&mut body),
            Self::EnrResponse(response) => {
                response.request_hash.encode(&mut body);
                body.put_slice(response.record.as_bytes());
            }
        }
        Header::list(body.len()).encode(out);
        out.extend_from_slice(&body);
    }
}

/// Signs `packet_type || data` with `key` and returns the packet and its hash. `data` is sent
/// as it is: this is for packets [`Message`] cannot express (EIP-8 extras, unknown types).
pub fn encode_packet(key: &SigningKey, packet_type: u8, data: &[u8]) -> (Vec<u8>, [u8; 32]) {
    sign_packet(key, packet_type, data, &[])
}

fn sign_packet(key: &SigningKey, packet_type: u8, data: &[u8], salt: &[u8]) -> (Vec<u8>, [u8; 32]) {
    let mut packet = Vec::with_capacity(HEAD_SIZE + data.len());
    packet.resize(HEAD_SIZE - 1, 0);
    packet.push(packet_type);
    packet.extend_from_slice(data);
    let (head, typed) = packet.split_at_mut(HEAD_SIZE - 1);
    let (signature, recovery) = sign_prehashed_rfc6979::<Secp256k1, Sha256>(
        key.as_nonzero_scalar(),
        &keccak256(&[typed]),
        salt,
    );
    let (hash_field, signature_field) = head.split_at_mut(32);
    let rsv = signature.to_bytes().into_iter().chain([recovery.to_byte()]);
    signature_field
        .iter_mut()
        .zip(rsv)
        .for_each(|(dst, src)| *dst = src);
    let hash = keccak256(&[signature_field, typed]);
    hash_field.copy_from_slice(&hash);
    (packet, hash)
}

/// Checks `datagram`'s size, hash and signature and decodes its message. Expiration is not
/// checked here: that needs the time, which the protocol core has.
pub fn decode(datagram: &[u8]) -> Result<Packet, PacketError> {
    if datagram.len() > MAX_PACKET_SIZE {
        return Err(PacketError::TooLarge(datagram.len()));
    }
    let (Some((hash, signed)), Some((signature, typed))) = (
        datagram.split_first_chunk::<32>(),
        datagram.get(32..).and_then(<[u8]>::split_first_chunk::<65>),
    ) else {
        return Err(PacketError::TooShort(datagram.len()));
    };
    let Some((&kind, data)) = typed.split_first().filter(|(_, data)| !data.is_empty()) else {
        return Err(PacketError::TooShort(datagram.len()));
    };
    if keccak256(&[signed]) != *hash {
        return Err(PacketError::HashMismatch);
    }
    if !(0x01..=0x06).contains(&kind) {
        return Err(PacketError::UnknownType(kind));
    }
    let message = decode_message(kind, data)?;
    let sender = recover(&keccak256(&[typed]), signature)?;
    Ok(Packet {
        hash: *hash,
        sender,
        message,
    })
}

/// The public key that made `signature` over `digest`.
fn recover(digest: &[u8; 32], signature: &[u8; 65]) -> Result<PeerId, PacketError> {
    let (rs, v) = signature.split_at(64);
    let signature = Signature::from_slice(rs).map_err(|_| PacketError::InvalidSignature)?;
    let recovery = v
        .first()
        .and_then(|v| RecoveryId::from_byte(*v))
        .ok_or(PacketError::InvalidSignature)?;
    let key = VerifyingKey::recover_from_prehash(digest, &signature, recovery)
        .map_err(|_| PacketError::InvalidSignature)?;
    Ok(PeerId::from_public_key(&key.into()))
}

/// Decodes packet data of type `kind` (0x01–0x06); bytes after the first RLP item are ignored.
fn decode_message(kind: u8, data: &[u8]) -> Result<Message, PacketError> {
    let mut outer = Rlp::new(data);
    let mut list = outer.list()?;
    let message = match kind {
        0x01 => Message::Ping(Ping {
            version: list.decode()?,
            from: decode_endpoint(&mut list)?,
            to: decode_endpoint(&mut list)?,
            expiration: list.decode()?,
            enr_seq: optional_seq(&mut list),
        }),
        0x02 => Message::Pong(Pong {
            to: decode_endpoint(&mut list)?,
            ping_hash: list.decode()?,
            expiration: list.decode()?,
            enr_seq: optional_seq(&mut list),
        }),
        0x03 => Message::FindNode(FindNode {
            target: list.decode()?,
            expiration: list.decode()?,
        }),
        0x04 => {
            let mut entries = list.list()?;
            let mut nodes = Vec::new();
            while !entries.is_empty() {
                nodes.extend(decode_node(&mut entries.list()?)?);
            }
            Message::Neighbours(Neighbours {
                nodes,
                expiration: list.decode()?,
            })
        }
        0x05 => Message::EnrRequest(EnrRequest {
            expiration: list.decode()?,
        }),
        _ => Message::EnrResponse(EnrResponse {
            request_hash: list.decode()?,
            record: RawRecord::new(list.raw()?)?,
        }),
    };
    // EIP-8: extra elements are skipped but must still be well-formed RLP.
    list.skip_rest()?;
    Ok(message)
}

/// EIP-868's optional sequence number: an integer if the next element is one; anything else
/// is left for the EIP-8 "extra elements" rule.
fn optional_seq(list: &mut Rlp<'_>) -> Option<u64> {
    let mut probe = *list;
    let seq = probe.decode::<u64>().ok()?;
    *list = probe;
    Some(seq)
}

/// An IP address of 4 or 16 bytes; go-ethereum reads a byte string of any length there (its
/// own Pings carry an empty one when it knows no endpoint), so other lengths are not an error
/// of the packet: `None`.
fn decode_ip(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        Some(IpAddr::V4(Ipv4Addr::from(v4)))
    } else {
        <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|v6| IpAddr::V6(Ipv6Addr::from(v6)).to_canonical())
    }
}

/// A port as big-endian bytes. Leading zeros are tolerated here (EIP-8: be liberal in what you
/// accept): ethereumjs encodes port 0 as the byte `00`.
fn decode_port(fields: &mut Rlp<'_>) -> Result<u16, PacketError> {
    let bytes = fields.bytes()?;
    if bytes.len() > 2 {
        return Err(PacketError::InvalidPort(bytes.len()));
    }
    Ok(bytes.iter().fold(0, |port, b| (port << 8) | u16::from(*b)))
}

/// An endpoint whose IP is not an address reads as unspecified: nothing takes an address
/// from a Ping's `from`, and address votes ignore an unspecified `to`.
fn decode_endpoint(list: &mut Rlp<'_>) -> Result<Endpoint, PacketError> {
    let mut fields = list.list()?;
    let endpoint = Endpoint {
        ip: decode_ip(fields.bytes()?).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        udp_port: decode_port(&mut fields)?,
        tcp_port: decode_port(&mut fields)?,
    };
    fields.skip_rest()?;
    Ok(endpoint)
}

/// A Neighbours entry; `None` for one whose IP is not an address, which is skipped as
/// go-ethereum skips it (the rest of the packet still counts).
fn decode_node(fields: &mut Rlp<'_>) -> Result<Option<NodeRecord>, PacketError> {
    let ip = decode_ip(fields.bytes()?);
    let udp_port = decode_port(fields)?;
    let tcp_port = decode_port(fields)?;
    let id = fields.decode()?;
    fields.skip_rest()?;
    Ok(ip.map(|ip| NodeRecord {
        ip,
        udp_port,
        tcp_port,
        id,
    }))
}

fn ip_payload(ip: &IpAddr) -> ([u8; 16], usize) {
    let mut bytes = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => {
            bytes
                .iter_mut()
                .zip(v4.octets())
                .for_each(|(dst, src)| *dst = src);
            (bytes, 4)
        }
        IpAddr::V6(v6) => (v6.octets(), 16),
    }
}

fn ip_slice(bytes: &[u8; 16], len: usize) -> &[u8] {
    bytes.get(..len).unwrap_or(bytes)
}

impl Endpoint {
    fn payload_length(&self) -> usize {
        let (ip, len) = ip_payload(&self.ip);
        ip_slice(&ip, len).length() + self.udp_port.length() + self.tcp_port.length()
    }
}

impl Encodable for Endpoint {
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        Header::list(self.payload_length()).encode(out);
        let (ip, len) = ip_payload(&self.ip);
        encode_bytes(ip_slice(&ip, len), out);
        self.udp_port.encode(out);
        self.tcp_port.encode(out);
    }

    fn length(&self) -> usize {
        Header::list(self.payload_length()).length_with_payload()
    }
}

/// A Neighbours entry, `[ip, udp-port, tcp-port, node-id]`, for encoding.
struct NodeEntry<'a>(&'a NodeRecord);

impl NodeEntry<'_> {
    fn payload_length(&self) -> usize {
        let node = self.0;
        let (ip, len) = ip_payload(&node.ip);
        ip_slice(&ip, len).length()
            + node.udp_port.length()
            + node.tcp_port.length()
            + node.id.length()
    }
}

impl Encodable for NodeEntry<'_> {
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        let node = self.0;
        Header::list(self.payload_length()).encode(out);
        let (ip, len) = ip_payload(&node.ip);
        encode_bytes(ip_slice(&ip, len), out);
        node.udp_port.encode(out);
        node.tcp_port.encode(out);
        node.id.encode(out);
    }

    fn length(&self) -> usize {
        Header::list(self.payload_length()).length_with_payload()
    }
}

/// keccak256 of the concatenation of `parts`.
pub(crate) fn keccak256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    parts.iter().for_each(|part| hasher.update(part));
    hasher.finalize().into()
}
