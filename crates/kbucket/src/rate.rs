//! Per-address rate limiting: a token bucket for each source IP, in a map of bounded size.

use std::{collections::HashMap, net::IpAddr, time::Instant};

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets per source IP: each address may spend `burst` at once and earns
/// `per_second` back, up to `burst`. At most `max_addresses` are tracked; when the map is full,
/// the addresses whose bucket has refilled (idle ones) are forgotten, and if every one is
/// busy a new address is refused, so spoofed sources cannot grow the map.
///
/// ```
/// use std::{net::IpAddr, time::{Duration, Instant}};
/// use devp2p_kbucket::IpRateLimit;
///
/// let mut limit = IpRateLimit::new(10, 2, 100);
/// let (now, ip) = (Instant::now(), IpAddr::from([203, 0, 113, 1]));
/// assert!(limit.admit(now, ip) && limit.admit(now, ip));
/// assert!(!limit.admit(now, ip));
/// assert!(limit.admit(now + Duration::from_millis(100), ip));
/// ```
#[derive(Debug)]
pub struct IpRateLimit {
    per_second: f64,
    burst: f64,
    max_addresses: usize,
    buckets: HashMap<IpAddr, Bucket>,
}

impl IpRateLimit {
    /// `per_second` events per address on average, `burst` at once, `max_addresses` tracked.
    pub fn new(per_second: u32, burst: u32, max_addresses: usize) -> Self {
        Self {
            per_second: f64::from(per_second),
            burst: f64::from(burst),
            max_addresses,
            buckets: HashMap::new(),
        }
    }

    /// Whether an event from `ip` at `now` is within its limit; if so it is counted.
    pub fn admit(&mut self, now: Instant, ip: IpAddr) -> bool {
        let (rate, burst) = (self.per_second, self.burst);
        let refilled =
            |b: &Bucket| b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate;
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= self.max_addresses {
            self.buckets.retain(|_, b| refilled(b) < burst);
            if self.buckets.len() >= self.max_addresses {
                return false;
            }
        }
        let bucket = self.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        bucket.tokens = refilled(bucket).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The origin of the virtual clock.
    #[allow(clippy::disallowed_methods)]
    fn start() -> Instant {
        Instant::now()
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([198, 51, 100, last])
    }

    #[test]
    fn a_burst_then_the_rate() {
        let mut limit = IpRateLimit::new(10, 5, 8);
        let now = start();
        assert_eq!((0..8).filter(|_| limit.admit(now, ip(1))).count(), 5);
        // Another address has its own bucket.
        assert!(limit.admit(now, ip(2)));
        // One second earns 10 back, but no more than the burst.
        let later = now + Duration::from_secs(1);
        assert_eq!((0..20).filter(|_| limit.admit(later, ip(1))).count(), 5);
        // 100 ms earn one.
        let soon = later + Duration::from_millis(100);
        assert_eq!((0..3).filter(|_| limit.admit(soon, ip(1))).count(), 1);
    }

    #[test]
    fn a_full_map_forgets_idle_addresses_and_refuses_when_all_are_busy() {
        let mut limit = IpRateLimit::new(1, 2, 3);
        let now = start();
        for last in 1..=3 {
            assert!(limit.admit(now, ip(last)));
        }
        // All three are below their burst: a fourth address is refused.
        assert!(!limit.admit(now, ip(4)));
        assert_eq!(limit.buckets.len(), 3);
        // A second later they have refilled, are forgotten, and the newcomer gets in.
        assert!(limit.admit(now + Duration::from_secs(1), ip(4)));
        assert_eq!(limit.buckets.len(), 1);
    }
}
