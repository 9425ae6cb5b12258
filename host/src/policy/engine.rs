//! The process-wide wasmtime `Engine`: compilation settings, the instance allocator, and the
//! epoch ticker that turns wall-clock deadlines into interrupts.

use std::time::Duration;

use wasmtime::{
    Config, Enabled, Engine, EngineWeak, InstanceAllocationStrategy, PoolingAllocationConfig,
    ProfilingStrategy,
};

use super::compilation::compilation_config;
use super::limits::MAX_MEMORY_BYTES;

/// The target this binary was built for, which its policies are compiled for too.
pub const TARGET: &str = env!("AIM_ENGINE_TARGET");

/// How often the epoch advances; deadlines are rounded up to whole ticks.
pub const DEFAULT_TICK: Duration = Duration::from_millis(10);

/// Which instance allocator the engine ended up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    /// Preallocated slots with copy-on-write memory images: the fast path.
    Pooling,
    /// Plain mmap per instance, used when the pool could not reserve its address space.
    OnDemand,
}

impl Allocator {
    pub fn name(self) -> &'static str {
        match self {
            Allocator::Pooling => "pooling",
            Allocator::OnDemand => "on-demand",
        }
    }
}

/// Builds the engine, preferring the pooling allocator. Reserving the pool can fail where the
/// address space is limited (`ulimit -v`, some sandboxes); the operator then still works, only
/// instantiation is a little slower, so fall back and say so. With `perf_map`, the engine names
/// the code it loads in `/tmp/perf-<pid>.map` for `perf`.
pub fn build_engine(prefer_pooling: bool, perf_map: bool) -> wasmtime::Result<(Engine, Allocator)> {
    if prefer_pooling {
        match Engine::new(&config(Some(pool()), perf_map)?) {
            Ok(engine) => return Ok((engine, Allocator::Pooling)),
            Err(error) => {
                tracing::warn!(error = %error, "policy instance pool unavailable; using on-demand allocation");
            }
        }
    }
    Ok((Engine::new(&config(None, perf_map)?)?, Allocator::OnDemand))
}

/// The shared compilation settings ([`super::compilation`]) with the instance allocator, and the
/// perf map when asked for.
fn config(pool: Option<PoolingAllocationConfig>, perf_map: bool) -> wasmtime::Result<Config> {
    let mut config = compilation_config(TARGET)?;
    if let Some(pool) = pool {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    if perf_map {
        config.profiler(ProfilingStrategy::PerfMap);
    }
    Ok(config)
}

/// Sized for a few dozen concurrent calls; each memory slot reserves virtual address space only.
fn pool() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(256)
        .total_core_instances(1024)
        .total_memories(256)
        .total_tables(1024)
        .max_memory_size(MAX_MEMORY_BYTES)
        // A slot put back keeps up to this much of its memory resident and resets it with
        // `memset` instead of `madvise`, so the next call in it takes no page faults there. With
        // PAGEMAP_SCAN (Linux 6.7 and later) only the pages the call wrote are reset and kept, so
        // a slot keeps what one call of its policy touches (a plan of the default policy: a few
        // hundred KiB), never more than this; older kernels reset the lowest bytes up to it.
        .linear_memory_keep_resident(512 << 10)
        .table_keep_resident(16 << 10)
        .pagemap_scan(Enabled::Auto);
    pool
}

/// Starts the thread that advances the epoch every `tick` until the engine is dropped. It holds
/// only a weak reference, so it never keeps the engine alive.
pub fn start_epoch_ticker(engine: &Engine, tick: Duration) -> std::io::Result<()> {
    let weak: EngineWeak = engine.weak();
    std::thread::Builder::new()
        .name("policy-epoch".to_string())
        .spawn(move || {
            loop {
                std::thread::sleep(tick);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })?;
    Ok(())
}

/// The number of epoch ticks to allow for `deadline`: rounded up, plus one because the first
/// tick may come at any moment, so the interrupt lands within one tick after the deadline.
pub fn deadline_ticks(deadline: Duration, tick: Duration) -> u64 {
    let tick_nanos = tick.as_nanos().max(1);
    let ticks = deadline.as_nanos().div_ceil(tick_nanos);
    u64::try_from(ticks)
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_to_whole_ticks_plus_one() {
        assert_eq!(
            deadline_ticks(Duration::from_millis(100), Duration::from_millis(10)),
            11
        );
        assert_eq!(
            deadline_ticks(Duration::from_millis(101), Duration::from_millis(10)),
            12
        );
        assert_eq!(
            deadline_ticks(Duration::from_millis(1), Duration::from_millis(10)),
            2
        );
    }
}
