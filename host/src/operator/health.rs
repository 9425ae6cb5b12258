//! The operator's one HTTP listener: `/livez`, `/readyz` and `/metrics`. Readiness means "the watch
//! caches are filled", never "this replica leads": a standby replica is healthy and must not be
//! taken out of its Service or restarted for waiting on the lease.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::metrics::Metrics;

/// Set once the watch caches hold their first full list; starts false.
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set_ready(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

#[derive(Clone)]
struct Probes {
    readiness: Readiness,
    metrics: Metrics,
}

/// The routes of the listener.
pub fn router(readiness: Readiness, metrics: Metrics) -> Router {
    Router::new()
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(Probes { readiness, metrics })
}

async fn readyz(State(probes): State<Probes>) -> impl IntoResponse {
    if probes.readiness.is_ready() {
        (StatusCode::OK, "ok")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "watch caches are not filled yet",
        )
    }
}

async fn render_metrics(State(probes): State<Probes>) -> impl IntoResponse {
    (
        // prometheus-client writes the OpenMetrics text format (ending in `# EOF`).
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        probes.metrics.render(),
    )
}

/// Binds `addr` now, so a taken port fails start-up instead of a background task, and serves the
/// routes on a background task for the rest of the process's life.
pub async fn spawn(addr: SocketAddr, routes: Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, routes).await {
            tracing::error!(%error, "the health and metrics listener stopped");
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get_path(routes: &Router, path: &str) -> (StatusCode, String) {
        let request = Request::get(path).body(Body::empty()).expect("request");
        let response = routes.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let body = to_bytes(response.into_body(), 1 << 20).await.expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn readiness_flips_once_the_caches_are_filled() {
        let readiness = Readiness::default();
        let routes = router(readiness.clone(), Metrics::default());
        assert_eq!(get_path(&routes, "/livez").await.0, StatusCode::OK);
        assert_eq!(
            get_path(&routes, "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        readiness.set_ready();
        assert_eq!(get_path(&routes, "/readyz").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn metrics_are_served_as_text() {
        let metrics = Metrics::default();
        metrics.reconcile("service", None, std::time::Duration::from_millis(1));
        let routes = router(Readiness::default(), metrics);
        let (status, body) = get_path(&routes, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains(r#"aim_reconcile_total{controller="service",result="ok"} 1"#));
    }
}
