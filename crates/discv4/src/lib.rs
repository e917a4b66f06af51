//! Node Discovery Protocol v4 (ethereum/devp2p `discv4.md`, EIP-8, EIP-868).
//!
//! - [`wire`]: packets (`hash || signature || type || RLP`), every message type, EIP-8
//!   tolerance (higher Ping versions, extra list elements, trailing bytes), the 1280-byte limit,
//!   Neighbours split to stay under it.
//! - [`Discv4`]: the protocol as a sans-IO state machine over the shared Kademlia table
//!   ([`devp2p_kbucket`]): endpoint proofs (bonds) per node id and IP, valid 24 h; FINDNODE and
//!   ENRRequest answered only to the IP that proved itself; Pong's `to` is the packet's source;
//!   unsolicited Neighbours ignored; iterative lookups (α = 3, k = 16) with retries; random-walk
//!   refresh; liveness revalidation; ENR requests with the record checked against the node;
//!   external address prediction from Pongs, the prediction announced in our Pings and ENR
//!   ([`Config::update_endpoint`]); a per-IP rate limit (IPv6: per /64) and replay
//!   suppression.
//!   Expirations are signed 64-bit Unix times (a "negative" one is expired).
//! - [`Discv4Handle`]: the tokio driver, one UDP socket and a task; its
//!   [`local_record`](Discv4Handle::local_record) and [`local_enr`](Discv4Handle::local_enr)
//!   are the node's current ones.
//!
//! ```
//! use devp2p_discv4::{Message, Ping, Endpoint, SigningKey, wire};
//!
//! let key = SigningKey::from_slice(&[1; 32]).unwrap();
//! let here = Endpoint { ip: [127, 0, 0, 1].into(), udp_port: 30303, tcp_port: 30303 };
//! let ping = Message::Ping(Ping { version: 4, from: here, to: here, expiration: 1_900_000_000, enr_seq: Some(1) });
//! let (bytes, hash) = ping.encode(&key);
//! let packet = wire::decode(&bytes)?;
//! assert_eq!(packet.hash, hash);
//! assert_eq!(packet.message, ping);
//! # Ok::<(), wire::PacketError>(())
//! ```

// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod config;
mod core;
mod driver;
pub mod wire;

pub use crate::core::{
    Discv4, Event, LookupId, MAX_FIND_FAILURES, NodeInfo, PongInfo, RequestError, RequestId,
    Transmit,
};
pub use config::Config;
pub use devp2p_enr::{Builder, Enr, EnrError, NodeRecord, PeerId, RawRecord, SigningKey};
pub use driver::{Discv4Handle, DriverError};
pub use wire::{
    Endpoint, EnrRequest, EnrResponse, FindNode, MAX_PACKET_SIZE, Message, Neighbours, Ping, Pong,
};
