//! What turns the controllers into a process fit for a cluster: the health and metrics listener,
//! leader election on a Lease, stopping on signals, and counting the requests it sends to the API.

pub mod api_requests;
pub mod health;
pub mod leader;
pub mod memory_limit;
pub mod metrics;
pub mod signal;

pub use health::Readiness;
pub use metrics::Metrics;
