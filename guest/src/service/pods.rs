//! Image pull failures of a service's pods (BEHAVIOUR.md §5.1.4): a container waiting in
//! `ImagePullBackOff` or `ErrImagePull`, classified by its message into auth, not-found or other.

use aim_api::conditions::reasons;
use k8s_openapi::api::core::v1::Pod;

const AUTH_HINTS: [&str; 11] = [
    "unauthorized", "authentication required", "authentication failed", "401", "403", "forbidden",
    "denied", "permission denied", "access denied", "credentials", "no basic auth",
];
const NOT_FOUND_HINTS: [&str; 5] = ["not found", "404", "manifest unknown", "name unknown", "image not found"];

/// The first image pull failure among the pods, as `(reason, message)`.
pub fn image_pull_error(pods: &[Pod]) -> Option<(&'static str, String)> {
    pods.iter().find_map(|pod| {
        let status = pod.status.as_ref()?;
        let containers = status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
        containers.into_iter().find_map(|container| {
            let waiting = container.state.as_ref()?.waiting.as_ref()?;
            let reason = waiting.reason.as_deref()?;
            if reason != "ImagePullBackOff" && reason != "ErrImagePull" {
                return None;
            }
            let detail = waiting.message.clone().unwrap_or_default();
            let lowered = detail.to_lowercase();
            let kind = if AUTH_HINTS.iter().any(|h| lowered.contains(h)) {
                reasons::IMAGE_PULL_AUTH_FAILURE
            } else if NOT_FOUND_HINTS.iter().any(|h| lowered.contains(h)) {
                reasons::IMAGE_NOT_FOUND
            } else {
                reasons::IMAGE_PULL_BACK_OFF
            };
            let message = format!("InferenceService pod Container {:?} is stuck in {reason}: {detail}", container.name);
            Some((kind, message))
        })
    })
}
