//! Per-policy resource limits and the caps the host puts on what a policy may ask for. The
//! limiter that enforces memory limits is in [`super::memory`].

use std::time::Duration;

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
        self.clamped_to(MAX_MEMORY_BYTES)
    }

    /// [`Self::clamped`], with memory also at most `memory_cap` bytes: the process's budget for
    /// all policy calls, which one call can never exceed.
    pub fn clamped_to(self, memory_cap: usize) -> Self {
        PolicyLimits {
            deadline: self.deadline.clamp(Duration::from_millis(1), MAX_DEADLINE),
            memory_bytes: self.memory_bytes.min(MAX_MEMORY_BYTES).min(memory_cap),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(limits.clamped_to(96 << 20).memory_bytes, 96 << 20);
    }
}
