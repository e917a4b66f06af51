//! Liveness (rlpx.md: Ping/Pong, reason 0x0b): a Ping after a stretch of silence, a deadline for
//! its Pong, and a token bucket that bounds how many of the peer's Pings we answer.

use core::time::Duration;
use std::time::Instant;

/// The most Pong timeouts a Pong may take while the peer's capability messages keep arriving.
const MAX_PONG_WAITS: u32 = 3;

/// What the keepalive timer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Nothing yet.
    Nothing,
    /// The peer has been silent for the ping interval: send a Ping.
    Ping,
    /// Our Ping went unanswered: the peer timed out.
    Expired,
}

/// The Ping/Pong timers of one session.
#[derive(Debug)]
pub(crate) struct Keepalive {
    interval: Duration,
    timeout: Duration,
    last_received: Instant,
    /// The last capability message from the peer (its Pings do not count).
    last_data: Instant,
    ping_sent: Option<Instant>,
    /// Since when the clocks have been held (see [`hold`](Self::hold)).
    held_since: Option<Instant>,
}

impl Keepalive {
    pub(crate) const fn new(interval: Duration, timeout: Duration, now: Instant) -> Self {
        Self {
            interval,
            timeout,
            last_received: now,
            last_data: now,
            ping_sent: None,
            held_since: None,
        }
    }

    /// Any message from the peer ends a stretch of silence.
    pub(crate) const fn on_received(&mut self, now: Instant) {
        self.last_received = now;
    }

    /// A capability message from the peer: it restarts the deadline of our outstanding Ping's
    /// Pong (see [`deadline`](Self::deadline)).
    pub(crate) const fn on_data(&mut self, now: Instant) {
        self.last_data = now;
    }

    /// We are not reading (our own queues are full): the silence is ours, not the peer's, and
    /// its Pong may be waiting unread. Both clocks start again from `now`, for at most one Pong
    /// timeout in a row: a peer that fills our queues and stops reading our answers (so that
    /// we cannot drain them) must not keep the session forever. False once that is used up.
    pub(crate) fn hold(&mut self, now: Instant) -> bool {
        let since = *self.held_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= self.timeout {
            return false;
        }
        self.last_received = now;
        if self.ping_sent.is_some() {
            self.ping_sent = Some(now);
        }
        true
    }

    /// We are reading again: a later hold gets its full time.
    pub(crate) const fn release(&mut self) {
        self.held_since = None;
    }

    /// A Pong answers our outstanding Ping; returns the round-trip time if one was outstanding.
    pub(crate) fn on_pong(&mut self, now: Instant) -> Option<Duration> {
        self.ping_sent
            .take()
            .map(|sent| now.saturating_duration_since(sent))
    }

    /// We sent a Ping (by timer or by command).
    pub(crate) fn on_ping_sent(&mut self, now: Instant) {
        self.ping_sent.get_or_insert(now);
    }

    /// When the timer next needs [`handle_timeout`](Self::handle_timeout). While our Ping is
    /// out, a capability message from the peer restarts its deadline: a peer in the middle of
    /// sending a large message may hold its Pong behind it (on a slow link, longer than the
    /// timeout), and its frames prove it is there (go-ethereum, which ignores Pongs, drops a
    /// peer only when a frame takes 30 s to read). Its own Pings do not, and no Pong may take
    /// more than [`MAX_PONG_WAITS`] timeouts: a peer that never answers does not keep the
    /// session (or a caller waiting for the Pong) for ever.
    pub(crate) fn deadline(&self) -> Instant {
        match self.ping_sent {
            Some(sent) => (sent.max(self.last_data) + self.timeout)
                .min(sent + self.timeout.saturating_mul(MAX_PONG_WAITS)),
            None => self.last_received + self.interval,
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Due {
        if now < self.deadline() {
            Due::Nothing
        } else if self.ping_sent.is_some() {
            Due::Expired
        } else {
            self.ping_sent = Some(now);
            Due::Ping
        }
    }
}

/// A token bucket: `capacity` tokens, one more every `refill`.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    capacity: u32,
    refill: Duration,
    tokens: u32,
    since: Instant,
}

impl TokenBucket {
    pub(crate) const fn new(capacity: u32, refill: Duration, now: Instant) -> Self {
        Self {
            capacity,
            refill,
            tokens: capacity,
            since: now,
        }
    }

    /// Takes a token if there is one.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.since);
        let earned = if self.refill.is_zero() {
            u128::from(self.capacity)
        } else {
            elapsed.as_nanos() / self.refill.as_nanos()
        };
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            self.tokens = self.tokens.saturating_add(earned).min(self.capacity);
            self.since = now;
        }
        match self.tokens.checked_sub(1) {
            Some(left) => {
                self.tokens = left;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::disallowed_methods)]
    fn ping_after_silence_then_expire() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut k = Keepalive::new(s(15), s(20), t0);
        assert_eq!(k.deadline(), t0 + s(15));
        k.on_received(t0 + s(10));
        assert_eq!(k.handle_timeout(t0 + s(15)), Due::Nothing);
        assert_eq!(k.deadline(), t0 + s(25));
        assert_eq!(k.handle_timeout(t0 + s(25)), Due::Ping);
        assert_eq!(k.deadline(), t0 + s(45));
        // The peer's own Pings (messages that are not data) do not answer ours.
        k.on_received(t0 + s(30));
        assert_eq!(k.deadline(), t0 + s(45));
        // A capability message restarts the Pong's deadline, without answering the Ping;
        // silence after it still ends the session.
        k.on_data(t0 + s(30));
        assert_eq!(k.handle_timeout(t0 + s(45)), Due::Nothing);
        assert_eq!(k.deadline(), t0 + s(50));
        assert_eq!(k.handle_timeout(t0 + s(49)), Due::Nothing);
        assert_eq!(k.handle_timeout(t0 + s(50)), Due::Expired);
        assert_eq!(k.on_pong(t0 + s(51)), Some(s(26)));
        assert_eq!(k.on_pong(t0 + s(52)), None);
        // Data that never stops does not hold a Ping's Pong past three timeouts.
        let mut k = Keepalive::new(s(15), s(20), t0);
        assert_eq!(k.handle_timeout(t0 + s(15)), Due::Ping);
        for at in (16..75).step_by(5) {
            k.on_data(t0 + s(at));
            k.on_received(t0 + s(at));
            assert_eq!(k.handle_timeout(t0 + s(at)), Due::Nothing, "{at}");
        }
        assert_eq!(k.deadline(), t0 + s(75));
        assert_eq!(k.handle_timeout(t0 + s(75)), Due::Expired);
    }

    #[test]
    #[allow(clippy::disallowed_methods)]
    fn bucket_refills() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3, Duration::from_secs(1), t0);
        assert!((0..3).all(|_| b.take(t0)));
        assert!(!b.take(t0));
        assert!(!b.take(t0 + Duration::from_millis(999)));
        assert!(b.take(t0 + Duration::from_millis(1999)));
        assert!(!b.take(t0 + Duration::from_millis(1999)));
        // A long quiet spell refills to capacity, not beyond.
        let later = t0 + Duration::from_secs(100);
        assert!((0..3).all(|_| b.take(later)));
        assert!(!b.take(later));
    }
}
