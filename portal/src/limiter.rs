//! Failed sign-in counting over a sliding window, keyed by address and by IP.
//! Kept in memory: a restart forgets the counts, which only helps the user.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many keys, stale ones are swept on the next write.
const SWEEP_ABOVE: usize = 10_000;

pub(crate) struct AttemptLimiter {
    max: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl AttemptLimiter {
    pub(crate) fn new(max: u32, window: Duration) -> Self {
        AttemptLimiter {
            max: max.max(1) as usize,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        // The map holds only counters; a panic elsewhere cannot leave it inconsistent.
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when `key` used up its failed attempts within the window.
    pub(crate) fn is_blocked(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut map = self.lock();
        match map.get_mut(key) {
            Some(q) => {
                prune(q, now, self.window);
                q.len() >= self.max
            }
            None => false,
        }
    }

    pub(crate) fn record_failure(&self, key: &str) {
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() > SWEEP_ABOVE {
            let window = self.window;
            map.retain(|_, q| {
                prune(q, now, window);
                !q.is_empty()
            });
        }
        let q = map.entry(key.to_string()).or_default();
        prune(q, now, self.window);
        q.push_back(now);
    }

    pub(crate) fn reset(&self, key: &str) {
        self.lock().remove(key);
    }
}

fn prune(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
        q.pop_front();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_and_forgets_after_window() {
        let l = AttemptLimiter::new(2, Duration::from_millis(50));
        assert!(!l.is_blocked("a"));
        l.record_failure("a");
        assert!(!l.is_blocked("a"));
        l.record_failure("a");
        assert!(l.is_blocked("a"));
        assert!(!l.is_blocked("b"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(!l.is_blocked("a"));
        l.record_failure("a");
        l.record_failure("a");
        l.reset("a");
        assert!(!l.is_blocked("a"));
    }
}
