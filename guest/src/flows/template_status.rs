//! A template's status: handlers tried in order, the first that applies decides. Ready is sticky —
//! once discovered, a template stays Ready unless its GPU or image goes. Until discovery reports a
//! profile (and always, with in-line model sources), the status shows the profile the spec
//! declares.

use aim_api::conditions::{
    AIMTemplateStatusEnum, ConditionStatus, events, flow_reasons, reasons, types,
};
use aim_api::policy::plan::{EventType, PlannedEvent};
use aim_api::v1alpha1::{AIMModelSource, AIMProfile, AIMResolvedReference};

use crate::conditions::Conditions;
use crate::flows::support::{event, find_condition};
use crate::flows::template_facts::{DiscoveryProgress, TemplateFacts, TemplateSubject};
use crate::template_profile::declared_profile;

use AIMTemplateStatusEnum as Status;
use ConditionStatus::{False, True};

/// What the status handlers decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub status: AIMTemplateStatusEnum,
    pub model_sources: Vec<AIMModelSource>,
    pub profile: Option<AIMProfile>,
    pub events: Vec<PlannedEvent>,
}

/// Runs the handlers, setting conditions as it goes.
pub fn project_status(
    subject: &TemplateSubject<'_>,
    facts: &TemplateFacts<'_>,
    conditions: &mut Conditions<'_>,
) -> Verdict {
    let previous = subject.previous;
    // Fields the handlers do not decide keep what discovery found before.
    let mut verdict = Verdict {
        status: Status::Pending,
        model_sources: previous
            .map(|s| s.model_sources.clone())
            .unwrap_or_default(),
        profile: previous.and_then(|s| s.profile.clone()),
        events: Vec::new(),
    };
    verdict.status = decide(subject, facts, conditions, &mut verdict);
    if verdict.profile.is_none() {
        verdict.profile = declared_profile(subject.common);
    }
    verdict
}

fn decide(
    subject: &TemplateSubject<'_>,
    facts: &TemplateFacts<'_>,
    conditions: &mut Conditions<'_>,
    verdict: &mut Verdict,
) -> Status {
    let was = subject.previous_status();

    if let Err(missing) = &facts.runtime_config {
        let message = format!("Observation failed: {}", missing.message());
        conditions.set(types::FAILURE, True, reasons::FAILED, &message);
        conditions.set(types::READY, False, reasons::FAILED, &message);
        return Status::Failed;
    }

    if !subject.common.model_sources.is_empty() {
        conditions.set(
            types::DISCOVERED,
            True,
            reasons::INLINE_MODEL_SOURCES,
            "Model sources provided in-line in spec",
        );
        conditions.set(
            types::PROGRESSING,
            False,
            reasons::AVAILABLE,
            "No discovery needed",
        );
        conditions.set(types::READY, True, reasons::AVAILABLE, "Template is ready");
        verdict.model_sources = subject.common.model_sources.clone();
        announce(
            &mut verdict.events,
            was,
            Status::Ready,
            EventType::Normal,
            events::MODEL_SOURCES_PROVIDED,
            "Model sources provided in-line in spec".to_owned(),
        );
        return Status::Ready;
    }

    if let Some(gpu) = facts.missing_gpu {
        let message = format!("Required GPU model {gpu:?} is not available in the cluster");
        conditions.set(types::FAILURE, False, reasons::GPU_UNAVAILABLE, &message);
        conditions.set(
            types::PROGRESSING,
            False,
            reasons::GPU_UNAVAILABLE,
            "Waiting for required GPU resources",
        );
        conditions.set(types::READY, False, reasons::GPU_UNAVAILABLE, &message);
        conditions.set(types::DISCOVERED, False, reasons::GPU_UNAVAILABLE, &message);
        announce(
            &mut verdict.events,
            was,
            Status::NotAvailable,
            EventType::Warning,
            events::GPU_UNAVAILABLE,
            message,
        );
        return Status::NotAvailable;
    }

    if facts.model.is_none() {
        let model = &subject.common.model_name;
        let message = if subject.is_cluster() {
            format!("No AIMClusterModel found for image name {model:?}")
        } else {
            format!("No AIMModel or AIMClusterModel found for image name {model:?}")
        };
        conditions.set(types::FAILURE, True, reasons::IMAGE_NOT_FOUND, message);
        conditions.set(
            types::PROGRESSING,
            False,
            reasons::IMAGE_NOT_FOUND,
            "Cannot proceed without image",
        );
        conditions.set(
            types::READY,
            False,
            reasons::IMAGE_NOT_FOUND,
            "Cannot proceed without image",
        );
        return Status::Degraded;
    }

    match &facts.discovery {
        DiscoveryProgress::Running {
            pull_failure: Some(failure),
            ..
        } => {
            let reason = failure.condition_reason();
            let message = failure.describe("Discovery");
            let repeated = find_condition(previous_conditions(subject), types::FAILURE)
                .is_some_and(|c| c.status == "True" && c.reason == reason);
            conditions.set(types::FAILURE, True, reason, &message);
            conditions.set(types::PROGRESSING, False, reason, &message);
            conditions.set(types::READY, False, reason, &message);
            if !repeated {
                verdict
                    .events
                    .push(event(EventType::Warning, failure.event_reason(), message));
            }
            Status::Degraded
        }
        DiscoveryProgress::Running {
            job,
            pull_failure: None,
        } => {
            let name = job.metadata.name.as_deref().unwrap_or_default();
            conditions.set(
                types::PROGRESSING,
                True,
                reasons::DISCOVERY_RUNNING,
                format!("Discovery job {name:?} is running"),
            );
            conditions.set(
                types::DISCOVERED,
                False,
                reasons::JOB_PENDING,
                "Waiting for the discovery job to finish",
            );
            conditions.set(
                types::READY,
                False,
                reasons::RECONCILING,
                "Discovery is running",
            );
            if matches!(was, None | Some(Status::Pending)) {
                verdict.events.push(event(
                    EventType::Normal,
                    events::DISCOVERY_STARTED,
                    format!("Discovery job {name:?} started"),
                ));
            }
            Status::Progressing
        }
        DiscoveryProgress::Failed { job } => {
            let name = job.metadata.name.as_deref().unwrap_or_default();
            conditions.set(
                types::FAILURE,
                True,
                reasons::JOB_FAILED,
                "Discovery job failed",
            );
            conditions.set(
                types::PROGRESSING,
                False,
                reasons::JOB_FAILED,
                "Discovery job failed",
            );
            conditions.set(
                types::DISCOVERED,
                False,
                reasons::DISCOVERY_FAILED,
                format!("Discovery job {name:?} failed"),
            );
            conditions.set(types::READY, False, reasons::FAILED, "Discovery job failed");
            announce(
                &mut verdict.events,
                was,
                Status::Failed,
                EventType::Warning,
                events::DISCOVERY_FAILED,
                format!("Discovery job {name:?} failed"),
            );
            Status::Failed
        }
        DiscoveryProgress::Succeeded {
            output: Err(error), ..
        } => {
            let message = format!("Discovery output could not be used: {error}");
            conditions.set(
                types::FAILURE,
                True,
                reasons::DISCOVERY_PARSE_FAILED,
                &message,
            );
            conditions.set(
                types::PROGRESSING,
                False,
                reasons::DISCOVERY_PARSE_FAILED,
                &message,
            );
            conditions.set(
                types::DISCOVERED,
                False,
                reasons::DISCOVERY_PARSE_FAILED,
                &message,
            );
            conditions.set(types::READY, False, reasons::FAILED, &message);
            announce(
                &mut verdict.events,
                was,
                Status::Failed,
                EventType::Warning,
                events::DISCOVERY_FAILED,
                message,
            );
            Status::Failed
        }
        DiscoveryProgress::Succeeded {
            output: Ok(result), ..
        } => {
            verdict.model_sources = result.model_sources.clone();
            verdict.profile = Some(result.profile.clone());
            set_ready(conditions, "Model sources discovered", "Discovery complete");
            announce(
                &mut verdict.events,
                was,
                Status::Ready,
                EventType::Normal,
                events::DISCOVERY_COMPLETED,
                "Discovery complete".to_owned(),
            );
            Status::Ready
        }
        DiscoveryProgress::NoJob if was == Some(Status::Ready) => {
            set_ready(conditions, "Model sources discovered", "Discovery complete");
            Status::Ready
        }
        DiscoveryProgress::NoJob if facts.discovery_deferred => {
            let message =
                "Discovery deferred: the cluster already runs the maximum number of discovery jobs";
            conditions.set(
                types::PROGRESSING,
                True,
                flow_reasons::DISCOVERY_DEFERRED,
                message,
            );
            conditions.set(types::READY, False, reasons::RECONCILING, message);
            Status::Pending
        }
        DiscoveryProgress::NoJob => {
            conditions.set(
                types::PROGRESSING,
                True,
                reasons::RECONCILING,
                "Initiating discovery",
            );
            conditions.set(
                types::READY,
                False,
                reasons::RECONCILING,
                "Initiating discovery",
            );
            Status::Pending
        }
    }
}

/// Records an event only when the status changes to `becomes`, so a steady state stays quiet.
fn announce(
    events: &mut Vec<PlannedEvent>,
    was: Option<Status>,
    becomes: Status,
    type_: EventType,
    reason: &str,
    message: String,
) {
    if was != Some(becomes) {
        events.push(event(type_, reason, message));
    }
}

fn set_ready(conditions: &mut Conditions<'_>, discovered: &str, progressing: &str) {
    conditions.set(types::DISCOVERED, True, reasons::DISCOVERED, discovered);
    conditions.set(types::PROGRESSING, False, reasons::AVAILABLE, progressing);
    conditions.set(types::READY, True, reasons::AVAILABLE, "Template is ready");
}

fn previous_conditions<'a>(
    subject: &TemplateSubject<'a>,
) -> &'a [k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
    subject
        .previous
        .map_or(&[][..], |status| &status.conditions[..])
}

/// Tells when the runtime config in force changes (or on the first reconcile): which one is used,
/// or that built-in defaults apply because no `default` config exists.
pub fn runtime_config_events(
    subject: &TemplateSubject<'_>,
    current: Option<&AIMResolvedReference>,
) -> Vec<PlannedEvent> {
    let previous = subject
        .previous
        .and_then(|status| status.resolved_runtime_config.as_ref());
    if subject.previous.is_some() && previous == current {
        return Vec::new();
    }
    let message = match current {
        None => {
            return vec![event(
                EventType::Warning,
                events::DEFAULT_RUNTIME_CONFIG_NOT_FOUND,
                "Default AIMRuntimeConfig not found, proceeding with controller defaults.",
            )];
        }
        Some(config) => match &config.namespace {
            Some(namespace) => format!(
                "Using AIMRuntimeConfig {:?} from namespace/{namespace}",
                config.name
            ),
            None => format!(
                "Using AIMClusterRuntimeConfig {:?} from cluster",
                config.name
            ),
        },
    };
    vec![event(
        EventType::Normal,
        events::RUNTIME_CONFIG_RESOLVED,
        message,
    )]
}
