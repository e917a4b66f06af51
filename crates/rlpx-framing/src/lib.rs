//! RLPx framing (ethereum/devp2p `rlpx.md`, "Framing"): frames encrypted with AES-256-CTR and
//! authenticated with keccak256 MACs, on top of the secrets of the `devp2p-ecies` handshake.
//!
//! - [`FrameCodec`]: the sans-IO core. Encodes a message into a frame, decodes frames off a
//!   buffer, checks each MAC before decrypting what it covers, refuses frames over the size
//!   limit as soon as their header is read.
//! - [`RlpxCodec`]: the same as a `tokio_util` `Encoder`/`Decoder` of [`Message`]s.
//! - [`RlpxStream`]: handshake (with a timeout) and framing over any `AsyncRead + AsyncWrite`,
//!   as a `Stream` of received messages and a `Sink` of messages to send.
//!
//! ```no_run
//! use devp2p_enr::PeerId;
//! use devp2p_rlpx_framing::{Config, Message, NodeKey, RlpxStream};
//! use futures::{SinkExt, StreamExt};
//! use k256::SecretKey;
//!
//! # async fn run(remote: PeerId) -> Result<(), Box<dyn std::error::Error>> {
//! let key = NodeKey::new(SecretKey::from_slice(&[1; 32])?); // derives the id once
//! let tcp = tokio::net::TcpStream::connect("127.0.0.1:30303").await?;
//! let mut rlpx = RlpxStream::connect(tcp, &key, &remote, &Config::default()).await?;
//! rlpx.send(Message::new(0x02, vec![0xc0])).await?; // p2p Ping
//! let reply = rlpx.next().await;
//! # Ok(()) }
//! ```

// The README's example compiles as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod codec;
mod error;
mod frame;
mod keccak;
mod message;
mod stream;

pub use codec::RlpxCodec;
/// A node's static key with its id derived once, as [`RlpxStream::connect`] and
/// [`RlpxStream::accept`] take it.
pub use devp2p_ecies::NodeKey;
pub use error::{FrameError, RlpxError};
pub use frame::{FrameCodec, MAX_FRAME_SIZE};
pub use message::Message;
pub use stream::{Config, RlpxStream};
