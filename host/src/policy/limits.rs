//! Per-policy resource limits and the per-call limiter that enforces the memory budget.
//!
//! wasmtime's `StoreLimits` caps each linear memory separately; a component may create several,
//! so [`MemoryBudget`] adds them all up and remembers that the cap was hit, which lets a call
//! report `MemoryExceeded` without reading error text.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// Default wall-clock budget of one call.
pub const DEFAULT_DEADLINE: Duration = Duration::from_millis(250);
/// No policy may take longer than this, whatever it asks for: it must stay well below a reconcile.
pub const MAX_DEADLINE: Duration = Duration::from_secs(2);
/// Default memory budget of one call, all memories together; enough for Rust policies.
pub const DEFAULT_MEMORY_BYTES: usize = 64 << 20;
/// The largest memory budget a policy may be given (interpreted-language policies need hundreds of MiB).
pub const MAX_MEMORY_BYTES: usize = 1 << 30;
/// Bytes of guest stdout and of stderr kept per call; the rest is dropped.
pub const DEFAULT_OUTPUT_BYTES: usize = 16 << 10;

/// The limits one policy runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyLimits {
    /// Wall-clock budget of one call, instantiation included.
    pub deadline: Duration,
    /// Total bytes of all linear memories of one call.
    pub memory_bytes: usize,
    /// Elements per table (function references).
    pub table_elements: usize,
    /// Core instances, tables and memories per call; JavaScript and Python runtimes use a dozen.
    pub instances: usize,
    pub tables: usize,
    pub memories: usize,
    /// Captured bytes of stdout and of stderr per call.
    pub output_bytes: usize,
}

impl Default for PolicyLimits {
    fn default() -> Self {
        PolicyLimits {
            deadline: DEFAULT_DEADLINE,
            memory_bytes: DEFAULT_MEMORY_BYTES,
            table_elements: 20_000,
            instances: 64,
            tables: 64,
            memories: 16,
            output_bytes: DEFAULT_OUTPUT_BYTES,
        }
    }
}

impl PolicyLimits {
    /// The same limits with the deadline and memory budget clamped to what the host allows.
    pub fn clamped(self) -> Self {
        PolicyLimits {
            deadline: self.deadline.clamp(Duration::from_millis(1), MAX_DEADLINE),
            memory_bytes: self.memory_bytes.min(MAX_MEMORY_BYTES),
            ..self
        }
    }
}

/// A `ResourceLimiter` holding one call's memory budget across all of its memories.
#[derive(Debug)]
pub struct MemoryBudget {
    limits: PolicyLimits,
    used_bytes: usize,
    exceeded: bool,
}

impl MemoryBudget {
    pub fn new(limits: PolicyLimits) -> Self {
        MemoryBudget {
            limits,
            used_bytes: 0,
            exceeded: false,
        }
    }

    /// Whether a memory growth was refused because of the budget.
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }
}

impl ResourceLimiter for MemoryBudget {
    // wasmtime also calls this for each memory's initial size, so the sum covers every byte.
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current);
        match self.used_bytes.checked_add(growth) {
            Some(total) if total <= self.limits.memory_bytes => {
                self.used_bytes = total;
                Ok(true)
            }
            _ => {
                self.exceeded = true;
                Ok(false)
            }
        }
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= self.limits.table_elements)
    }

    fn instances(&self) -> usize {
        self.limits.instances
    }

    fn tables(&self) -> usize {
        self.limits.tables
    }

    fn memories(&self) -> usize {
        self.limits.memories
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_sums_every_memory_and_remembers_a_refusal() {
        let mut budget = MemoryBudget::new(PolicyLimits {
            memory_bytes: 100,
            ..PolicyLimits::default()
        });
        assert!(budget.memory_growing(0, 60, None).unwrap());
        assert!(budget.memory_growing(0, 40, None).unwrap());
        assert!(!budget.exceeded());
        assert!(!budget.memory_growing(40, 41, None).unwrap());
        assert!(budget.exceeded());
        assert_eq!(budget.used_bytes, 100);
    }

    #[test]
    fn deadlines_and_budgets_are_clamped_to_the_host_maximum() {
        let limits = PolicyLimits {
            deadline: Duration::from_secs(60),
            memory_bytes: usize::MAX,
            ..PolicyLimits::default()
        }
        .clamped();
        assert_eq!(limits.deadline, MAX_DEADLINE);
        assert_eq!(limits.memory_bytes, MAX_MEMORY_BYTES);
    }
}
