//! The per-call sandbox: a deny-all WASI context and the state a call's `Store` owns.
//!
//! Guests are linked against WASI p2 because every `wasm32-wasip2` component imports it, but
//! nothing is granted: no preopened directories, environment, arguments or stdin; TCP, UDP and
//! name lookup off; a wall clock frozen at the Unix epoch so a policy cannot depend on the date.
//! The monotonic clock is real (harmless, and guests use it for timing); every wait on it ends at
//! the call's deadline ([`super::waits`]).

use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::bounds::CallBounds;
use super::delegation::Delegation;
use super::error::PolicyError;
use super::limits::PolicyLimits;
use super::memory::MemoryBudget;
use super::output::CappedOutput;
use super::waits::BoundedWaits;

/// A wall clock that always reads 1970-01-01T00:00:00Z.
struct FrozenWallClock;

impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

/// Everything one call's `Store` holds. A store serves exactly one call and is then dropped.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) budget: MemoryBudget,
    pub(super) stdout: CappedOutput,
    pub(super) stderr: CappedOutput,
    /// The other policies this call may reach through the `defaults` and `custom` imports.
    pub(super) delegation: Delegation,
    /// Set when a nested policy call failed outright; the outer call fails with it.
    pub(super) nested_failure: Option<PolicyError>,
    /// When the call (with the calls nested in it) must be over.
    ends_at: Instant,
    /// Set when a WASI wait was cut short at `ends_at`.
    pub(super) waited_too_long: bool,
}

impl CallState {
    /// The state of one store running a policy with `limits` within `bounds`; `delegation` says
    /// which other policies it may call (they get the same bounds).
    pub fn new(limits: PolicyLimits, bounds: CallBounds, delegation: Delegation) -> Self {
        let stdout = CappedOutput::new(limits.output_bytes);
        let stderr = CappedOutput::new(limits.output_bytes);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(FrozenWallClock)
            .allow_tcp(false)
            .allow_udp(false)
            // Every socket address is already refused by the default address check.
            .allow_ip_name_lookup(false)
            .build();
        CallState {
            wasi,
            table: ResourceTable::new(),
            budget: MemoryBudget::new(limits, bounds.memory.clone()),
            stdout,
            stderr,
            ends_at: bounds.ends_at,
            delegation: delegation.within(bounds),
            nested_failure: None,
            waited_too_long: false,
        }
    }

    /// What the bounded `wasi:io/poll` works with.
    pub(super) fn waits(&mut self) -> BoundedWaits<'_> {
        BoundedWaits {
            table: &mut self.table,
            ends_at: self.ends_at,
            expired: &mut self.waited_too_long,
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Policies import the type-only `types` interface; it has no functions for the host to provide.
impl super::bindings::aim::policy::types::Host for CallState {}
