//! RLPx messages: a frame body is `msg-id || msg-data`, the id an RLP integer (rlpx.md).

use bytes::{Bytes, BytesMut};
use devp2p_rlp_codec::{Encodable, Rlp};

use crate::FrameError;

/// One RLPx message: its id and its data (as sent: the capability layer above compresses and
/// decodes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Message id (0x00–0x0f: `p2p`; 0x10 and up: capabilities).
    pub id: u64,
    /// Message data. A received message's data is a slice of the buffer its frame was read
    /// into, not a copy: a message kept long keeps that buffer (up to the frame size) alive;
    /// copy the data (`Bytes::copy_from_slice`) to keep a small message from a large frame.
    pub data: Bytes,
}

impl Message {
    /// A message with `id` and `data`.
    pub fn new(id: u64, data: impl Into<Bytes>) -> Self {
        Self {
            id,
            data: data.into(),
        }
    }

    /// The RLP of the id, on the stack.
    pub(crate) fn id_rlp(&self) -> ([u8; 9], usize) {
        let mut buf = [0u8; 9];
        let len = self.id.length();
        self.id.encode(&mut &mut buf[..]);
        (buf, len)
    }

    /// Splits a decrypted frame body into id and data without copying the data.
    pub(crate) fn from_body(mut body: BytesMut) -> Result<Self, FrameError> {
        let mut rlp = Rlp::new(&body);
        let id = rlp.decode::<u64>().map_err(FrameError::InvalidMessageId)?;
        let used = body.len() - rlp.remaining().len();
        let data = body.split_off(used).freeze();
        Ok(Self { id, data })
    }
}
