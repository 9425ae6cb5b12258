//! Per-object exponential backoff after failed reconciles: 1 s doubling to 5 min, forgotten on the
//! first success. kube's controller retries with a fixed action; this spaces retries per object so a
//! broken object never crowds out healthy ones.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

const FIRST: Duration = Duration::from_secs(1);
const MAX: Duration = Duration::from_secs(300);

/// Failure counts by object key.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Records a failure and returns how long to wait before the next attempt.
    pub fn next_delay(&self, key: &str) -> Duration {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = failures.entry(key.to_owned()).or_insert(0);
        *count = count.saturating_add(1);
        let factor = 2u32.saturating_pow(count.saturating_sub(1).min(16));
        FIRST.saturating_mul(factor).min(MAX)
    }

    /// Forgets the failures of an object that reconciled.
    pub fn reset(&self, key: &str) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        failures.remove(key);
    }

    /// How many objects are backing off.
    pub fn len(&self) -> usize {
        self.failures.lock().map(|f| f.len()).unwrap_or_default()
    }

    /// True when no object is backing off.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_five_minutes_and_reset_on_success() {
        let backoff = Backoff::default();
        let delays: Vec<u64> = (0..12).map(|_| backoff.next_delay("a").as_secs()).collect();
        assert_eq!(&delays[..5], &[1, 2, 4, 8, 16]);
        assert_eq!(delays[11], 300);
        assert_eq!(
            backoff.next_delay("b").as_secs(),
            1,
            "objects back off independently"
        );
        backoff.reset("a");
        assert_eq!(backoff.next_delay("a").as_secs(), 1);
    }
}
