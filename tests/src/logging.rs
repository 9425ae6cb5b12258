//! Logging for the harness's own programs (`testenv`, `scale-bench`).

use tracing_subscriber::EnvFilter;

/// Logs to stderr at `warn`, or as `RUST_LOG` says. kube's client is silenced by default: it logs
/// every failed `/readyz` poll of a starting control plane as an error, which is expected.
pub fn to_stderr() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,kube_client=off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
