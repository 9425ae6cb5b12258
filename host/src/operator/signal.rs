//! Waiting for the signals that ask the operator to stop: SIGTERM (Kubernetes ending the pod) and
//! SIGINT (Ctrl-C).

use tokio::signal::unix::{SignalKind, signal};

/// Resolves on the first SIGTERM or SIGINT.
pub async fn terminated() {
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received; shutting down"),
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received; shutting down"),
            }
        }
        Err(error) => {
            // Without a SIGTERM handler, Kubernetes falls back to SIGKILL after the grace period.
            tracing::warn!(%error, "cannot watch for SIGTERM; stopping on SIGINT only");
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
