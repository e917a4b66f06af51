//! The table's settings: bucket size (Kademlia's k), replacement cache size and IP limits.
//! Defaults follow ethereum/devp2p `discv4.md` ("Kademlia Table") and geth's `p2p/discover`.

/// The settings of a [`Table`](crate::Table). Fixed for the table's lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Entries per bucket, Kademlia's `k`. Default 16 (`discv4.md`). Meaningful from 1 up; at 0
    /// every new node goes to the replacement cache and none is ever promoted.
    pub bucket_size: usize,
    /// Replacement cache entries per bucket; when the cache is full the oldest is dropped.
    /// Default 10 (geth's `maxReplacements`). 0 disables the cache: nodes arriving at a full
    /// bucket are dropped.
    pub replacements: usize,
    /// Limits on nodes from one IP range, against an attacker filling the table from one
    /// network. Default `Some(IpLimits::default())`; `None` counts nothing.
    pub ip_limits: Option<IpLimits>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bucket_size: 16,
            replacements: 10,
            ip_limits: Some(IpLimits::default()),
        }
    }
}

/// How many table entries may share an IP range: a /24 for IPv4, a /48 for IPv6 (IPv4-mapped
/// IPv6 addresses count as IPv4). Entries without an IP are not counted; nor, with
/// [`exempt_lan`](Self::exempt_lan), are LAN addresses. The defaults are geth's
/// (`bucketIPLimit`, `tableIPLimit`, both per /24).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpLimits {
    /// Nodes of one range in one bucket, its replacement cache included. Default 2. 0 refuses
    /// every counted address.
    pub per_bucket: usize,
    /// Nodes of one range in the whole table, replacement caches included. Default 10. 0
    /// refuses every counted address.
    pub per_table: usize,
    /// Whether LAN addresses are exempt: loopback (127/8, `::1`), private (10/8, 172.16/12,
    /// 192.168/16, `fc00::/7`), link-local (169.254/16, `fe80::/10`) and unspecified. Default
    /// `true`, so local testnets and simulations are not limited.
    pub exempt_lan: bool,
}

impl Default for IpLimits {
    fn default() -> Self {
        Self {
            per_bucket: 2,
            per_table: 10,
            exempt_lan: true,
        }
    }
}
