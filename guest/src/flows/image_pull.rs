//! Pods stuck pulling their image (an InferenceService's, or a discovery Job's): which container,
//! and whether the registry refused the credentials, does not know the image, or failed otherwise.

use aim_api::conditions::{events, reasons};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// Waiting reasons that mean the kubelet cannot pull the image.
const PULL_WAITING_REASONS: [&str; 2] = ["ImagePullBackOff", "ErrImagePull"];

const AUTH_MARKERS: [&str; 10] = [
    "unauthorized",
    "authentication required",
    "authentication failed",
    "401",
    "403",
    "forbidden",
    "denied",
    "permission denied",
    "access denied",
    "credentials",
];
const NOT_FOUND_MARKERS: [&str; 5] = [
    "not found",
    "404",
    "manifest unknown",
    "name unknown",
    "image not found",
];

/// Why an image could not be pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImagePullFailureKind {
    /// The registry refused the credentials.
    Auth,
    /// The registry does not know the image or tag.
    NotFound,
    /// Anything else.
    Other,
}

/// A container stuck pulling its image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePullFailure {
    /// What went wrong.
    pub kind: ImagePullFailureKind,
    /// The container's name.
    pub container: String,
    /// The kubelet's waiting reason (`ImagePullBackOff` or `ErrImagePull`).
    pub waiting_reason: String,
    /// The kubelet's message.
    pub message: String,
}

impl ImagePullFailure {
    /// The condition reason reporting it.
    pub fn condition_reason(&self) -> &'static str {
        match self.kind {
            ImagePullFailureKind::Auth => reasons::IMAGE_PULL_AUTH_FAILURE,
            ImagePullFailureKind::NotFound => reasons::IMAGE_NOT_FOUND,
            ImagePullFailureKind::Other => reasons::IMAGE_PULL_BACK_OFF,
        }
    }

    /// The event reason reporting it.
    pub fn event_reason(&self) -> &'static str {
        match self.kind {
            ImagePullFailureKind::Auth => events::IMAGE_PULL_AUTH_FAILED,
            ImagePullFailureKind::NotFound => events::IMAGE_NOT_FOUND,
            ImagePullFailureKind::Other => events::IMAGE_PULL_FAILED,
        }
    }

    /// A sentence naming the pod's role, e.g. `Discovery pod Container "x" is stuck in ...`.
    pub fn describe(&self, pod_role: &str) -> String {
        format!(
            "{pod_role} pod Container {:?} is stuck in {}: {}",
            self.container, self.waiting_reason, self.message
        )
    }
}

/// Classifies a registry or kubelet message; credentials problems are checked first because
/// registries often answer a refused login with "not found".
pub fn classify(message: &str) -> ImagePullFailureKind {
    let lowered = message.to_lowercase();
    if AUTH_MARKERS.iter().any(|marker| lowered.contains(marker)) {
        ImagePullFailureKind::Auth
    } else if NOT_FOUND_MARKERS
        .iter()
        .any(|marker| lowered.contains(marker))
    {
        ImagePullFailureKind::NotFound
    } else {
        ImagePullFailureKind::Other
    }
}

/// The first container (init containers first, pods by name) stuck pulling its image.
pub fn image_pull_failure<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> Option<ImagePullFailure> {
    let mut pods: Vec<&Pod> = pods.into_iter().collect();
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    pods.into_iter()
        .filter_map(|pod| pod.status.as_ref())
        .flat_map(|status| {
            let init = status.init_container_statuses.iter().flatten();
            init.chain(status.container_statuses.iter().flatten())
        })
        .find_map(stuck_pulling)
}

fn stuck_pulling(status: &ContainerStatus) -> Option<ImagePullFailure> {
    let waiting = status.state.as_ref()?.waiting.as_ref()?;
    let reason = waiting.reason.as_deref()?;
    if !PULL_WAITING_REASONS.contains(&reason) {
        return None;
    }
    let message = waiting.message.clone().unwrap_or_default();
    Some(ImagePullFailure {
        kind: classify(&message),
        container: status.name.clone(),
        waiting_reason: reason.to_owned(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{ContainerState, ContainerStateWaiting, PodStatus};

    use super::*;

    fn pod_waiting(reason: &str, message: &str) -> Pod {
        Pod {
            status: Some(PodStatus {
                container_statuses: Some(vec![ContainerStatus {
                    name: "discovery".to_owned(),
                    state: Some(ContainerState {
                        waiting: Some(ContainerStateWaiting {
                            reason: Some(reason.to_owned()),
                            message: Some(message.to_owned()),
                        }),
                        ..ContainerState::default()
                    }),
                    ..ContainerStatus::default()
                }]),
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn registry_messages_are_classified_credentials_first() {
        assert_eq!(classify("401 Unauthorized"), ImagePullFailureKind::Auth);
        assert_eq!(
            classify("pull access denied, repository does not exist"),
            ImagePullFailureKind::Auth
        );
        assert_eq!(classify("manifest unknown"), ImagePullFailureKind::NotFound);
        assert_eq!(classify("i/o timeout"), ImagePullFailureKind::Other);
    }

    #[test]
    fn a_container_in_image_pull_back_off_is_reported_with_its_name() {
        let pods = [pod_waiting("ImagePullBackOff", "manifest unknown")];
        let failure = image_pull_failure(&pods).unwrap();
        assert_eq!(failure.condition_reason(), reasons::IMAGE_NOT_FOUND);
        assert_eq!(
            failure.describe("Discovery"),
            "Discovery pod Container \"discovery\" is stuck in ImagePullBackOff: manifest unknown"
        );
    }

    #[test]
    fn other_waiting_reasons_are_not_pull_failures() {
        let pods = [pod_waiting("ContainerCreating", "")];
        assert_eq!(image_pull_failure(&pods), None);
    }
}
