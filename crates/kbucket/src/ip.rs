//! IP range accounting for the limits of [`IpLimits`]: which range an address counts in and how
//! many table entries each range holds.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::IpLimits;

/// The range an address is counted in: its /24 (IPv4) or /64 (IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IpPrefix {
    V4([u8; 3]),
    V6([u8; 8]),
}

impl IpPrefix {
    fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Self::V4([a, b, c])
            }
            IpAddr::V6(v6) => {
                let [a, b, c, d, e, f, g, h, ..] = v6.octets();
                Self::V6([a, b, c, d, e, f, g, h])
            }
        }
    }
}

/// Who an address stands for when counting sources (address votes, rate limits): an IPv4
/// address itself, an IPv6 address its /64 (a single host or subscriber usually gets a whole
/// /64), an IPv4-mapped IPv6 address the IPv4 one.
pub(crate) fn host(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
    }
}

/// Whether `ip` is loopback, private, link-local or unspecified.
pub(crate) fn is_lan(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_lan_v4(v4),
        IpAddr::V6(v6) => is_lan_v6(v6),
    }
}

fn is_lan_v4(ip: Ipv4Addr) -> bool {
    ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
}

fn is_lan_v6(ip: Ipv6Addr) -> bool {
    ip.is_loopback() || ip.is_unique_local() || ip.is_unicast_link_local() || ip.is_unspecified()
}

/// The limits and the table-wide count per range, kept in step with the buckets.
#[derive(Debug, Clone)]
pub(crate) struct IpTracker {
    limits: Option<IpLimits>,
    table: HashMap<IpPrefix, usize>,
}

impl IpTracker {
    pub(crate) fn new(limits: Option<IpLimits>) -> Self {
        Self {
            limits,
            table: HashMap::new(),
        }
    }

    /// The range `ip` counts in, or `None` when it is not counted (no IP, no limits, or an
    /// exempt LAN address).
    pub(crate) fn prefix(&self, ip: Option<IpAddr>) -> Option<IpPrefix> {
        let limits = self.limits.as_ref()?;
        let ip = ip?;
        if limits.exempt_lan && is_lan(ip) {
            return None;
        }
        Some(IpPrefix::of(ip))
    }

    /// Whether one more entry of `prefix` fits, given `in_bucket` entries of it in its bucket.
    pub(crate) fn allows(&self, prefix: Option<IpPrefix>, in_bucket: usize) -> bool {
        let (Some(prefix), Some(limits)) = (prefix, self.limits.as_ref()) else {
            return true;
        };
        let in_table = self.table.get(&prefix).copied().unwrap_or(0);
        in_bucket < limits.per_bucket && in_table < limits.per_table
    }

    /// Counts an entry of `prefix` into the table.
    pub(crate) fn add(&mut self, prefix: Option<IpPrefix>) {
        if let Some(prefix) = prefix {
            *self.table.entry(prefix).or_insert(0) += 1;
        }
    }

    /// Counts an entry of `prefix` out of the table.
    pub(crate) fn remove(&mut self, prefix: Option<IpPrefix>) {
        let Some(prefix) = prefix else { return };
        if let Some(count) = self.table.get_mut(&prefix) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.table.remove(&prefix);
            }
        }
    }

    /// The table-wide counts (tests check they stay in step with the buckets).
    #[cfg(test)]
    pub(crate) fn counts(&self) -> &HashMap<IpPrefix, usize> {
        &self.table
    }
}

/// Whether a node at `ip` may be taken from a list of nodes (discv4 Neighbours, discv5 NODES)
/// sent from `sender`: never an unspecified, multicast or broadcast address; a loopback address
/// only from a loopback sender; a LAN address only from a LAN or loopback sender (as
/// go-ethereum's `CheckRelayIP`). A remote node cannot make us send packets into our own host
/// or network.
pub fn relay_allowed(sender: IpAddr, ip: IpAddr) -> bool {
    let (sender, ip) = (sender.to_canonical(), ip.to_canonical());
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    if ip.is_unspecified() || ip.is_multicast() || broadcast {
        return false;
    }
    if ip.is_loopback() && !sender.is_loopback() {
        return false;
    }
    !is_lan(ip) || is_lan(sender)
}

#[cfg(test)]
mod relay_tests {
    use super::relay_allowed;

    #[test]
    fn relayed_addresses_stay_within_the_senders_reach() {
        let ip = |s: &str| s.parse().unwrap();
        // Public sender: public nodes only.
        assert!(relay_allowed(ip("198.51.100.1"), ip("203.0.113.5")));
        assert!(!relay_allowed(ip("198.51.100.1"), ip("127.0.0.1")));
        assert!(!relay_allowed(ip("198.51.100.1"), ip("192.168.1.10")));
        assert!(!relay_allowed(ip("198.51.100.1"), ip("fd00::1")));
        assert!(!relay_allowed(ip("198.51.100.1"), ip("::ffff:127.0.0.1")));
        // LAN sender: LAN and public, no loopback.
        assert!(relay_allowed(ip("10.0.0.1"), ip("192.168.1.10")));
        assert!(!relay_allowed(ip("10.0.0.1"), ip("127.0.0.1")));
        // Loopback sender: anything routable.
        assert!(relay_allowed(ip("127.0.0.1"), ip("127.0.0.2")));
        assert!(relay_allowed(ip("127.0.0.1"), ip("10.0.0.1")));
        // Never these.
        for bad in ["0.0.0.0", "255.255.255.255", "224.0.0.1", "::", "ff02::1"] {
            assert!(!relay_allowed(ip("127.0.0.1"), ip(bad)), "{bad}");
        }
    }
}
