//! Host tests that need no cluster: the policy runtime (loading, sandbox limits, delegation, the
//! native and wasm engines), rendering of the examples and of the user guides' examples, and the
//! committed CRDs. One binary for all of them, because each test binary links the whole operator.

#[path = "../support/mod.rs"]
mod support;

mod authoring;
mod crds_are_committed;
mod policy_delegation;
#[cfg(feature = "native-policy")]
mod policy_engine;
mod policy_loading;
mod policy_sandbox;
mod render_examples;
mod user_guides;
