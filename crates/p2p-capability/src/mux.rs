//! The multiplexer: wire message ids to (capability, relative id) and back, and per-capability
//! ingress queues, bounded in messages and bytes and drained in turn, so one protocol's backlog
//! neither grows without bound nor holds back the others' messages.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::{SendError, SharedCapability};

/// A message of a shared capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityMessage {
    /// Index of the capability in the session's shared capabilities.
    pub capability: usize,
    /// The message id relative to the capability (`0` is its first message).
    pub id: u8,
    /// The message data, decompressed.
    pub data: Bytes,
}

#[derive(Debug, Default)]
struct Queue {
    messages: VecDeque<(u8, Bytes)>,
    bytes: usize,
}

/// Routing and ingress queues of an established session.
#[derive(Debug, Default)]
pub(crate) struct Multiplexer {
    shared: Vec<SharedCapability>,
    queues: Vec<Queue>,
    /// The queue to look at first in the next [`pop`](Self::pop).
    turn: usize,
    max_messages: usize,
    max_bytes: usize,
}

impl Multiplexer {
    pub(crate) fn new(
        shared: Vec<SharedCapability>,
        max_messages: usize,
        max_bytes: usize,
    ) -> Self {
        Self {
            queues: shared.iter().map(|_| Queue::default()).collect(),
            shared,
            turn: 0,
            max_messages,
            max_bytes,
        }
    }

    pub(crate) fn shared(&self) -> &[SharedCapability] {
        &self.shared
    }

    /// The capability and relative id of wire id `id`.
    pub(crate) fn route(&self, id: u64) -> Option<(usize, u8)> {
        self.shared
            .iter()
            .enumerate()
            .find(|(_, cap)| cap.contains(id))
            .and_then(|(index, cap)| Some((index, u8::try_from(id - cap.offset).ok()?)))
    }

    /// The wire id of message `id` of capability `capability`.
    pub(crate) fn wire_id(&self, capability: usize, id: u8) -> Result<u64, SendError> {
        let cap = self
            .shared
            .get(capability)
            .ok_or(SendError::UnknownCapability(capability))?;
        if id >= cap.capability.messages {
            return Err(SendError::UnknownMessage {
                id,
                count: cap.capability.messages,
            });
        }
        Ok(cap.offset + u64::from(id))
    }

    /// Queues a received message.
    pub(crate) fn push(&mut self, capability: usize, id: u8, data: Bytes) {
        if let Some(queue) = self.queues.get_mut(capability) {
            queue.bytes += data.len();
            queue.messages.push_back((id, data));
        }
    }

    /// The next received message, taking the capabilities in turn.
    pub(crate) fn pop(&mut self) -> Option<CapabilityMessage> {
        let count = self.queues.len();
        for step in 0..count {
            let index = (self.turn + step) % count;
            let Some(queue) = self.queues.get_mut(index) else {
                continue;
            };
            if let Some((id, data)) = queue.messages.pop_front() {
                queue.bytes = queue.bytes.saturating_sub(data.len());
                self.turn = (index + 1) % count;
                return Some(CapabilityMessage {
                    capability: index,
                    id,
                    data,
                });
            }
        }
        None
    }

    /// Whether some capability's queue has reached its limit: the session then stops taking
    /// input until the application has drained it.
    pub(crate) fn is_full(&self) -> bool {
        self.queues
            .iter()
            .any(|q| q.messages.len() >= self.max_messages || q.bytes >= self.max_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Capability, CapabilityInfo, negotiate};

    fn mux(max_messages: usize, max_bytes: usize) -> Multiplexer {
        let ours = [
            Capability::new("eth", 68, 17),
            Capability::new("test", 1, 3),
        ];
        let theirs = [
            CapabilityInfo::new("eth", 68),
            CapabilityInfo::new("test", 1),
        ];
        Multiplexer::new(negotiate(&ours, &theirs), max_messages, max_bytes)
    }

    #[test]
    fn routes_both_ways() {
        let m = mux(10, 1000);
        assert_eq!(m.route(0x0f), None);
        assert_eq!(m.route(0x10), Some((0, 0)));
        assert_eq!(m.route(0x20), Some((0, 16)));
        assert_eq!(m.route(0x21), Some((1, 0)));
        assert_eq!(m.route(0x23), Some((1, 2)));
        assert_eq!(m.route(0x24), None);
        assert_eq!(m.route(u64::MAX), None);
        assert_eq!(m.wire_id(0, 16), Ok(0x20));
        assert_eq!(m.wire_id(1, 2), Ok(0x23));
        assert_eq!(
            m.wire_id(1, 3),
            Err(SendError::UnknownMessage { id: 3, count: 3 })
        );
        assert_eq!(m.wire_id(2, 0), Err(SendError::UnknownCapability(2)));
    }

    #[test]
    fn drains_in_turn() {
        let mut m = mux(100, 1 << 20);
        for i in 0..5 {
            m.push(0, i, Bytes::from(vec![i; 10]));
        }
        m.push(1, 0, Bytes::from_static(b"t0"));
        m.push(1, 1, Bytes::from_static(b"t1"));
        let order: Vec<(usize, u8)> = core::iter::from_fn(|| m.pop())
            .map(|msg| (msg.capability, msg.id))
            .collect();
        assert_eq!(
            order,
            [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (0, 3), (0, 4)]
        );
    }

    #[test]
    fn full_by_count_or_bytes() {
        let mut m = mux(2, 100);
        m.push(1, 0, Bytes::from_static(b"a"));
        assert!(!m.is_full());
        m.push(1, 0, Bytes::from_static(b"b"));
        assert!(m.is_full());
        m.pop();
        m.pop();
        assert!(!m.is_full());
        m.push(0, 0, Bytes::from(vec![0; 100]));
        assert!(m.is_full());
        m.pop();
        assert!(!m.is_full());
    }
}
