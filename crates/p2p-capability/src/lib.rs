//! The devp2p `p2p` protocol and capability multiplexing (ethereum/devp2p `rlpx.md`, "p2p
//! Capability" and "Message ID-based Multiplexing"): what a session looks like once the
//! encrypted RLPx transport is up.
//!
//! - Messages: [`Hello`], Disconnect with every [`DisconnectReason`] (the `[reason]` list and
//!   the bare forms peers send), Ping and Pong. A Hello over 2 KiB, or with a node id that is
//!   not 64 bytes or not the RLPx identity, ends the session; a capability no one could share
//!   (a name over 8 bytes, say) is left out, as go-ethereum leaves it.
//! - [`negotiate`]: per name, the highest version both sides offer; message ids from 0x10 in
//!   alphabetical order of the shared names, each [`Capability`] taking its message count.
//! - [`Session`]: the sans-IO state machine (Hello exchange, negotiation, snappy for p2p v5 with
//!   the limit (16 MiB less one byte) checked before decompressing, Ping after 15 s of silence, Pong deadline,
//!   Ping flood limit, bounded per-capability ingress queues drained in turn).
//! - [`P2pStream`]: the session over an `RlpxStream` for tokio, with a graceful
//!   [`disconnect`](P2pStream::disconnect).
//!
//! ```
//! use std::time::Instant;
//!
//! use devp2p_enr::PeerId;
//! use devp2p_p2p_capability::{Capability, Config, Event, NodeInfo, Session};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (alice_id, bob_id) = (PeerId([1; 64]), PeerId([2; 64]));
//! let info = |id, name: &str| NodeInfo { client_id: name.into(), listen_port: 30303, id };
//! let caps = vec![Capability::new("eth", 68, 17), Capability::new("snap", 1, 8)];
//! # #[allow(clippy::disallowed_methods)]
//! let now = Instant::now();
//! let mut alice = Session::new(Config::default(), info(alice_id, "alice"), caps.clone(), bob_id, now)?;
//! let mut bob = Session::new(Config::default(), info(bob_id, "bob"), caps, alice_id, now)?;
//!
//! // Each Hello goes across (over RLPx in real life).
//! bob.handle_message(now, alice.poll_transmit().unwrap());
//! alice.handle_message(now, bob.poll_transmit().unwrap());
//! assert_eq!(alice.poll_event(), Some(Event::Established));
//!
//! // snap/1 got ids 0x21.. (after eth's 17 from 0x10): its message 0 goes out as 0x21.
//! alice.send(1, 0x00, vec![0xc0].into())?;
//! let wire = alice.poll_transmit().unwrap();
//! assert_eq!(wire.id, 0x21);
//! bob.handle_message(now, wire);
//! let message = bob.poll_message().unwrap();
//! assert_eq!((message.capability, message.id, &message.data[..]), (1, 0x00, &[0xc0][..]));
//! # Ok(()) }
//! ```

// The README's example compiles as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod capability;
mod error;
mod keepalive;
mod messages;
mod mux;
mod session;
mod snappy;
mod stream;

pub use capability::{Capability, SharedCapability, negotiate};
pub use error::{Disconnected, P2pError, ProtocolError, SendError};
pub use messages::{
    CAPABILITY_BASE_ID, CapabilityInfo, DISCONNECT_ID, DisconnectReason, HELLO_ID, Hello,
    MAX_CAPABILITY_NAME, MAX_HELLO_SIZE, P2P_VERSION, PING_ID, PONG_ID,
};
pub use mux::CapabilityMessage;
pub use session::{Config, Event, LocalHelloError, MAX_SENT_HELLO_SIZE, NodeInfo, Session};
pub use snappy::MAX_DECOMPRESSED_SIZE;
pub use stream::P2pStream;
