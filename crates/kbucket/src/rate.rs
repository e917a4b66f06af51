//! Per-address rate limiting: a token bucket for each source IP, in a map of bounded size.

use std::{collections::HashMap, net::IpAddr, time::Instant};

use crate::ip::host;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets per source host: each IPv4 address, or IPv6 /64 (one host or subscriber
/// usually has a whole /64 to send from), may spend `burst` at once and earns `per_second`
/// back, up to `burst`. At most `max_addresses` are tracked, so spoofed sources cannot grow
/// the map. When a newcomer finds it full, the fuller half of the buckets is forgotten (the
/// refilled ones first): a flood from many sources cannot lock real newcomers out, and an
/// address that has spent its tokens keeps its bucket while at most half the tracked ones are
/// emptier (a flood that spends its own buckets to push it out pays more than it gets back).
/// One pass
/// over the map makes room for half of it, so the work per newcomer stays constant.
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

    /// Whether an event from `ip` at `now` is within its host's limit (see [`IpRateLimit`]);
    /// if so it is counted.
    pub fn admit(&mut self, now: Instant, ip: IpAddr) -> bool {
        let ip = host(ip);
        let (rate, burst) = (self.per_second, self.burst);
        let refilled = |b: &Bucket| {
            (b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate).min(burst)
        };
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= self.max_addresses {
            if self.max_addresses == 0 {
                return false;
            }
            forget_fuller_half(&mut self.buckets, |b| refilled(b));
        }
        let bucket = self.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        bucket.tokens = refilled(bucket);
        bucket.last = now;
        let admitted = bucket.tokens >= 1.0;
        if admitted {
            bucket.tokens -= 1.0;
        }
        admitted
    }
}

/// Forgets the half of `buckets` (at least one) with the most tokens, ties going by address.
fn forget_fuller_half<V>(buckets: &mut HashMap<IpAddr, V>, tokens: impl Fn(&V) -> f64) {
    let mut fullest: Vec<(f64, IpAddr)> = buckets.iter().map(|(ip, b)| (tokens(b), *ip)).collect();
    let count = (fullest.len() / 2).max(1).min(fullest.len());
    let fuller = |a: &(f64, IpAddr), b: &(f64, IpAddr)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if count < fullest.len() {
        fullest.select_nth_unstable_by(count, fuller);
    }
    for (_, ip) in fullest.iter().take(count) {
        buckets.remove(ip);
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
    fn an_ipv6_host_is_its_64() {
        let v6 = |text: &str| text.parse::<IpAddr>().unwrap();
        let mut limit = IpRateLimit::new(1, 2, 8);
        let now = start();
        // Two addresses of one /64 share a bucket: the third event in all is refused.
        assert!(limit.admit(now, v6("2001:db8:0:1::1")));
        assert!(limit.admit(now, v6("2001:db8:0:1:ffff::2")));
        assert!(!limit.admit(now, v6("2001:db8:0:1::3")));
        // Another /64 has its own.
        assert!(limit.admit(now, v6("2001:db8:0:2::1")));
        // An IPv4-mapped address is the IPv4 one.
        assert!(limit.admit(now, ip(7)) && limit.admit(now, ip(7)));
        assert!(!limit.admit(now, v6("::ffff:198.51.100.7")));
    }

    #[test]
    fn a_full_map_forgets_its_fuller_half() {
        let mut limit = IpRateLimit::new(1, 3, 4);
        let now = start();
        for (last, spent) in [(1, 3), (2, 2), (3, 1), (4, 1)] {
            for _ in 0..spent {
                assert!(limit.admit(now, ip(last)));
            }
        }
        // The newcomer gets in; the two with the most tokens left make room.
        assert!(limit.admit(now, ip(5)));
        let mut kept: Vec<IpAddr> = limit.buckets.keys().copied().collect();
        kept.sort();
        assert_eq!(kept, [ip(1), ip(2), ip(5)]);
        // Refilled buckets are the fullest: they go before a spent one.
        let later = now + Duration::from_secs(2);
        assert!(limit.admit(later, ip(6)) && limit.admit(later, ip(6)));
        assert!(limit.admit(later, ip(6)) && limit.admit(later, ip(7)));
        assert!(limit.buckets.contains_key(&ip(6)));
    }

    #[test]
    fn a_flood_of_newcomers_neither_locks_out_the_next_one_nor_resets_a_spent_bucket() {
        let mut limit = IpRateLimit::new(1, 2, 64);
        let now = start();
        let newcomer = |i: u32| IpAddr::from((0xc633_0000 + i).to_be_bytes());
        // An address spends its burst; then far more newcomers than the map holds arrive, one
        // a millisecond.
        assert!(limit.admit(now, ip(1)) && limit.admit(now, ip(1)));
        for i in 1..=500 {
            let at = now + Duration::from_millis(u64::from(i));
            assert!(limit.admit(at, newcomer(i)), "newcomer {i}");
            assert!(limit.buckets.len() <= 64);
        }
        // Its own bucket, not a fresh one: half a token earned in 500 ms.
        assert!(!limit.admit(now + Duration::from_millis(500), ip(1)));
    }

    /// The limiter as plainly as it can be said: a full sort to find the fuller half.
    struct Model {
        rate: f64,
        burst: f64,
        max: usize,
        buckets: HashMap<IpAddr, (f64, Instant)>,
    }

    impl Model {
        fn admit(&mut self, now: Instant, ip: IpAddr) -> bool {
            let (rate, burst) = (self.rate, self.burst);
            let refilled = |(tokens, last): &(f64, Instant)| {
                (tokens + now.saturating_duration_since(*last).as_secs_f64() * rate).min(burst)
            };
            if !self.buckets.contains_key(&ip) && self.buckets.len() >= self.max {
                let mut all: Vec<(f64, IpAddr)> = self
                    .buckets
                    .iter()
                    .map(|(ip, b)| (refilled(b), *ip))
                    .collect();
                all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                for (_, ip) in all.iter().take((all.len() / 2).max(1)) {
                    self.buckets.remove(ip);
                }
            }
            let bucket = self.buckets.entry(ip).or_insert((burst, now));
            *bucket = (refilled(bucket), now);
            if bucket.0 >= 1.0 {
                bucket.0 -= 1.0;
                true
            } else {
                false
            }
        }
    }

    proptest::proptest! {
        /// Same answers as the model. Rates of 1, 2 or 4 a second and steps of quarter seconds
        /// keep every token count a multiple of a quarter, exact in floating point, so no
        /// rounding differs.
        #[test]
        fn answers_as_the_model(
            rate in proptest::sample::select(vec![1u32, 2, 4]),
            burst in 1u32..4,
            max in 1usize..5,
            events in proptest::collection::vec((0u64..3, 0u8..8), 1..200),
        ) {
            let mut limit = IpRateLimit::new(rate, burst, max);
            let mut model = Model {
                rate: f64::from(rate),
                burst: f64::from(burst),
                max,
                buckets: HashMap::new(),
            };
            let mut now = start();
            for (step, last) in events {
                now += Duration::from_millis(250 * step);
                proptest::prop_assert_eq!(limit.admit(now, ip(last)), model.admit(now, ip(last)));
                proptest::prop_assert!(limit.buckets.len() <= max);
            }
        }
    }
}
