//! Counting the operator's requests to the Kubernetes API, by verb and resource, with a tower
//! layer on the client, so what reconciling costs the apiserver shows in `/metrics` as
//! `aim_api_requests_total`. The verb and resource are read from the request line the way the
//! apiserver reads them; the layer sits outside kube's own retries, so it counts the requests the
//! controllers make, not each attempt.

use http::{Method, Request, Uri};
use kube::client::Body;
use tower::util::MapRequestLayer;

use super::metrics::Metrics;

/// A layer for [`kube::client::ClientBuilder::with_layer`] that records every request in
/// `metrics`.
pub fn counting_layer(
    metrics: Metrics,
) -> MapRequestLayer<impl FnMut(Request<Body>) -> Request<Body> + Clone> {
    MapRequestLayer::new(move |request: Request<Body>| {
        let (verb, resource) = classify(request.method(), request.uri());
        metrics.api_request(verb, resource);
        request
    })
}

/// The Kubernetes verb and resource of a request: `GET .../pods` is `list pods`,
/// `GET .../pods?watch=true` is `watch pods`, `PATCH .../pods/x/status` is `patch pods/status`.
/// Paths outside `/api` and `/apis` (discovery, `/version`) count as resource `-`.
pub fn classify(method: &Method, uri: &Uri) -> (&'static str, String) {
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let rest = match segments.first() {
        Some(&"api") => segments.get(2..),
        Some(&"apis") => segments.get(3..),
        _ => None,
    }
    .unwrap_or_default();
    // `namespaces/<ns>/<resource>...` addresses a namespaced resource; `namespaces/<ns>` alone is
    // the namespace object itself.
    let rest = match rest {
        ["namespaces", _, inner @ ..] if !inner.is_empty() => inner,
        other => other,
    };
    let resource = match rest {
        [] => "-".to_owned(),
        [resource] | [resource, _] => (*resource).to_owned(),
        [resource, _, subresource, ..] => format!("{resource}/{subresource}"),
    };
    // Non-resource paths (`/version`) have no collection to list.
    let named = rest.len() >= 2 || rest.is_empty();
    let watching = uri.query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair == "watch=true" || pair == "watch=1")
    });
    let verb = match *method {
        Method::GET if watching => "watch",
        Method::GET if named => "get",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if named => "delete",
        Method::DELETE => "deletecollection",
        _ => "other",
    };
    (verb, resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(method: Method, uri: &str) -> (&'static str, String) {
        classify(&method, &uri.parse().expect("a valid test URI"))
    }

    #[test]
    fn requests_are_classified_as_the_apiserver_names_them() {
        let cases = [
            (
                of(
                    Method::GET,
                    "/apis/aim.silogen.ai/v1alpha1/aimservices?&watch=true&timeoutSeconds=290",
                ),
                ("watch", "aimservices"),
            ),
            (
                of(Method::GET, "/api/v1/nodes?limit=500"),
                ("list", "nodes"),
            ),
            (
                of(Method::GET, "/apis/storage.k8s.io/v1/storageclasses/fast"),
                ("get", "storageclasses"),
            ),
            (
                of(
                    Method::PATCH,
                    "/apis/aim.silogen.ai/v1alpha1/namespaces/ml/aimservices/chat/status?fieldManager=x&force=true",
                ),
                ("patch", "aimservices/status"),
            ),
            (
                of(Method::POST, "/apis/events.k8s.io/v1/namespaces/ml/events"),
                ("create", "events"),
            ),
            (
                of(
                    Method::PUT,
                    "/apis/coordination.k8s.io/v1/namespaces/ml/leases/aim-engine",
                ),
                ("update", "leases"),
            ),
            (
                of(Method::DELETE, "/apis/batch/v1/namespaces/ml/jobs/download"),
                ("delete", "jobs"),
            ),
            (
                of(Method::DELETE, "/api/v1/namespaces/ml/pods"),
                ("deletecollection", "pods"),
            ),
            (
                of(Method::GET, "/api/v1/namespaces/ml"),
                ("get", "namespaces"),
            ),
            (
                of(Method::GET, "/api/v1/namespaces/ml/pods/p/log"),
                ("get", "pods/log"),
            ),
            (of(Method::GET, "/version"), ("get", "-")),
        ];
        for ((verb, resource), (expected_verb, expected_resource)) in cases {
            assert_eq!(
                (verb, resource.as_str()),
                (expected_verb, expected_resource)
            );
        }
    }
}
