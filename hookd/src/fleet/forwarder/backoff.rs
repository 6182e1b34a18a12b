//! The forwarder's retry delays: exponential backoff with full jitter.

use std::time::Duration;

use crate::clock::now_ms;

/// Exponential backoff with full jitter: the n-th delay is uniform in [0, min(max, min·2ⁿ)],
/// and at least the receiver's `Retry-After` (capped at `max`).
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
    seed: u64,
}

impl Backoff {
    #[must_use]
    pub fn new(min: Duration, max: Duration) -> Self {
        let seed = u64::from(std::process::id())
            ^ u64::try_from(now_ms()).unwrap_or(1).rotate_left(17)
            ^ (std::ptr::from_ref(&min) as usize as u64);
        Self {
            min,
            max,
            attempt: 0,
            seed: seed | 1,
        }
    }

    fn random(&mut self) -> u64 {
        // xorshift64*: enough for jitter.
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        self.seed.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The bound of the next delay (before jitter).
    #[must_use]
    pub fn ceiling(&self) -> Duration {
        self.min
            .saturating_mul(1u32 << self.attempt.min(30))
            .min(self.max)
    }

    /// The next delay.
    pub fn next(&mut self, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let jitter = Duration::from_nanos(self.random() % nanos.saturating_add(1));
        match retry_after {
            Some(a) => jitter.max(a.min(self.max)),
            None => jitter,
        }
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_its_jitter_bounds_and_honours_retry_after() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        for n in 0..12 {
            let ceiling = b.ceiling();
            assert_eq!(
                ceiling,
                Duration::from_millis(100 * (1u64 << n)).min(Duration::from_secs(2))
            );
            assert!(b.next(None) <= ceiling);
        }
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_millis(100));
        assert!(b.next(Some(Duration::from_secs(1))) >= Duration::from_secs(1));
        // A Retry-After past the maximum is capped at it.
        assert!(b.next(Some(Duration::from_secs(3600))) <= Duration::from_secs(2));
    }
}
