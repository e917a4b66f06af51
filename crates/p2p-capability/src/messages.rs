//! The `p2p` capability's messages (rlpx.md, "p2p Capability"): Hello (0x00), Disconnect (0x01),
//! Ping (0x02) and Pong (0x03), with the limits this crate enforces on what peers send.

use bytes::Bytes;
use devp2p_enr::PeerId;
use devp2p_rlp_codec::{Rlp, RlpDecodable, RlpEncodable, encode_to_vec};

use crate::ProtocolError;

/// Hello's message id.
pub const HELLO_ID: u64 = 0x00;
/// Disconnect's message id.
pub const DISCONNECT_ID: u64 = 0x01;
/// Ping's message id.
pub const PING_ID: u64 = 0x02;
/// Pong's message id.
pub const PONG_ID: u64 = 0x03;
/// The first message id of the capabilities above `p2p` (rlpx.md: ids up to 0x0f are reserved
/// for `p2p`).
pub const CAPABILITY_BASE_ID: u64 = 0x10;

/// The `p2p` protocol version we speak: 5, the version with snappy compression.
pub const P2P_VERSION: u64 = 5;
/// Largest Hello accepted, in bytes of message data (go-ethereum refuses more than 2 KiB too).
pub const MAX_HELLO_SIZE: usize = 2048;
/// Longest capability name: rlpx.md allows 8 ASCII characters.
pub const MAX_CAPABILITY_NAME: usize = 8;

/// A capability as Hello announces it: `[cap-name, cap-version]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, RlpEncodable, RlpDecodable)]
pub struct CapabilityInfo {
    /// The name (at most 8 bytes, e.g. `eth`).
    pub name: String,
    /// The version.
    pub version: u32,
}

impl CapabilityInfo {
    /// `name/version`.
    pub fn new(name: &str, version: u32) -> Self {
        Self {
            name: name.to_owned(),
            version,
        }
    }
}

impl core::fmt::Display for CapabilityInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}/{}", self.name, self.version)
    }
}

/// Hello: `[protocolVersion, clientId, capabilities, listenPort, nodeKey, ...]`. Extra elements
/// are accepted and ignored (EIP-8).
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable)]
pub struct Hello {
    /// The `p2p` version (5 enables snappy).
    pub protocol_version: u64,
    /// The client's name, e.g. `Geth/v1.16.0/linux-amd64/go1.24`.
    pub client_id: String,
    /// The capabilities offered.
    pub capabilities: Vec<CapabilityInfo>,
    /// The TCP port the node listens on (0 when it does not listen).
    pub listen_port: u16,
    /// The node's public key, `x || y`.
    pub id: PeerId,
}

impl Hello {
    /// Decodes a Hello from its message data: at most [`MAX_HELLO_SIZE`] bytes and a 64-byte
    /// node id that is not all zeros, or an error that ends the session.
    ///
    /// What go-ethereum takes is taken too: a capability no one could share with us (a name
    /// over [`MAX_CAPABILITY_NAME`] bytes or not UTF-8, a version past `u32`) is left out of
    /// `capabilities` rather than refusing the peer; a client id that is not UTF-8 is kept with
    /// replacement characters; a listen port past `u16` reads as 0; bytes after the Hello's
    /// list are ignored.
    pub fn decode(data: &[u8]) -> Result<Self, ProtocolError> {
        if data.len() > MAX_HELLO_SIZE {
            return Err(ProtocolError::HelloTooLarge(data.len()));
        }
        let invalid = ProtocolError::InvalidHello;
        let mut list = Rlp::new(data).list().map_err(invalid)?;
        // The node id first, to name its length when it is wrong.
        let mut ahead = list;
        for _ in 0..4 {
            ahead.raw().map_err(invalid)?;
        }
        let id = ahead.bytes().map_err(invalid)?;
        let id = <[u8; 64]>::try_from(id).map_err(|_| ProtocolError::NodeIdLength(id.len()))?;
        if id == [0; 64] {
            return Err(ProtocolError::NullNodeId);
        }

        let protocol_version = list.decode::<u64>().map_err(invalid)?;
        let client_id = String::from_utf8_lossy(list.bytes().map_err(invalid)?).into_owned();
        let mut offered = list.list().map_err(invalid)?;
        let mut capabilities = Vec::new();
        while !offered.is_empty() {
            let mut cap = offered.list().map_err(invalid)?;
            let name = cap.bytes().map_err(invalid)?;
            let version = cap.decode::<u64>().map_err(invalid)?;
            cap.finish().map_err(invalid)?;
            if let (Ok(name), Ok(version)) = (core::str::from_utf8(name), u32::try_from(version))
                && name.len() <= MAX_CAPABILITY_NAME
            {
                capabilities.push(CapabilityInfo::new(name, version));
            }
        }
        let listen_port = u16::try_from(list.decode::<u64>().map_err(invalid)?).unwrap_or(0);
        list.bytes().map_err(invalid)?;
        list.skip_rest().map_err(invalid)?;
        Ok(Self {
            protocol_version,
            client_id,
            capabilities,
            listen_port,
            id: PeerId(id),
        })
    }

    /// The message data.
    pub fn encode(&self) -> Bytes {
        encode_to_vec(self).into()
    }
}

/// Why a session ends: Disconnect's reason codes (rlpx.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// 0x00: disconnect requested.
    DisconnectRequested,
    /// 0x01: TCP sub-system error.
    TcpSubsystemError,
    /// 0x02: breach of protocol, e.g. a malformed message or bad RLP.
    ProtocolBreach,
    /// 0x03: useless peer (no shared capability).
    UselessPeer,
    /// 0x04: too many peers.
    TooManyPeers,
    /// 0x05: already connected.
    AlreadyConnected,
    /// 0x06: incompatible P2P protocol version.
    IncompatibleP2pVersion,
    /// 0x07: null node identity received.
    NullNodeIdentity,
    /// 0x08: client quitting.
    ClientQuitting,
    /// 0x09: unexpected identity in handshake.
    UnexpectedIdentity,
    /// 0x0a: identity is the same as this node (connected to ourselves).
    ConnectedToSelf,
    /// 0x0b: ping timeout (timeout on receiving a message).
    PingTimeout,
    /// 0x10: some other reason specific to a subprotocol.
    SubprotocolError,
    /// A code rlpx.md does not define, kept as received.
    Other(u8),
}

impl DisconnectReason {
    /// The reason's code.
    pub const fn code(self) -> u8 {
        match self {
            Self::DisconnectRequested => 0x00,
            Self::TcpSubsystemError => 0x01,
            Self::ProtocolBreach => 0x02,
            Self::UselessPeer => 0x03,
            Self::TooManyPeers => 0x04,
            Self::AlreadyConnected => 0x05,
            Self::IncompatibleP2pVersion => 0x06,
            Self::NullNodeIdentity => 0x07,
            Self::ClientQuitting => 0x08,
            Self::UnexpectedIdentity => 0x09,
            Self::ConnectedToSelf => 0x0a,
            Self::PingTimeout => 0x0b,
            Self::SubprotocolError => 0x10,
            Self::Other(code) => code,
        }
    }

    /// The reason with `code`.
    pub const fn from_code(code: u8) -> Self {
        match code {
            0x00 => Self::DisconnectRequested,
            0x01 => Self::TcpSubsystemError,
            0x02 => Self::ProtocolBreach,
            0x03 => Self::UselessPeer,
            0x04 => Self::TooManyPeers,
            0x05 => Self::AlreadyConnected,
            0x06 => Self::IncompatibleP2pVersion,
            0x07 => Self::NullNodeIdentity,
            0x08 => Self::ClientQuitting,
            0x09 => Self::UnexpectedIdentity,
            0x0a => Self::ConnectedToSelf,
            0x0b => Self::PingTimeout,
            0x10 => Self::SubprotocolError,
            other => Self::Other(other),
        }
    }

    /// Disconnect's message data as we send it, before compression: `[reason]`.
    pub fn encode(self) -> Bytes {
        encode_to_vec(&vec![self.code()]).into()
    }

    /// Reads Disconnect's data in the forms peers send: the list `[reason]` (rlpx.md, geth), the
    /// bare reason `reason` (ethereumjs, older clients), or an empty list (no reason given: taken
    /// as [`DisconnectRequested`](Self::DisconnectRequested)). Extra list elements are ignored,
    /// and reason 0 may come as the non-canonical byte `00`.
    pub fn decode(data: &[u8]) -> Result<Self, ProtocolError> {
        let mut rlp = Rlp::new(data);
        let code = if rlp.peek_is_list() == Some(true) {
            let mut list = rlp.list().map_err(ProtocolError::InvalidP2pMessage)?;
            if list.is_empty() {
                0
            } else {
                reason_code(&mut list)?
            }
        } else {
            reason_code(&mut rlp)?
        };
        rlp.finish().map_err(ProtocolError::InvalidP2pMessage)?;
        Ok(Self::from_code(code))
    }
}

/// A reason code: a canonical byte, or the byte `00` some clients send for reason 0 (reth reads
/// it too; canonical RLP would be `80`).
fn reason_code(rlp: &mut Rlp<'_>) -> Result<u8, ProtocolError> {
    if rlp.clone().raw() == Ok(&[0x00]) {
        rlp.raw().map_err(ProtocolError::InvalidP2pMessage)?;
        return Ok(0);
    }
    rlp.decode::<u8>().map_err(ProtocolError::InvalidP2pMessage)
}

impl core::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = match self {
            Self::DisconnectRequested => "disconnect requested",
            Self::TcpSubsystemError => "TCP sub-system error",
            Self::ProtocolBreach => "breach of protocol",
            Self::UselessPeer => "useless peer",
            Self::TooManyPeers => "too many peers",
            Self::AlreadyConnected => "already connected",
            Self::IncompatibleP2pVersion => "incompatible P2P protocol version",
            Self::NullNodeIdentity => "null node identity received",
            Self::ClientQuitting => "client quitting",
            Self::UnexpectedIdentity => "unexpected identity",
            Self::ConnectedToSelf => "connected to self",
            Self::PingTimeout => "ping timeout",
            Self::SubprotocolError => "subprotocol error",
            Self::Other(_) => "unknown reason",
        };
        write!(f, "{text} ({:#04x})", self.code())
    }
}

/// Ping's and Pong's message data: the empty list.
pub(crate) const EMPTY_LIST: [u8; 1] = [0xc0];
