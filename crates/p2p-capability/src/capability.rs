//! Capability negotiation (rlpx.md, "Message ID-based Multiplexing"): for each name both sides
//! offer, the highest version both speak; message-id ranges follow from 0x10 in alphabetical
//! order of the shared names, each as long as its protocol's message count.

use crate::{CAPABILITY_BASE_ID, CapabilityInfo, MAX_CAPABILITY_NAME};

/// A protocol running over the session, as the protocol itself describes it: `eth/68` with its
/// 17 messages, `snap/1` with 8, or a user's own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Capability {
    /// The name (1 to 8 bytes of ASCII).
    pub name: String,
    /// The version.
    pub version: u32,
    /// How many message ids the protocol uses (its ids are `0..messages`).
    pub messages: u8,
}

impl Capability {
    /// `name/version` with `messages` message ids.
    pub fn new(name: &str, version: u32, messages: u8) -> Self {
        Self {
            name: name.to_owned(),
            version,
            messages,
        }
    }

    /// What Hello announces for it.
    pub fn info(&self) -> CapabilityInfo {
        CapabilityInfo::new(&self.name, self.version)
    }

    /// Whether Hello can announce it: a name of 1 to 8 ASCII bytes.
    pub(crate) fn is_valid(&self) -> bool {
        (1..=MAX_CAPABILITY_NAME).contains(&self.name.len()) && self.name.is_ascii()
    }
}

/// A capability both sides speak, with the message ids it was given in this session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SharedCapability {
    /// The capability, at the version both speak.
    pub capability: Capability,
    /// Its first message id on the wire.
    pub offset: u64,
}

impl SharedCapability {
    /// Whether the wire message id `id` belongs to this capability.
    pub fn contains(&self, id: u64) -> bool {
        id >= self.offset && id - self.offset < u64::from(self.capability.messages)
    }
}

/// Negotiates the capabilities of a session: `ours` (what we run, several versions of a name
/// allowed) against `theirs` (from the peer's Hello). Returns the shared capabilities in wire
/// order, empty when there is none (the session then ends with
/// [`DisconnectReason::UselessPeer`](crate::DisconnectReason::UselessPeer)).
pub fn negotiate(ours: &[Capability], theirs: &[CapabilityInfo]) -> Vec<SharedCapability> {
    let mut chosen: Vec<&Capability> = Vec::new();
    for cap in ours {
        let offered = theirs
            .iter()
            .any(|t| t.name == cap.name && t.version == cap.version);
        if !offered {
            continue;
        }
        match chosen.iter_mut().find(|c| c.name == cap.name) {
            Some(previous) if previous.version < cap.version => *previous = cap,
            Some(_) => {}
            None => chosen.push(cap),
        }
    }
    chosen.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let mut offset = CAPABILITY_BASE_ID;
    chosen
        .into_iter()
        .map(|cap| {
            let shared = SharedCapability {
                capability: cap.clone(),
                offset,
            };
            offset += u64::from(cap.messages);
            shared
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(caps: &[(&str, u32)]) -> Vec<CapabilityInfo> {
        caps.iter()
            .map(|(n, v)| CapabilityInfo::new(n, *v))
            .collect()
    }

    fn table(shared: &[SharedCapability]) -> Vec<(String, u32, u64)> {
        shared
            .iter()
            .map(|s| (s.capability.name.clone(), s.capability.version, s.offset))
            .collect()
    }

    #[test]
    fn nothing_shared() {
        let ours = [Capability::new("eth", 68, 17)];
        assert!(negotiate(&ours, &info(&[("eth", 67), ("snap", 1)])).is_empty());
        assert!(negotiate(&ours, &[]).is_empty());
        assert!(negotiate(&[], &info(&[("eth", 68)])).is_empty());
    }

    #[test]
    fn highest_shared_version() {
        let ours = [
            Capability::new("eth", 70, 18),
            Capability::new("eth", 68, 17),
            Capability::new("eth", 69, 18),
        ];
        // They speak 68 and 69 (and 71, which we do not): 69 wins.
        let shared = negotiate(&ours, &info(&[("eth", 68), ("eth", 71), ("eth", 69)]));
        assert_eq!(table(&shared), [("eth".to_owned(), 69, 0x10)]);
        // Only 68 in common.
        let shared = negotiate(&ours, &info(&[("eth", 68), ("eth", 67)]));
        assert_eq!(table(&shared), [("eth".to_owned(), 68, 0x10)]);
    }

    #[test]
    fn offsets_follow_alphabetical_order() {
        let ours = [
            Capability::new("snap", 1, 8),
            Capability::new("test", 1, 3),
            Capability::new("eth", 68, 17),
            Capability::new("bzz", 2, 5),
        ];
        let shared = negotiate(
            &ours,
            &info(&[("test", 1), ("eth", 68), ("snap", 1), ("les", 4)]),
        );
        assert_eq!(
            table(&shared),
            [
                ("eth".to_owned(), 68, 0x10),
                ("snap".to_owned(), 1, 0x10 + 17),
                ("test".to_owned(), 1, 0x10 + 17 + 8),
            ]
        );
        assert!(shared[0].contains(0x10) && shared[0].contains(0x20));
        assert!(!shared[0].contains(0x21) && shared[1].contains(0x21));
        assert!(shared[2].contains(0x2b) && !shared[2].contains(0x2c));
    }
}
