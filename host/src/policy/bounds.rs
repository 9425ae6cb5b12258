//! What a call the host makes and every call nested in it (through `defaults` or `custom`)
//! share: they all end by the deadline of the policy the host called (or a nested policy's own,
//! when that comes first), and their memory counts against its limit, inside the process-wide
//! budget.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::limits::PolicyLimits;
use super::memory::{MemoryPool, SharedMemory};

/// What a call and the calls nested in it share.
#[derive(Debug, Clone)]
pub struct CallBounds {
    /// When the call must be over: the deadline of the policy the host called, or a nested
    /// policy's own when that comes first.
    pub ends_at: Instant,
    /// The deadline reported when `ends_at` is reached.
    pub deadline: Duration,
    pub memory: SharedMemory,
    /// Benchmarks only: nested calls get these bounds instead of their own deadline, so a long
    /// measuring loop is bounded as a whole by what its author asked for.
    measuring: bool,
}

impl CallBounds {
    /// The bounds of a call the host makes to a policy with `limits`, starting now.
    pub fn for_call(limits: &PolicyLimits, budget: &Arc<MemoryPool>) -> Self {
        CallBounds {
            ends_at: Instant::now() + limits.deadline,
            deadline: limits.deadline,
            memory: SharedMemory::for_call(limits, budget.clone()),
            measuring: false,
        }
    }

    /// The bounds of a benchmark's loop of calls on one instance: `limits` for the whole loop,
    /// calls nested in any of them included.
    pub fn measuring(limits: &PolicyLimits, budget: &Arc<MemoryPool>) -> Self {
        CallBounds {
            measuring: true,
            ..CallBounds::for_call(limits, budget)
        }
    }

    /// The bounds of a call nested in this one, to a policy with `limits`: it ends by its own
    /// deadline or this call's, whichever is first, and shares this call's memory.
    pub fn nested(&self, limits: &PolicyLimits) -> Self {
        if self.measuring {
            return self.clone();
        }
        let own = Instant::now() + limits.deadline;
        let (ends_at, deadline) = if own < self.ends_at {
            (own, limits.deadline)
        } else {
            (self.ends_at, self.deadline)
        };
        CallBounds {
            ends_at,
            deadline,
            memory: self.memory.clone(),
            measuring: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(milliseconds: u64) -> PolicyLimits {
        PolicyLimits {
            deadline: Duration::from_millis(milliseconds),
            ..PolicyLimits::default()
        }
    }

    #[test]
    fn a_nested_call_ends_by_its_own_deadline_or_its_callers_whichever_is_first() {
        let budget = MemoryPool::new(1 << 20);
        let caller = CallBounds::for_call(&limits(100), &budget);
        let longer = caller.nested(&limits(2000));
        assert_eq!(longer.ends_at, caller.ends_at);
        assert_eq!(longer.deadline, Duration::from_millis(100));
        let shorter = caller.nested(&limits(10));
        assert!(shorter.ends_at < caller.ends_at);
        assert_eq!(shorter.deadline, Duration::from_millis(10));
    }

    #[test]
    fn calls_nested_in_a_measuring_loop_are_bounded_by_the_loop() {
        let budget = MemoryPool::new(1 << 20);
        let looping = CallBounds::measuring(&limits(100_000), &budget);
        let nested = looping.nested(&limits(10));
        assert_eq!(nested.ends_at, looping.ends_at);
        assert_eq!(nested.deadline, Duration::from_millis(100_000));
        assert_eq!(nested.nested(&limits(10)).ends_at, looping.ends_at);
    }
}
