//! enode URLs: `enode://<128 hex node id>@<ip>:<tcp port>?discport=<udp port>`, the node
//! addresses of go-ethereum's bootnode lists and admin APIs.
//!
//! Parsing follows go-ethereum (see `NodeRecord`'s `FromStr`).

use core::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    str::FromStr,
};

use crate::{EnodeError, NodeId, PeerId};

/// The scheme of an enode URL, with its separator.
const SCHEME: &str = "enode://";

/// A node's identity and address, as an enode URL carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeRecord {
    /// The 64-byte public key.
    pub id: PeerId,
    /// IPv4 or IPv6 address.
    pub ip: IpAddr,
    /// RLPx (TCP) port.
    pub tcp_port: u16,
    /// Discovery (UDP) port; the URL omits `discport` when it equals the TCP port.
    pub udp_port: u16,
}

impl NodeRecord {
    /// The discovery node id (keccak256 of the public key).
    pub fn node_id(&self) -> NodeId {
        self.id.node_id()
    }
}

impl fmt::Display for NodeRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "enode://{}@", self.id)?;
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}")?,
            IpAddr::V6(ip) => write!(f, "[{ip}]")?,
        }
        write!(f, ":{}", self.tcp_port)?;
        if self.udp_port != self.tcp_port {
            write!(f, "?discport={}", self.udp_port)?;
        }
        Ok(())
    }
}

impl FromStr for NodeRecord {
    type Err = EnodeError;

    /// Parses an enode URL as go-ethereum's `ParseV4` does: the scheme in any case (its
    /// `enode.Parse`, behind `--bootnodes`, wants it lowercase); of the query, only the
    /// first `discport` is read (an empty one counts as absent) and other parameters are
    /// ignored, as are a path and a fragment (`…:30303/`, `…:30303#x`); the node id takes no
    /// `0x`; an IPv4-mapped IPv6 host (`[::ffff:10.0.0.1]`) is the IPv4 address. Unlike go-ethereum, the host must be an IP address (a DNS name would
    /// need a lookup, which is the caller's to make) and a URL without one (`enode://<id>`) is
    /// refused: a `NodeRecord` is always dialable.
    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let url = url.trim();
        let rest = url
            .get(..SCHEME.len())
            .filter(|scheme| scheme.eq_ignore_ascii_case(SCHEME))
            .and_then(|_| url.get(SCHEME.len()..))
            .ok_or(EnodeError::MissingScheme)?;
        let (id, rest) = rest.split_once('@').ok_or(EnodeError::MissingAddress)?;
        if id.starts_with("0x") {
            return Err(EnodeError::InvalidNodeId);
        }
        let id: PeerId = id.parse()?;
        // As in any URL: a fragment (`#…`) ends it, a query (`?…`) ends the authority, and so
        // does a path (`/…`), which is ignored.
        let rest = rest.split_once('#').map_or(rest, |(rest, _)| rest);
        let (authority, query) = match rest.split_once('?') {
            Some((authority, query)) => (authority, Some(query)),
            None => (rest, None),
        };
        let address = authority
            .split_once('/')
            .map_or(authority, |(address, _)| address);
        let (ip, port) = if let Some(v6) = address.strip_prefix('[') {
            let (ip, port) = v6.split_once("]:").ok_or(EnodeError::InvalidPort)?;
            let ip = ip.parse::<Ipv6Addr>().map_err(|_| EnodeError::InvalidIp)?;
            let ip = ip.to_ipv4_mapped().map_or(IpAddr::V6(ip), IpAddr::V4);
            (ip, port)
        } else {
            let (ip, port) = address.rsplit_once(':').ok_or(EnodeError::InvalidPort)?;
            (
                IpAddr::V4(ip.parse::<Ipv4Addr>().map_err(|_| EnodeError::InvalidIp)?),
                port,
            )
        };
        let tcp_port = parse_port(port)?;
        let discport = query
            .unwrap_or_default()
            .split('&')
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
            .find_map(|(key, value)| (key == "discport").then_some(value))
            .filter(|value| !value.is_empty());
        let udp_port = discport.map_or(Ok(tcp_port), parse_port)?;
        Ok(Self {
            id,
            ip,
            tcp_port,
            udp_port,
        })
    }
}

/// A decimal port; digits only (no sign, no spaces).
fn parse_port(text: &str) -> Result<u16, EnodeError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EnodeError::InvalidPort);
    }
    text.parse().map_err(|_| EnodeError::InvalidPort)
}
