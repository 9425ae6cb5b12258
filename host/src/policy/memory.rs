//! Memory for policy calls, counted three ways at once: each store against its own policy's limit,
//! a call and the calls nested in it (a custom policy asking the default through `defaults`)
//! against the limit of the policy the host called, and every call in the process against one
//! budget sized to the container ([`MemoryPool`]). A growth any of them refuses is refused, and
//! the call remembers which one did, so it can report `MemoryExceeded` or `MemoryBudgetExhausted`
//! without reading error text.
//!
//! wasmtime's `StoreLimits` caps each linear memory separately; a component may create several,
//! so [`MemoryBudget`] adds them all up. What a store took goes back to the shared pools when the
//! store is dropped, whatever the call's outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmtime::ResourceLimiter;

use super::limits::PolicyLimits;

/// Bytes shared by several stores: taken as memories grow, given back when a store drops.
#[derive(Debug)]
pub struct MemoryPool {
    capacity: usize,
    used: AtomicUsize,
}

impl MemoryPool {
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(MemoryPool {
            capacity,
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes the pool holds in all.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes taken by stores alive now.
    pub fn in_use(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Takes `bytes` if they fit.
    fn take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes)
                    .filter(|total| *total <= self.capacity)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        // Never below zero, even if a caller gave back more than it took.
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(bytes))
            });
    }
}

/// Which limit refused a memory growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The limit of the policy this store runs, or of the call it is nested in (in bytes).
    Call(usize),
    /// The process-wide budget shared by all calls (in bytes).
    Budget(usize),
}

/// The pools a call and its nested calls draw from.
#[derive(Debug, Clone)]
pub struct SharedMemory {
    /// Sized to the limit of the policy the host called; its nested calls share it.
    call: Arc<MemoryPool>,
    /// The process-wide budget.
    budget: Arc<MemoryPool>,
}

impl SharedMemory {
    /// Pools for a call the host makes with `limits`, inside `budget`.
    pub fn for_call(limits: &PolicyLimits, budget: Arc<MemoryPool>) -> Self {
        SharedMemory {
            call: MemoryPool::new(limits.memory_bytes),
            budget,
        }
    }
}

/// A `ResourceLimiter` holding one store's memory across all of its memories and the pools it
/// shares with other stores.
#[derive(Debug)]
pub struct MemoryBudget {
    limits: PolicyLimits,
    shared: SharedMemory,
    used_bytes: usize,
    refusal: Option<Refusal>,
}

impl MemoryBudget {
    pub fn new(limits: PolicyLimits, shared: SharedMemory) -> Self {
        MemoryBudget {
            limits,
            shared,
            used_bytes: 0,
            refusal: None,
        }
    }

    /// Which limit refused a memory growth, if one did.
    pub fn refusal(&self) -> Option<Refusal> {
        self.refusal
    }

    fn reserve(&mut self, growth: usize) -> Result<(), Refusal> {
        let own = self
            .used_bytes
            .checked_add(growth)
            .filter(|total| *total <= self.limits.memory_bytes)
            .ok_or(Refusal::Call(self.limits.memory_bytes))?;
        if !self.shared.call.take(growth) {
            return Err(Refusal::Call(self.shared.call.capacity()));
        }
        if !self.shared.budget.take(growth) {
            self.shared.call.give_back(growth);
            return Err(Refusal::Budget(self.shared.budget.capacity()));
        }
        self.used_bytes = own;
        Ok(())
    }
}

impl Drop for MemoryBudget {
    fn drop(&mut self) {
        self.shared.call.give_back(self.used_bytes);
        self.shared.budget.give_back(self.used_bytes);
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
        match self.reserve(desired.saturating_sub(current)) {
            Ok(()) => Ok(true),
            Err(refusal) => {
                self.refusal = Some(refusal);
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

    fn limits(memory_bytes: usize) -> PolicyLimits {
        PolicyLimits {
            memory_bytes,
            ..PolicyLimits::default()
        }
    }

    #[test]
    fn the_budget_sums_every_memory_and_remembers_a_refusal() {
        let shared = SharedMemory::for_call(&limits(100), MemoryPool::new(1000));
        let mut budget = MemoryBudget::new(limits(100), shared);
        assert!(budget.memory_growing(0, 60, None).unwrap());
        assert!(budget.memory_growing(0, 40, None).unwrap());
        assert_eq!(budget.refusal(), None);
        assert!(!budget.memory_growing(40, 41, None).unwrap());
        assert_eq!(budget.refusal(), Some(Refusal::Call(100)));
        assert_eq!(budget.used_bytes, 100);
    }

    #[test]
    fn nested_stores_share_the_limit_of_the_call_they_serve() {
        let process = MemoryPool::new(1000);
        let shared = SharedMemory::for_call(&limits(100), process.clone());
        let mut outer = MemoryBudget::new(limits(100), shared.clone());
        // The nested policy's own limit is larger; the call it serves has 30 bytes left.
        let mut nested = MemoryBudget::new(limits(500), shared);
        assert!(outer.memory_growing(0, 70, None).unwrap());
        assert!(!nested.memory_growing(0, 31, None).unwrap());
        assert_eq!(nested.refusal(), Some(Refusal::Call(100)));
        assert!(nested.memory_growing(0, 30, None).unwrap());
        assert_eq!(process.in_use(), 100);
    }

    #[test]
    fn concurrent_calls_share_the_process_budget_and_give_it_back_when_dropped() {
        let process = MemoryPool::new(150);
        let first = SharedMemory::for_call(&limits(100), process.clone());
        let second = SharedMemory::for_call(&limits(100), process.clone());
        let mut one = MemoryBudget::new(limits(100), first);
        let mut two = MemoryBudget::new(limits(100), second.clone());
        assert!(one.memory_growing(0, 100, None).unwrap());
        assert!(!two.memory_growing(0, 60, None).unwrap());
        assert_eq!(two.refusal(), Some(Refusal::Budget(150)));
        // The refused growth was not kept by the call's own pool either.
        assert_eq!(second.call.in_use(), 0);
        drop(one);
        assert_eq!(process.in_use(), 0);
        assert!(two.memory_growing(0, 60, None).unwrap());
        drop(two);
        assert_eq!(process.in_use(), 0);
        assert_eq!(second.call.in_use(), 0);
    }
}
