//! IP range accounting for the limits of [`IpLimits`]: which range an address counts in and how
//! many table entries each range holds.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::IpLimits;

/// The range an address is counted in: its /24 (IPv4) or /48 (IPv6: a site's usual
/// allocation, and the least a single holder can be assumed to have; counting /64s would let
/// one /48 stand for 65536 ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IpPrefix {
    V4([u8; 3]),
    V6([u8; 6]),
}

impl IpPrefix {
    fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Self::V4([a, b, c])
            }
            IpAddr::V6(v6) => {
                let [a, b, c, d, e, f, ..] = v6.octets();
                Self::V6([a, b, c, d, e, f])
            }
        }
    }
}

/// `ip` with an IPv6 address cut to its first `bits` bits; an IPv4 address (also one mapped
/// into IPv6) as it is.
fn v6_prefix(ip: IpAddr, bits: u32) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & mask))
        }
    }
}

/// Who an address stands for when limiting a source's rate: an IPv4 address itself, an IPv6
/// address its /64 (a single host or subscriber usually gets a whole /64).
pub(crate) fn host(ip: IpAddr) -> IpAddr {
    v6_prefix(ip, 64)
}

/// Who an address stands for when counting independent reporters (address votes): an IPv4
/// address itself, an IPv6 address its /48, as for the table's limits.
pub(crate) fn site(ip: IpAddr) -> IpAddr {
    v6_prefix(ip, 48)
}

/// How far `ip` reaches, to choose between a record's IPv4 and IPv6 address (go-ethereum's
/// locality score): 0 unspecified, 1 loopback, 2 any other LAN address (private, unique local,
/// link-local), 3 anything else.
pub fn locality(ip: IpAddr) -> u8 {
    let ip = ip.to_canonical();
    if ip.is_unspecified() {
        0
    } else if ip.is_loopback() {
        1
    } else if is_lan(ip) {
        2
    } else {
        3
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

/// Special-purpose IPv4 ranges that are no node's address: IANA's IPv4 special-purpose
/// registry as go-ethereum lists it (documentation, benchmarking, 6to4 relay anycast, AS112,
/// ...), and "this network", 0.0.0.0/8.
const SPECIAL_V4: [(Ipv4Addr, u32); 14] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),
    (Ipv4Addr::new(192, 0, 0, 0), 29),
    (Ipv4Addr::new(192, 0, 0, 9), 32),
    (Ipv4Addr::new(192, 0, 0, 170), 32),
    (Ipv4Addr::new(192, 0, 0, 171), 32),
    (Ipv4Addr::new(192, 0, 2, 0), 24),
    (Ipv4Addr::new(192, 31, 196, 0), 24),
    (Ipv4Addr::new(192, 52, 193, 0), 24),
    (Ipv4Addr::new(192, 88, 99, 0), 24),
    (Ipv4Addr::new(192, 175, 48, 0), 24),
    (Ipv4Addr::new(198, 18, 0, 0), 15),
    (Ipv4Addr::new(198, 51, 100, 0), 24),
    (Ipv4Addr::new(203, 0, 113, 0), 24),
    (Ipv4Addr::new(255, 255, 255, 255), 32),
];

/// Special-purpose IPv6 ranges that are no node's address: IANA's IPv6 special-purpose
/// registry as go-ethereum lists it (discard-only, Teredo, benchmarking, ORCHID,
/// documentation, 6to4, ...).
const SPECIAL_V6: [(Ipv6Addr, u32); 11] = [
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x2001, 1, 0, 0, 0, 0, 0, 1), 128),
    (Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0), 48),
    (Ipv6Addr::new(0x2001, 3, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x2001, 4, 0x112, 0, 0, 0, 0, 0), 48),
    (Ipv6Addr::new(0x2001, 5, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x2001, 0x10, 0, 0, 0, 0, 0, 0), 28),
    (Ipv6Addr::new(0x2001, 0x20, 0, 0, 0, 0, 0, 0), 28),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16),
];

/// Whether `ip` is multicast, broadcast or in a special-purpose range: never a node's address.
fn is_special(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            v4.is_multicast()
                || SPECIAL_V4.iter().any(|(net, len)| {
                    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                    v4.to_bits() & mask == net.to_bits()
                })
        }
        IpAddr::V6(v6) => {
            v6.is_multicast()
                || SPECIAL_V6.iter().any(|(net, len)| {
                    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
                    v6.to_bits() & mask == net.to_bits()
                })
        }
    }
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
/// sent from `sender`, or passed on to a requester at `sender`: never an unspecified,
/// multicast, broadcast or other special-purpose address (documentation, benchmarking, 6to4,
/// Teredo, ...); a loopback address only from a loopback sender; a LAN address only from a
/// LAN or loopback sender (as go-ethereum's `CheckRelayIP`). A remote node cannot make us
/// send packets into our own host or network.
pub fn relay_allowed(sender: IpAddr, ip: IpAddr) -> bool {
    let (sender, ip) = (sender.to_canonical(), ip.to_canonical());
    if ip.is_unspecified() || is_special(ip) {
        return false;
    }
    if ip.is_loopback() && !sender.is_loopback() {
        return false;
    }
    !is_lan(ip) || is_lan(sender)
}

/// Whether a node listening on UDP `port` may be taken from a list of nodes: not port 0 and
/// not a privileged port (at most 1024), so that a remote node cannot aim our discovery
/// packets at a third party's DNS, NTP or other well-known service (go-ethereum refuses these
/// too).
pub const fn port_allowed(port: u16) -> bool {
    port > 1024
}

/// Where a socket bound to `local` sends a datagram for `dst`: an IPv4 destination from an IPv6
/// socket (a dual-stack `[::]`) goes to its IPv4-mapped form, the one every platform accepts
/// there (Linux also takes the plain IPv4 form, macOS and the BSDs refuse it). The cores keep
/// IPv4 addresses in their plain form, whatever socket their datagrams came through.
pub fn socket_destination(local: SocketAddr, dst: SocketAddr) -> SocketAddr {
    match (local, dst) {
        (SocketAddr::V6(_), SocketAddr::V4(v4)) => {
            SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
        }
        _ => dst,
    }
}

#[cfg(test)]
mod relay_tests {
    use super::{port_allowed, relay_allowed, socket_destination};

    #[test]
    fn an_ipv6_socket_sends_to_ipv4_in_the_mapped_form() {
        let addr =
            |s: &str| -> std::net::SocketAddr { s.parse().unwrap_or_else(|_| panic!("{s}")) };
        let (v4, v6) = (addr("127.0.0.1:30303"), addr("[::1]:30303"));
        let (any4, any6) = (addr("0.0.0.0:9000"), addr("[::]:9000"));
        assert_eq!(
            socket_destination(any6, v4),
            addr("[::ffff:127.0.0.1]:30303")
        );
        assert_eq!(socket_destination(any6, v6), v6);
        assert_eq!(socket_destination(any4, v4), v4);
        assert_eq!(socket_destination(any4, v6), v6);
    }

    #[test]
    fn privileged_ports_are_not_taken() {
        assert!(!port_allowed(0));
        assert!(!port_allowed(53));
        assert!(!port_allowed(1024));
        assert!(port_allowed(1025));
        assert!(port_allowed(30303));
    }

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap_or_else(|_| panic!("{s}"))
    }

    #[test]
    fn relayed_addresses_stay_within_the_senders_reach() {
        // Public sender: public nodes only.
        assert!(relay_allowed(ip("11.1.2.3"), ip("12.0.0.5")));
        assert!(relay_allowed(ip("11.1.2.3"), ip("2a01:4f8::1")));
        assert!(!relay_allowed(ip("11.1.2.3"), ip("127.0.0.1")));
        assert!(!relay_allowed(ip("11.1.2.3"), ip("192.168.1.10")));
        assert!(!relay_allowed(ip("11.1.2.3"), ip("fd00::1")));
        assert!(!relay_allowed(ip("11.1.2.3"), ip("::ffff:127.0.0.1")));
        // LAN sender: LAN and public, no loopback.
        assert!(relay_allowed(ip("10.0.0.1"), ip("192.168.1.10")));
        assert!(relay_allowed(ip("10.0.0.1"), ip("12.0.0.5")));
        assert!(!relay_allowed(ip("10.0.0.1"), ip("127.0.0.1")));
        // Loopback sender: anything routable.
        assert!(relay_allowed(ip("127.0.0.1"), ip("127.0.0.2")));
        assert!(relay_allowed(ip("127.0.0.1"), ip("10.0.0.1")));
    }

    #[test]
    fn special_purpose_addresses_are_never_relayed() {
        // Each range at its first and last address, from any sender; and the addresses just
        // outside some of them, which are ordinary.
        for bad in [
            "0.0.0.0",
            "0.1.2.3",
            "0.255.255.255",
            "192.0.0.0",
            "192.0.0.7",
            "192.0.0.9",
            "192.0.0.170",
            "192.0.0.171",
            "192.0.2.0",
            "192.0.2.255",
            "192.31.196.1",
            "192.52.193.1",
            "192.88.99.1",
            "192.175.48.1",
            "198.18.0.0",
            "198.19.255.255",
            "198.51.100.1",
            "203.0.113.255",
            "255.255.255.255",
            "224.0.0.1",
            "::",
            "ff02::1",
            "100::1",
            "2001::1",
            "2001:0:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:1::1",
            "2001:2::1",
            "2001:3::1",
            "2001:4:112::1",
            "2001:5::1",
            "2001:10::1",
            "2001:1f:ffff::1",
            "2001:20::1",
            "2001:db8::1",
            "2002:a00:1::1",
            "::ffff:192.0.2.1",
        ] {
            for sender in ["127.0.0.1", "10.0.0.1", "11.1.2.3"] {
                assert!(!relay_allowed(ip(sender), ip(bad)), "{bad} from {sender}");
            }
        }
        for good in [
            "1.0.0.1",
            "192.0.0.8",
            "192.0.1.255",
            "192.0.3.0",
            "198.17.255.255",
            "198.20.0.0",
            "203.0.112.255",
            "203.0.114.0",
            "100:0:0:1::1",
            "2001:1::2",
            "2001:30::1",
            "2003::1",
        ] {
            assert!(relay_allowed(ip("11.1.2.3"), ip(good)), "{good}");
        }
    }
}
