//! Every wait a policy makes through WASI ends at its call's deadline.
//!
//! Epoch interruption stops a policy only while its WebAssembly runs. A policy blocked in a host
//! call (`std::thread::sleep` becomes `subscribe-duration` then `pollable.block`; an event loop
//! calls `poll` on a list) would hold its thread for as long as it asked, far past any deadline.
//! So the host links its own `wasi:io/poll` over wasmtime-wasi's: the same readiness logic, under a
//! timeout that ends when the call must end. A wait cut short that way fails the call as a timeout
//! instead of letting the policy carry on as if the time it asked for had passed.
//!
//! `poll` and `block` are the only host functions that can wait in this sandbox: stdin is closed,
//! stdout and stderr are in-memory sinks that accept every write at once, and there are no files
//! and no sockets (see [`super::sandbox`]).

use std::time::Instant;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::sync::io::poll as sync_poll;
use wasmtime_wasi::runtime::in_tokio;
use wasmtime_wasi_io::bindings::wasi::io::poll as async_poll;

/// What a wait needs from the call's state.
pub(super) struct BoundedWaits<'a> {
    pub table: &'a mut ResourceTable,
    /// When the call must be over.
    pub ends_at: Instant,
    /// Set when a wait was cut short at `ends_at`.
    pub expired: &'a mut bool,
}

struct Bounded;

impl HasData for Bounded {
    type Data<'a> = BoundedWaits<'a>;
}

/// Replaces wasmtime-wasi's `wasi:io/poll` in `linker` (which must already have it) with the
/// bounded one; `waits` gives a store's state as the bounded poll needs it.
pub(super) fn shadow_poll<T: Send + 'static>(
    linker: &mut Linker<T>,
    waits: fn(&mut T) -> BoundedWaits<'_>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let linked = sync_poll::add_to_linker::<T, Bounded>(linker, waits);
    linker.allow_shadowing(false);
    linked
}

impl sync_poll::Host for BoundedWaits<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        let wait = async_poll::Host::poll(&mut *self.table, pollables);
        until(self.ends_at, self.expired, wait)
    }
}

impl sync_poll::HostPollable for BoundedWaits<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        // Never waits: it polls the pollable once.
        sync_poll::HostPollable::ready(&mut *self.table, pollable)
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        let wait = async_poll::HostPollable::block(&mut *self.table, pollable);
        until(self.ends_at, self.expired, wait)
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        sync_poll::HostPollable::drop(&mut *self.table, pollable)
    }
}

/// Runs `wait` to its end, or fails when `ends_at` comes first and records that in `expired`.
fn until<T>(
    ends_at: Instant,
    expired: &mut bool,
    wait: impl Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<T> {
    // The timer is made inside the runtime `in_tokio` enters, which it needs.
    match in_tokio(async move { tokio::time::timeout_at(ends_at.into(), wait).await }) {
        Ok(result) => result,
        Err(_) => {
            *expired = true;
            Err(wasmtime::format_err!(
                "the policy waited past the end of its call"
            ))
        }
    }
}
