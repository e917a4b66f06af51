//! Per-address rate limiting: a token bucket for each source IP, in a map of bounded size.

use std::{
    collections::HashMap,
    net::IpAddr,
    time::{Duration, Instant},
};

use crate::ip::host;

/// The longest a full map waits between sweeps, should no bucket ever refill (no refill rate).
const MAX_SWEEP_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets per source host: each IPv4 address, or IPv6 /64 (one host or subscriber
/// usually has a whole /64 to send from), may spend `burst` at once and earns `per_second`
/// back, up to `burst`. At most `max_addresses` are tracked; when the map is full,
/// the addresses whose bucket has refilled (idle ones) are forgotten, and if every one is
/// busy a new address is refused, so spoofed sources cannot grow the map. The limiter knows
/// when the first bucket can have refilled, and sweeps only from then on: a flood of new
/// addresses at a full map costs a comparison each, not a pass over the map.
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
    /// No bucket in the map is refilled before this (`None`: no bound known); before then a
    /// sweep would free nothing. Every admission takes the minimum with its bucket's new
    /// refill time, so the bound holds for new buckets and changed ones alike.
    next_sweep: Option<Instant>,
}

impl IpRateLimit {
    /// `per_second` events per address on average, `burst` at once, `max_addresses` tracked.
    pub fn new(per_second: u32, burst: u32, max_addresses: usize) -> Self {
        Self {
            per_second: f64::from(per_second),
            burst: f64::from(burst),
            max_addresses,
            buckets: HashMap::new(),
            next_sweep: None,
        }
    }

    /// Whether an event from `ip` at `now` is within its host's limit (see [`IpRateLimit`]);
    /// if so it is counted.
    pub fn admit(&mut self, now: Instant, ip: IpAddr) -> bool {
        let ip = host(ip);
        let (rate, burst) = (self.per_second, self.burst);
        let refilled =
            |b: &Bucket| b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate;
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= self.max_addresses {
            if self.next_sweep.is_some_and(|at| now < at) {
                return false;
            }
            // Forget the refilled buckets, and note when the first of the others will be.
            let mut next: Option<Instant> = None;
            self.buckets.retain(|_, b| {
                let missing = burst - refilled(b);
                if missing > 0.0 {
                    let at = refilled_at(now, missing, rate);
                    next = Some(next.map_or(at, |next| next.min(at)));
                }
                missing > 0.0
            });
            self.next_sweep = next;
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
        let admitted = bucket.tokens >= 1.0;
        if admitted {
            bucket.tokens -= 1.0;
        }
        let at = refilled_at(now, burst - bucket.tokens, rate);
        self.next_sweep = Some(self.next_sweep.map_or(at, |next| next.min(at)));
        admitted
    }
}

/// When a bucket lacking `missing` tokens at `now` is full again, earning `rate` a second:
/// a microsecond early, so that rounding never makes it late, and at most [`MAX_SWEEP_WAIT`]
/// ahead. An early sweep costs work, never a wrong answer.
fn refilled_at(now: Instant, missing: f64, rate: f64) -> Instant {
    let wait = Duration::try_from_secs_f64(missing / rate)
        .map_or(MAX_SWEEP_WAIT, |wait| wait.min(MAX_SWEEP_WAIT));
    now + wait.saturating_sub(Duration::from_micros(1))
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn a_flood_of_newcomers_is_refused_until_the_first_refill() {
        let mut limit = IpRateLimit::new(1, 2, 3);
        let now = start();
        assert!(limit.admit(now, ip(1)));
        let later = now + Duration::from_millis(500);
        assert!(limit.admit(later, ip(2)) && limit.admit(later, ip(3)));
        // ip(1) lacks one token from `now`: full again one second later (a microsecond's
        // margin for rounding).
        let refill = now + Duration::from_secs(1) - Duration::from_micros(1);
        assert_eq!(limit.next_sweep, Some(refill));
        for last in 4..=200 {
            assert!(!limit.admit(later, ip(last)));
        }
        assert_eq!(limit.next_sweep, Some(refill));
        // At that instant the sweep forgets ip(1), and the newcomer takes its place.
        assert!(limit.admit(now + Duration::from_secs(1), ip(201)));
        assert!(!limit.buckets.contains_key(&ip(1)));
        assert_eq!(limit.buckets.len(), 3);
    }

    /// The limiter without the sweep bound: every newcomer at a full map sweeps it.
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
                tokens + now.saturating_duration_since(*last).as_secs_f64() * rate
            };
            if !self.buckets.contains_key(&ip) && self.buckets.len() >= self.max {
                self.buckets.retain(|_, b| refilled(b) < burst);
                if self.buckets.len() >= self.max {
                    return false;
                }
            }
            let bucket = self.buckets.entry(ip).or_insert((burst, now));
            *bucket = (refilled(bucket).min(burst), now);
            if bucket.0 >= 1.0 {
                bucket.0 -= 1.0;
                true
            } else {
                false
            }
        }
    }

    proptest::proptest! {
        /// Same answers as sweeping at every newcomer. Rates of 1, 2 or 4 a second and steps
        /// of quarter seconds keep every token count a multiple of a quarter, exact in
        /// floating point, so no rounding differs.
        #[test]
        fn the_sweep_bound_changes_no_answer(
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
            }
        }
    }
}
