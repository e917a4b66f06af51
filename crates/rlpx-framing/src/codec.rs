//! The frame codec as a `tokio_util::codec` [`Encoder`] and [`Decoder`] of [`Message`]s.

use bytes::BytesMut;
use devp2p_ecies::Secrets;
use tokio_util::codec::{Decoder, Encoder};

use crate::{FrameCodec, Message, RlpxError};

/// [`FrameCodec`] for `tokio_util`'s `Framed`.
#[derive(Debug)]
pub struct RlpxCodec {
    frames: FrameCodec,
}

impl RlpxCodec {
    /// A codec for the session `secrets` describe, accepting frames of up to `max_frame_size`.
    pub fn new(secrets: &Secrets, max_frame_size: usize) -> Self {
        Self {
            frames: FrameCodec::new(secrets, max_frame_size),
        }
    }

    /// The largest frame accepted, in bytes.
    pub const fn max_frame_size(&self) -> usize {
        self.frames.max_frame_size()
    }

    /// Sets the largest frame accepted from the next frame header on
    /// ([`FrameCodec::set_max_frame_size`]).
    pub fn set_max_frame_size(&mut self, max_frame_size: usize) {
        self.frames.set_max_frame_size(max_frame_size);
    }
}

impl Encoder<Message> for RlpxCodec {
    type Error = RlpxError;

    fn encode(&mut self, message: Message, dst: &mut BytesMut) -> Result<(), Self::Error> {
        let (id, len) = message.id_rlp();
        self.frames
            .encode(id.get(..len).unwrap_or_default(), &message.data, dst)?;
        Ok(())
    }
}

impl Decoder for RlpxCodec {
    type Item = Message;
    type Error = RlpxError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, Self::Error> {
        match self.frames.decode(src)? {
            // A frame without a message id ends the read side like any bad frame.
            Some(body) => Message::from_body(body).map(Some).map_err(|e| {
                self.frames.fail(e.clone());
                e.into()
            }),
            None => Ok(None),
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Message>, Self::Error> {
        match self.decode(src)? {
            Some(message) => Ok(Some(message)),
            None if src.is_empty() && !self.frames.mid_frame() => Ok(None),
            None => Err(RlpxError::ClosedMidFrame),
        }
    }
}
