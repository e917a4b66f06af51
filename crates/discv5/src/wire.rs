//! The Discovery v5.1 wire format (ethereum/devp2p `discv5-wire.md`): masked packet headers
//! of the three packet kinds, and the messages their encrypted part carries.
//!
//! A packet is `masking-iv || masked-header || message`; the header is
//! `static-header || authdata`, masked with AES-128-CTR under the first 16 bytes of the
//! destination's node id. [`decode_packet`] unmasks and checks it; the message stays
//! encrypted until the session layer picks a key and calls
//! [`decrypt_message`](crate::crypto::decrypt_message) with the packet's
//! [`message_ad`](Packet::message_ad), then [`Message::decode`].
//!
//! Records in handshakes and NODES messages stay [`RawRecord`]s, unverified, until the layer
//! that uses one verifies it: a signature check is only paid for records that answer us.

mod message;
mod packet;

pub use devp2p_enr::RawRecord;
pub use message::{MAX_DISTANCE, MAX_DISTANCES, Message, MessageError, RequestId};
pub use packet::{
    IdNonce, MAX_MESSAGE_SIZE, MAX_PACKET_SIZE, MIN_PACKET_SIZE, MaskingIv, Nonce, PROTOCOL_ID,
    PROTOCOL_VERSION, Packet, PacketError, PacketHeader, PacketKind, decode_packet, encode_packet,
};
pub(crate) use packet::{MaskingKey, decode_packet_with, encode_packet_with};
