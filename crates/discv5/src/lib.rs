//! Node Discovery Protocol v5.1 (ethereum/devp2p `discv5-wire.md`, `discv5-theory.md`): the
//! wire format and the handshake's cryptography, sessions, the node as a sans-IO core, and a
//! tokio driver for it.
//!
//! - [`wire`]: packets (`masking-iv || masked-header || message`) of the three kinds — ordinary
//!   message, WHOAREYOU, handshake — unmasked and checked by [`wire::decode_packet`], made by
//!   [`wire::encode_packet`]; the messages PING, PONG, FINDNODE, NODES, TALKREQ and TALKRESP
//!   ([`Message`]). Every limit is checked: 63 to 1280 bytes a packet, the authdata size each
//!   flag prescribes, records of at most 300 bytes, request ids of at most 8 bytes, at most 256
//!   FINDNODE distances (one over 256 is kept, and matches no node). Records stay unverified
//!   ([`wire::RawRecord`]) until the session or the node uses one.
//! - [`crypto`]: ECDH with the compressed shared point, HKDF-SHA256 session keys, the
//!   id-signature (sign and verify) and AES-128-GCM for messages.
//! - [`session`]: sessions and handshakes, sans-IO: messages in and out under per-node session
//!   keys, WHOAREYOU challenges (repeated unchanged while pending, kept until a handshake
//!   succeeds, the oldest replaced when too many are pending), the handshake both ways,
//!   sessions keyed by node id and address.
//! - [`Discv5`]: the node, sans-IO, over the sessions and the shared Kademlia table
//!   ([`devp2p_kbucket`]): PING/PONG, FINDNODE served by log distance (distance 0: our record;
//!   at most 16 records, up to 1000 bytes of them per NODES message), TALKREQ routed to
//!   registered protocols (others get an empty TALKRESP), answers matched to requests by node, address, request id and
//!   kind (PONG to PING, NODES to FINDNODE, TALKRESP to TALKREQ), NODES records verified only
//!   in such an answer, lookups by log distance, bootstrapping from records, revalidation, a
//!   newer record fetched when a PONG announces one, our external address predicted from
//!   PONGs.
//! - [`Discv5Handle`]: the tokio driver (one UDP socket, a task): `ping`, `find_node`,
//!   `talk_req`, `lookup`, `add_enr`, `register_talk_handler`, events. A call runs the core
//!   on the caller's thread and sends at once; the task receives and keeps time.
//!
//! Not implemented: the topic messages (REGTOPIC, REGCONFIRMATION, TOPICQUERY, TOPICNODES),
//! as in go-ethereum.
//!
//! Feature `libsecp256k1`: the handshake's secp256k1 work (ECDH, the id-signature, record
//! signatures) runs on libsecp256k1 (C code) instead of the pure-Rust `k256`, with the same
//! results (the README has the benchmark of both against sigp's `discv5`).
//!
//! ```
//! use devp2p_discv5::{Message, NodeId, RequestId, crypto, wire::{self, PacketHeader, PacketKind}};
//!
//! let (a, b) = (NodeId([0xaa; 32]), NodeId([0xbb; 32]));
//! let key = [7; 16];
//! let header = PacketHeader { masking_iv: [1; 16], nonce: [2; 12], kind: PacketKind::Message { src_id: a } };
//! let ping = Message::Ping { req_id: RequestId::new(&[1, 2]).unwrap(), enr_seq: 5 };
//! let sealed = crypto::encrypt_message(&key, &header.nonce, &ping.encode(), &header.message_ad());
//! let datagram = wire::encode_packet(&b, &header, &sealed)?;
//!
//! // Node b unmasks the header, then decrypts with the session key it holds for a.
//! let packet = wire::decode_packet(&b, &datagram)?;
//! assert_eq!(packet.header, header);
//! let plaintext = crypto::decrypt_message(&key, &packet.header.nonce, packet.message, &packet.message_ad)?;
//! assert_eq!(Message::decode(&plaintext)?, ping);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod core;
pub mod crypto;
mod driver;
mod expiring;
pub mod session;
pub mod wire;

pub use crate::core::{
    Config, Discv5, Event, IpMode, LookupId, NodeEntry, PongInfo, QueryId, RequestError, udp_addr,
    udp_addr_in,
};
pub use driver::{Discv5Handle, DriverError, TalkRequest};

pub use devp2p_enr::{Builder, Enr, EnrError, NodeId, PublicKey, SigningKey};
pub use wire::{Message, RequestId};
