//! The node record (EIP-778): `[signature, seq, k1, v1, k2, v2, ...]` with keys sorted and
//! unique, at most 300 bytes, signed under the "v4" identity scheme.

use core::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    str::FromStr,
};
use std::sync::Arc;

use base64::{
    Engine,
    alphabet::URL_SAFE,
    engine::general_purpose::{GeneralPurpose, NO_PAD, URL_SAFE_NO_PAD},
};
use devp2p_rlp_codec::{Decodable, DecodeError, Encodable, Header, Rlp, bytes::BufMut};
use k256::PublicKey;

use crate::{Builder, EnrError, NodeId, NodeRecord, PeerId, keys::keccak256, verify_signature};

/// Largest encoded record, in bytes (EIP-778: "The maximum encoded size of a node record is 300
/// bytes").
pub const MAX_RECORD_SIZE: usize = 300;

/// Decodes the text form as go-ethereum's `base64.RawURLEncoding` does: bits of the last
/// character that fall beyond the last byte may be set (an encoder writes them as zeros).
const LENIENT_URL_SAFE_NO_PAD: GeneralPurpose =
    GeneralPurpose::new(&URL_SAFE, NO_PAD.with_decode_allow_trailing_bits(true));

/// Prefix of the text form.
const TEXT_PREFIX: &str = "enr:";

/// A verified node record of the "v4" identity scheme.
///
/// Every `Enr` holds a valid signature over its content: decoding verifies it and
/// [`Builder::build`] creates it. The record keeps its exact encoding, so re-encoding a decoded
/// record reproduces the input byte for byte.
///
/// Clones share one allocation: tables, requests and events hold records by the thousand.
#[derive(Clone, PartialEq, Eq)]
pub struct Enr(Arc<Fields>);

#[derive(PartialEq, Eq)]
struct Fields {
    seq: u64,
    /// Sorted by key; each value is one complete RLP item.
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
    public_key: PublicKey,
    node_id: NodeId,
    /// The whole record as RLP.
    encoded: Vec<u8>,
}

impl Enr {
    /// A builder for a new record (sequence number 1).
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Decodes and verifies a record from its RLP encoding.
    pub fn from_rlp(input: &[u8]) -> Result<Self, EnrError> {
        let mut list = open(input)?;
        let signature = list.bytes()?;
        let seq = list.decode::<u64>()?;
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        while !list.is_empty() {
            let key = list.bytes()?;
            if list.is_empty() {
                return Err(EnrError::MissingValue);
            }
            if key == b"id" || key == b"secp256k1" {
                // The scheme's values are strings; checked here, where an error has the value's
                // offset in the input.
                list.clone().bytes()?;
            }
            let value = list.raw()?;
            check_address_value(key, value).map_err(|source| EnrError::InvalidValue {
                key: key.to_vec(),
                source,
            })?;
            if let Some((previous, _)) = pairs.last() {
                match previous.as_slice().cmp(key) {
                    core::cmp::Ordering::Less => {}
                    core::cmp::Ordering::Equal => return Err(EnrError::DuplicateKey),
                    core::cmp::Ordering::Greater => return Err(EnrError::UnsortedKeys),
                }
            }
            pairs.push((key.to_vec(), value.to_vec()));
        }
        let public_key = check_v4(&pairs)?;
        let signature: [u8; 64] = signature
            .try_into()
            .map_err(|_| EnrError::InvalidSignatureLength)?;
        if !verify_signature(&public_key, &keccak256(&content(seq, &pairs)), &signature) {
            return Err(EnrError::BadSignature);
        }
        Ok(Self::assemble(seq, pairs, public_key, input.to_vec()))
    }

    /// Decodes a record from hex (with or without `0x`) of its RLP encoding. Text of more than
    /// 600 hex digits is refused before decoding: [`EnrError::TooLarge`] with the number of
    /// bytes it decodes to, or [`EnrError::Hex`] for an odd number of digits.
    pub fn from_hex(text: &str) -> Result<Self, EnrError> {
        let text = text.trim();
        let digits = text.strip_prefix("0x").unwrap_or(text);
        if digits.len() > 2 * MAX_RECORD_SIZE {
            return Err(if digits.len().is_multiple_of(2) {
                EnrError::TooLarge {
                    size: digits.len() / 2,
                }
            } else {
                EnrError::Hex(hex::FromHexError::OddLength)
            });
        }
        Self::from_rlp(&hex::decode(digits)?)
    }

    /// Decodes a record from any of its printed forms: `enr:` text, or hex of the RLP.
    pub fn parse_any(text: &str) -> Result<Self, EnrError> {
        let text = text.trim();
        if text.starts_with(TEXT_PREFIX) {
            text.parse()
        } else {
            Self::from_hex(text)
        }
    }

    pub(crate) fn assemble(
        seq: u64,
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
        public_key: PublicKey,
        encoded: Vec<u8>,
    ) -> Self {
        let node_id = NodeId::from_public_key(&public_key);
        Self(Arc::new(Fields {
            seq,
            pairs,
            public_key,
            node_id,
            encoded,
        }))
    }

    /// The sequence number: bumped each time the record changes.
    pub fn seq(&self) -> u64 {
        self.0.seq
    }

    /// The node id: keccak256 of the public key's 64-byte form.
    pub fn node_id(&self) -> NodeId {
        self.0.node_id
    }

    /// The public key (the `secp256k1` entry).
    pub fn public_key(&self) -> &PublicKey {
        &self.0.public_key
    }

    /// The public key in the 64-byte form of RLPx and discv4.
    pub fn peer_id(&self) -> PeerId {
        PeerId::from_public_key(&self.0.public_key)
    }

    /// The identity scheme name; always `v4`, the only one defined.
    pub const fn id(&self) -> &'static str {
        "v4"
    }

    /// The 64-byte signature `r || s`.
    pub fn signature(&self) -> &[u8] {
        // A record's encoding starts with its list header, then the signature string.
        let mut list = Rlp::new(&self.0.encoded).list().unwrap_or(Rlp::new(&[]));
        list.bytes().unwrap_or_default()
    }

    /// The complete RLP encoding.
    pub fn to_rlp(&self) -> &[u8] {
        &self.0.encoded
    }

    /// The RLP encoding as lowercase hex, without `0x`.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0.encoded)
    }

    /// Every key and its value's raw RLP item, in key order.
    pub fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.0
            .pairs
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
    }

    /// The raw RLP item stored under `key`.
    pub fn get_raw(&self, key: impl AsRef<[u8]>) -> Option<&[u8]> {
        let key = key.as_ref();
        self.0
            .pairs
            .binary_search_by(|(k, _)| k.as_slice().cmp(key))
            .ok()
            .and_then(|i| self.0.pairs.get(i))
            .map(|(_, v)| v.as_slice())
    }

    /// Decodes the value under `key` as a `T`: `None` when the key is absent.
    pub fn get<'a, T: Decodable<'a>>(
        &'a self,
        key: impl AsRef<[u8]>,
    ) -> Option<Result<T, DecodeError>> {
        self.get_raw(key).map(devp2p_rlp_codec::decode_exact)
    }

    fn get_ok<'a, T: Decodable<'a>>(&'a self, key: &str) -> Option<T> {
        self.get(key).and_then(Result::ok)
    }

    /// The IPv4 address (`ip`), if present and well formed.
    pub fn ip(&self) -> Option<Ipv4Addr> {
        self.get_ok::<[u8; 4]>("ip").map(Ipv4Addr::from)
    }

    /// The IPv6 address (`ip6`), if present and well formed.
    pub fn ip6(&self) -> Option<Ipv6Addr> {
        self.get_ok::<[u8; 16]>("ip6").map(Ipv6Addr::from)
    }

    /// The TCP port (`tcp`).
    pub fn tcp(&self) -> Option<u16> {
        self.get_ok("tcp")
    }

    /// The IPv6 TCP port (`tcp6`).
    pub fn tcp6(&self) -> Option<u16> {
        self.get_ok("tcp6")
    }

    /// The UDP port (`udp`).
    pub fn udp(&self) -> Option<u16> {
        self.get_ok("udp")
    }

    /// The IPv6 UDP port (`udp6`).
    pub fn udp6(&self) -> Option<u16> {
        self.get_ok("udp6")
    }

    /// The QUIC port (`quic`).
    pub fn quic(&self) -> Option<u16> {
        self.get_ok("quic")
    }

    /// The IPv6 QUIC port (`quic6`).
    pub fn quic6(&self) -> Option<u16> {
        self.get_ok("quic6")
    }

    /// The enode URL of this node, at the address go-ethereum would pick: of the IPv4
    /// address (`ip`, with the `tcp` and `udp` ports) and the IPv6 address (`ip6`, with `tcp6`
    /// and `udp6`, each falling back to `tcp` and `udp`), the more global one (public before
    /// private, before link-local, before loopback, before unspecified), IPv4 when they tie.
    /// Only an address with at least one port counts (go-ethereum picks without looking at
    /// ports), and no multicast address; an IPv4-mapped `ip6` is an IPv4 address, with the
    /// IPv4 ports (go-ethereum also ranks it as one, except that it takes `::ffff:0.0.0.0` for
    /// public). A missing port is written as port 0 (as go-ethereum prints it). `None` when
    /// no address qualifies.
    pub fn node_record(&self) -> Option<NodeRecord> {
        let (tcp, udp) = (self.tcp(), self.udp());
        let v4 = self.ip().map(|ip| (IpAddr::V4(ip), tcp, udp));
        let v6 = self.ip6().map(|ip| match ip.to_ipv4_mapped() {
            Some(ip) => (IpAddr::V4(ip), tcp, udp),
            None => (IpAddr::V6(ip), self.tcp6().or(tcp), self.udp6().or(udp)),
        });
        // `max_by_key` keeps the last of equals: IPv6 first, so that IPv4 wins a tie.
        let (ip, tcp, udp) = [v6, v4]
            .into_iter()
            .flatten()
            .filter(|(ip, tcp, udp)| !ip.is_multicast() && (tcp.is_some() || udp.is_some()))
            .max_by_key(|(ip, ..)| locality(ip))?;
        Some(NodeRecord {
            id: self.peer_id(),
            ip,
            tcp_port: tcp.unwrap_or(0),
            udp_port: udp.unwrap_or(0),
        })
    }
}

/// How far an address reaches (go-ethereum's ranking): unspecified 0, loopback 1, link-local
/// 2, private (RFC 1918, IPv6 unique local) 3, anything else 4.
fn locality(ip: &IpAddr) -> u8 {
    let (unspecified, loopback, link_local, private) = match ip {
        IpAddr::V4(ip) => (
            ip.is_unspecified(),
            ip.is_loopback(),
            ip.is_link_local(),
            ip.is_private(),
        ),
        IpAddr::V6(ip) => (
            ip.is_unspecified(),
            ip.is_loopback(),
            ip.is_unicast_link_local(),
            ip.is_unique_local(),
        ),
    };
    match (unspecified, loopback, link_local, private) {
        (true, ..) => 0,
        (_, true, ..) => 1,
        (_, _, true, _) => 2,
        (.., true) => 3,
        _ => 4,
    }
}

/// The items of an encoded record: `input` must be at most [`MAX_RECORD_SIZE`] bytes of one
/// RLP list with nothing after it.
pub(crate) fn open(input: &[u8]) -> Result<Rlp<'_>, EnrError> {
    if input.len() > MAX_RECORD_SIZE {
        return Err(EnrError::TooLarge { size: input.len() });
    }
    let mut top = Rlp::new(input);
    let list = top.list()?;
    if !top.is_empty() {
        return Err(EnrError::TrailingBytes(top.remaining().len()));
    }
    Ok(list)
}

/// Checks that an address key's value is of its form: `ip` 4 bytes, `ip6` 16, the ports
/// (`tcp`, `udp`, `tcp6`, `udp6`) canonical integers up to 65535. sigp's `enr` crate (which
/// lighthouse and reth use) refuses a record otherwise, and with it a whole NODES message
/// that carries it, so such a record is neither made nor taken. Other keys' values may be
/// any one RLP item.
pub(crate) fn check_address_value(key: &[u8], value: &[u8]) -> Result<(), DecodeError> {
    use devp2p_rlp_codec::decode_exact;
    match key {
        b"ip" => decode_exact::<[u8; 4]>(value).map(drop),
        b"ip6" => decode_exact::<[u8; 16]>(value).map(drop),
        b"tcp" | b"udp" | b"tcp6" | b"udp6" => decode_exact::<u16>(value).map(drop),
        _ => Ok(()),
    }
}

/// Checks the "v4" scheme entries and returns the public key.
pub(crate) fn check_v4(pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<PublicKey, EnrError> {
    let find = |key: &[u8]| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    };
    let id = find(b"id").ok_or(EnrError::MissingId)?;
    if devp2p_rlp_codec::decode_exact::<&[u8]>(id)? != b"v4" {
        return Err(EnrError::UnsupportedScheme);
    }
    let key = find(b"secp256k1").ok_or(EnrError::MissingPublicKey)?;
    let key = devp2p_rlp_codec::decode_exact::<&[u8]>(key)?;
    crate::public_key_from_compressed(key).ok_or(EnrError::InvalidPublicKey)
}

/// The signed content `[seq, k1, v1, ...]` as RLP.
pub(crate) fn content(seq: u64, pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let payload = seq.length() + pairs_length(pairs);
    let mut out = Vec::with_capacity(payload + 3);
    Header::list(payload).encode(&mut out);
    seq.encode(&mut out);
    put_pairs(pairs, &mut out);
    out
}

/// Encoded length of the key/value pairs.
pub(crate) fn pairs_length(pairs: &[(Vec<u8>, Vec<u8>)]) -> usize {
    pairs
        .iter()
        .map(|(k, v)| k.as_slice().length() + v.len())
        .sum()
}

/// Writes the key/value pairs (each value is already an RLP item).
pub(crate) fn put_pairs(pairs: &[(Vec<u8>, Vec<u8>)], out: &mut Vec<u8>) {
    for (k, v) in pairs {
        k.as_slice().encode(out);
        out.put_slice(v);
    }
}

impl Encodable for Enr {
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        out.put_slice(&self.0.encoded);
    }

    fn length(&self) -> usize {
        self.0.encoded.len()
    }
}

impl Decodable<'_> for Enr {
    /// Reads one record from a list (as discv4 ENRResponse and discv5 NODES carry them). An
    /// error's offset is counted, as for any `Decodable`, from the start of `rlp`'s input.
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        let offset = rlp.offset();
        let raw = rlp.raw()?;
        Self::from_rlp(raw).map_err(|e| match e {
            EnrError::Rlp(inner) => {
                DecodeError::new(inner.kind(), offset.saturating_add(inner.offset()))
            }
            _ => DecodeError::new(
                devp2p_rlp_codec::DecodeErrorKind::Custom("invalid node record"),
                offset,
            ),
        })
    }
}

impl fmt::Display for Enr {
    /// The text form: `enr:` and the unpadded base64url of the RLP.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{TEXT_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(&self.0.encoded)
        )
    }
}

impl fmt::Debug for Enr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enr")
            .field("seq", &self.0.seq)
            .field("node_id", &self.0.node_id)
            .field("ip", &self.ip())
            .field("tcp", &self.tcp())
            .field("udp", &self.udp())
            .finish_non_exhaustive()
    }
}

impl FromStr for Enr {
    type Err = EnrError;

    /// Parses the text form `enr:<base64url>`. Text of more than 400 base64 characters is
    /// refused before decoding: [`EnrError::TooLarge`] with the number of bytes it decodes to
    /// (three per four characters, and one or two for a final two or three), or
    /// [`EnrError::Base64`] for a length no base64 text has (one character over a multiple of
    /// four). Line breaks inside the text are skipped, as go-ethereum's base64 decoder skips
    /// them (a record wrapped across lines in a configuration file).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let body = text
            .trim()
            .strip_prefix(TEXT_PREFIX)
            .ok_or(EnrError::MissingPrefix)?;
        let line_break = |b: &u8| matches!(b, b'\r' | b'\n');
        let len = body.bytes().filter(|b| !line_break(b)).count();
        // base64 of 300 bytes is 400 characters: refuse longer text before decoding it.
        if len > MAX_RECORD_SIZE.div_ceil(3) * 4 {
            let (quads, rest) = (len / 4, len % 4);
            return Err(if rest == 1 {
                EnrError::Base64(base64::DecodeError::InvalidLength(len))
            } else {
                EnrError::TooLarge {
                    size: quads * 3 + rest * 3 / 4,
                }
            });
        }
        let joined: Vec<u8> = body.bytes().filter(|b| !line_break(b)).collect();
        Self::from_rlp(&LENIENT_URL_SAFE_NO_PAD.decode(joined)?)
    }
}
