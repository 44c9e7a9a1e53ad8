//! When to poll next: the configured interval with a little jitter, sooner when the rollout is
//! close to done, never faster than the call budget, and slower after throttling.

use std::time::{Duration, Instant};

use rand::Rng;

/// Calls allowed at once (the first look: the service, the service deployment found and
/// described, the new tasks), before the per-minute rate applies.
const BURST: f64 = 6.0;

/// The call budget is a token bucket: `BURST` calls at once, refilled at the per-minute rate up
/// to `BURST` again, so that no minute sees more than `BURST` plus the rate. A poll may overspend
/// (the bucket goes into debt); the next one waits until a call is affordable again.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    per_minute: f64,
    calls: u32,
    throttled: u32,
    /// Calls affordable at `updated`; negative when in debt.
    tokens: f64,
    updated: Instant,
    start: Instant,
}

impl Pacer {
    pub fn new(interval: Duration, per_minute: f64) -> Pacer {
        Pacer {
            interval,
            per_minute,
            calls: 0,
            throttled: 0,
            tokens: BURST,
            updated: Instant::now(),
            start: Instant::now(),
        }
    }

    /// The calls affordable now at `per_minute` (the bucket of the normal pace).
    fn tokens(&self, per_minute: f64) -> f64 {
        let refilled = self.updated.elapsed().as_secs_f64() * per_minute / 60.0;
        (self.tokens + refilled).min(BURST)
    }

    /// Counts `n` API calls against the budget.
    pub fn spent(&mut self, n: u32) {
        self.calls += n;
        self.tokens = self.tokens(self.per_minute) - f64::from(n);
        self.updated = Instant::now();
    }

    pub fn calls(&self) -> u32 {
        self.calls
    }

    /// A poll was throttled: slow down (doubling, up to 16 times the interval).
    pub fn throttled(&mut self) {
        self.throttled = (self.throttled + 1).min(4);
    }

    /// A poll went through: back to the normal pace.
    pub fn recovered(&mut self) {
        self.throttled = 0;
    }

    /// The pause before the next poll. `close`: the rollout is about to end (every new task is
    /// running), so a quicker look is worth a call. `failing`: tasks of the deployment are
    /// stopping; the verdict is near and worth twice the budget.
    pub fn next_delay(&self, close: bool, failing: bool) -> Duration {
        let base = if close || failing {
            (self.interval / 4).max(Duration::from_millis(250))
        } else {
            self.interval
        };
        let mut rng = rand::rng();
        let mut delay = base.mul_f64(rng.random_range(0.9..1.1));
        if self.throttled > 0 {
            delay = self.interval * (1 << self.throttled);
        }
        let budget_wait = if failing {
            // Failing tasks: the verdict is near, and worth twice the rate over the whole wait
            // (BURST plus twice the rate times the time waited), the calls saved included.
            let owed = (f64::from(self.calls) + 1.0 - BURST).max(0.0);
            let earliest = Duration::from_secs_f64(owed * 60.0 / (self.per_minute * 2.0));
            earliest.saturating_sub(self.start.elapsed())
        } else {
            let owed = (1.0 - self.tokens(self.per_minute)).max(0.0);
            Duration::from_secs_f64(owed * 60.0 / self.per_minute)
        };
        if budget_wait > delay {
            // Jitter upwards only: the budget holds, and polls do not lock step with the
            // service's own timers.
            delay = budget_wait.mul_f64(rng.random_range(1.0..1.05));
        }
        delay.min(self.interval * 16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_at_the_interval_with_jitter_and_sooner_when_close() {
        let pacer = Pacer::new(Duration::from_secs(2), 1e9);
        for _ in 0..50 {
            let d = pacer.next_delay(false, false);
            assert!(
                d >= Duration::from_millis(1800) && d <= Duration::from_millis(2200),
                "{d:?}"
            );
            let c = pacer.next_delay(true, false);
            assert!(
                c >= Duration::from_millis(450) && c <= Duration::from_millis(550),
                "{c:?}"
            );
        }
    }

    #[test]
    fn the_budget_caps_calls_per_minute() {
        let mut pacer = Pacer::new(Duration::from_secs(2), 40.0);
        pacer.spent(2);
        assert!(
            pacer.next_delay(true, false) < Duration::from_secs(1),
            "the burst covers the first look"
        );
        pacer.spent(20);
        // 23 calls at 40 a minute (after a burst of 6) need 25.5 s: a close poll waits for the
        // budget.
        let d = pacer.next_delay(true, false);
        assert!(d > Duration::from_secs(25), "{d:?}");
        // Failing tasks get twice the budget: 23 calls need 12.75 s.
        let f = pacer.next_delay(false, true);
        assert!(
            f > Duration::from_secs(12) && f < Duration::from_secs(20),
            "{f:?}"
        );
    }

    #[test]
    fn idle_time_saves_no_more_than_the_burst() {
        let mut pacer = Pacer::new(Duration::from_secs(2), 34.0);
        pacer.spent(10);
        assert!((pacer.tokens(34.0) + 4.0).abs() < 0.01, "in debt by 4");
        pacer.updated -= Duration::from_secs(600);
        assert_eq!(
            pacer.tokens(34.0),
            BURST,
            "ten idle minutes save only the burst"
        );
        // So a minute sees at most the burst and the rate: 6 at once, then 34 more.
        pacer.spent(6);
        let d = pacer.next_delay(true, false);
        assert!(
            d >= Duration::from_millis(1700) && d < Duration::from_millis(1900),
            "{d:?}"
        );
    }

    #[test]
    fn throttling_slows_down_and_recovery_restores_the_pace() {
        let mut pacer = Pacer::new(Duration::from_secs(2), 1e9);
        pacer.throttled();
        pacer.throttled();
        assert_eq!(pacer.next_delay(false, false), Duration::from_secs(8));
        pacer.recovered();
        assert!(pacer.next_delay(false, false) < Duration::from_secs(3));
    }
}
