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
/// back, up to `burst`. At most `max_addresses` are tracked, so spoofed sources cannot grow
/// the map. When it is full, the addresses whose bucket has refilled (idle ones) are
/// forgotten; if none has, the less recently seen half is, so that a flood from many sources
/// cannot lock real newcomers out (an address that keeps sending stays, its bucket as it is).
/// The limiter knows when the first bucket can have refilled and sweeps only from then on,
/// and a halving makes room for half the map: a flood of new addresses costs a constant
/// amount of work each, not a pass over the map.
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
            if self.max_addresses == 0 {
                return false;
            }
            if self.next_sweep.is_none_or(|at| now >= at) {
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
            }
            if self.buckets.len() >= self.max_addresses {
                // Fewer buckets can only refill later: `next_sweep` stays a valid bound.
                forget_least_recent_half(&mut self.buckets, |b| b.last);
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

/// Forgets the entries of `map` last seen (`last`) no later than its median (so at least
/// half of them).
fn forget_least_recent_half<V>(map: &mut HashMap<IpAddr, V>, last: impl Fn(&V) -> Instant) {
    let mut seen: Vec<Instant> = map.values().map(&last).collect();
    let middle = seen.len() / 2;
    let (_, &mut median, _) = seen.select_nth_unstable(middle);
    map.retain(|_, v| last(v) > median);
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
    fn a_full_map_forgets_idle_addresses_first() {
        let mut limit = IpRateLimit::new(1, 2, 3);
        let now = start();
        for last in 1..=3 {
            assert!(limit.admit(now, ip(last)));
        }
        // A second later all three have refilled: they are forgotten, the newcomer gets in.
        assert!(limit.admit(now + Duration::from_secs(1), ip(4)));
        assert_eq!(limit.buckets.len(), 1);
    }

    #[test]
    fn a_flood_of_newcomers_does_not_lock_out_the_next_one() {
        let mut limit = IpRateLimit::new(1, 2, 64);
        let now = start();
        let newcomer = |i: u32| IpAddr::from((0xc633_0000 + i).to_be_bytes());
        // A busy address spends its burst, then keeps trying every 10 ms while a newcomer
        // arrives every millisecond: far more than the map holds.
        assert!(limit.admit(now, ip(1)) && limit.admit(now, ip(1)));
        for i in 1..=500 {
            let at = now + Duration::from_millis(u64::from(i));
            assert!(limit.admit(at, newcomer(i)), "newcomer {i}");
            assert!(limit.buckets.len() <= 64);
            if i % 10 == 0 {
                // Its own bucket, not a fresh one: less than a token earned since its last try.
                assert!(!limit.admit(at, ip(1)), "busy address at {i} ms");
            }
        }
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
                if self.max == 0 {
                    return false;
                }
                self.buckets.retain(|_, b| refilled(b) < burst);
                if self.buckets.len() >= self.max {
                    forget_least_recent_half(&mut self.buckets, |b| b.1);
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
