//! What a running pod's containers answer on their ports: an OpenAI-style model list on
//! `/v1/models` naming the InferenceService the pod serves and the pod itself, and 200 on anything
//! else under `/health` or `/`; so a request through a Gateway shows which pod it reached.

use std::convert::Infallible;

use anyhow::Result;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt as _;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Label KServe puts on the pods of an InferenceService.
const INFERENCE_SERVICE_LABEL: &str = "serving.kserve.io/inferenceservice";

/// Serves the stub for `pod` on `listener` on a task of the caller's runtime.
pub(super) fn serve_stub(listener: std::net::TcpListener, pod: &Pod) -> Result<JoinHandle<()>> {
    let listener = TcpListener::from_std(listener)?;
    let pod_name = pod.name_any();
    let model = pod
        .labels()
        .get(INFERENCE_SERVICE_LABEL)
        .cloned()
        .unwrap_or_else(|| pod_name.clone());
    Ok(tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let (model, pod_name) = (model.clone(), pod_name.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let response = respond(&req, &model, &pod_name);
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    }))
}

fn respond(req: &Request<Incoming>, model: &str, pod: &str) -> Response<Full<Bytes>> {
    let (status, body) = match req.uri().path() {
        "/v1/models" => (
            StatusCode::OK,
            json!({"object": "list", "data": [{"id": model, "object": "model", "owned_by": pod}]})
                .to_string(),
        ),
        "/" | "/health" => (StatusCode::OK, "{}".to_owned()),
        other => (
            StatusCode::NOT_FOUND,
            json!({"error": format!("no route {other}")}).to_string(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
