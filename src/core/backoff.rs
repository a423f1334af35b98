//! Exponential backoff with jitter, honouring `Retry-After`.

use super::time::Duration;

/// How long to wait before retry number `retry` (1 for the first retry).
///
/// The delay is `base * 2^(retry-1)`, capped at `max`, with "equal jitter":
/// half of it fixed, half random, so tabs that failed together do not retry
/// in lockstep while each still waits at least half the nominal delay.
/// `unit` is a random number in `[0, 1)` supplied by the caller. A server's
/// `Retry-After` is a lower bound: the delay is never shorter than it.
pub(crate) fn retry_delay(
    retry: u32,
    base: Duration,
    max: Duration,
    unit: f64,
    retry_after: Option<Duration>,
) -> Duration {
    // Doubled by additions (a multiplication that detects overflow is a
    // 128-bit one on wasm32); 64 doublings saturate any base.
    let mut nominal = base.as_millis();
    for _ in 0..retry.saturating_sub(1).min(64) {
        nominal = nominal.saturating_add(nominal);
    }
    let nominal = nominal.min(max.as_millis());
    let half = nominal / 2;
    // `unit` is in [0, 1), so the product is in [0, half).
    let jitter = (half as f64 * unit.clamp(0.0, 1.0)) as u64;
    let delay = Duration::from_millis(nominal - half + jitter);
    match retry_after {
        Some(asked) if asked > delay => asked,
        _ => delay,
    }
}

/// A small deterministic random source for jitter.
///
/// The core may not read entropy, so the web layer seeds it from
/// `Math.random()` and tests seed it with a constant. xorshift64* is plenty
/// for spreading retries; nothing here needs to be unpredictable.
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new(seed: u64) -> Self {
        // xorshift has a fixed point at zero.
        Self(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// A number in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        let bits = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        bits as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_per_retry_up_to_max_without_overflow() {
        let ms = Duration::from_millis;
        let bases = [0, 1, 300, u64::MAX / 3, u64::MAX];
        let retries = [0, 1, 2, 3, 10, 63, 64, 65, 66, 100, u32::MAX];
        for base in bases {
            for max in [0, 5_000, u64::MAX] {
                for retry in retries {
                    let doubling = 2u64.saturating_pow(retry.saturating_sub(1));
                    let nominal = base.saturating_mul(doubling).min(max);
                    let fixed = nominal - nominal / 2;
                    assert_eq!(
                        retry_delay(retry, ms(base), ms(max), 0.0, None),
                        ms(fixed),
                        "base {base}, max {max}, retry {retry}"
                    );
                }
            }
        }
        assert_eq!(
            retry_delay(3, ms(300), ms(5_000), 0.0, Some(ms(4_000))),
            ms(4_000),
            "Retry-After is a lower bound"
        );
    }
}
