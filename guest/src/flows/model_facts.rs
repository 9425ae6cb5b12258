//! What a model's plan is decided from: the model whichever its scope, its runtime config, whether
//! discovery and template generation are on, what is known of its image's labels, and how the
//! templates it owns are doing.

use aim_api::conditions::{AIMTemplateStatusEnum, reasons, types};
use aim_api::policy::observation::{ModelObservation, RegistryErrorKind};
use aim_api::v1alpha1::{AIMImageMetadata, AIMModelSpecCommon, AIMModelStatus};

use crate::PolicyFailure;
use crate::flows::image_labels::{MetadataFormatError, image_metadata};
use crate::flows::support::find_condition;
use crate::runtime_config::{EffectiveRuntimeConfig, resolve};

/// The model being planned, whichever its scope.
#[derive(Debug, Clone, Copy)]
pub struct ModelSubject<'a> {
    pub name: &'a str,
    /// `None` for a cluster model.
    pub namespace: Option<&'a str>,
    /// For a cluster model the operator created for a service: that service's namespace.
    pub requesting_namespace: Option<&'a str>,
    pub generation: Option<i64>,
    pub spec: &'a AIMModelSpecCommon,
    pub previous: Option<&'a AIMModelStatus>,
}

impl ModelSubject<'_> {
    /// Whether the names in the model's spec (ServiceAccount, pull Secrets) may travel to the
    /// templates it generates. They are names in the namespace of whoever wrote them; a template
    /// generated for an auto-created cluster model is a cluster template, whose runtime serves
    /// every namespace, so that namespace's names stay on the model, which uses them only there.
    pub fn credentials_travel(&self) -> bool {
        self.requesting_namespace.is_none()
    }
}

/// What is known about the image's labels.
#[derive(Debug, Clone, PartialEq)]
pub enum Inspection {
    /// Discovery is off: the image is not inspected.
    Disabled,
    /// The labels are needed and the host has been asked for them.
    Awaiting,
    /// The registry did not answer.
    RegistryFailed {
        kind: RegistryErrorKind,
        message: String,
    },
    /// The labels cannot be used.
    Unusable(MetadataFormatError),
    /// The labels were read.
    Extracted(Box<AIMImageMetadata>),
}

/// Everything observed about a model, read once.
#[derive(Debug, Clone)]
pub struct ModelFacts {
    /// The model's runtime config; a missing one only means defaults here, so that discovery
    /// does not stall on it.
    pub runtime_config: EffectiveRuntimeConfig,
    /// Whether templates are generated from the image's recommended deployments.
    pub auto_create: bool,
    pub inspection: Inspection,
    /// Statuses of the templates the model owns, of its own scope.
    pub template_statuses: Vec<AIMTemplateStatusEnum>,
}

pub fn observe(observation: &ModelObservation, subject: &ModelSubject<'_>) -> ModelFacts {
    let runtime_config =
        resolve(&observation.runtime_configs, subject.namespace).unwrap_or_default();
    let discovery = subject.spec.discovery.as_ref();
    let discovery_enabled = discovery
        .and_then(|d| d.enabled)
        .or(runtime_config
            .common
            .model
            .as_ref()
            .and_then(|m| m.auto_discovery))
        .unwrap_or(true);
    let auto_create = discovery
        .and_then(|d| d.auto_create_templates)
        .unwrap_or(discovery_enabled);
    let inspection = if discovery_enabled {
        inspection(observation, subject)
    } else {
        Inspection::Disabled
    };
    ModelFacts {
        runtime_config,
        auto_create,
        inspection,
        template_statuses: owned_template_statuses(observation, subject),
    }
}

pub fn subject(observation: &ModelObservation) -> Result<ModelSubject<'_>, PolicyFailure> {
    let requesting_namespace = observation
        .cluster_model
        .as_ref()
        .and_then(|model| model.spec.requesting_namespace());
    let (metadata, spec, previous) = match (&observation.model, &observation.cluster_model) {
        (Some(model), None) => (&model.metadata, &model.spec.common, model.status.as_ref()),
        (None, Some(model)) => (&model.metadata, &model.spec.common, model.status.as_ref()),
        _ => {
            return Err(PolicyFailure::InvalidInput(
                "a model observation needs exactly one of model and clusterModel".to_owned(),
            ));
        }
    };
    Ok(ModelSubject {
        name: metadata.name.as_deref().unwrap_or_default(),
        namespace: observation
            .model
            .as_ref()
            .map(|_| metadata.namespace.as_deref().unwrap_or_default()),
        requesting_namespace,
        generation: metadata.generation,
        spec,
        previous,
    })
}

/// The freshest answer wins: the host's inspection of the current image, else what an earlier
/// reconcile of this generation concluded (so the registry is asked once, not every reconcile),
/// else a new request. Transient registry errors are never remembered, so they are retried.
fn inspection(observation: &ModelObservation, subject: &ModelSubject<'_>) -> Inspection {
    if let Some(result) = observation
        .image_inspection
        .as_ref()
        .filter(|i| i.image == subject.spec.image)
    {
        if let Some(error) = &result.error {
            return Inspection::RegistryFailed {
                kind: error.kind,
                message: error.message.clone(),
            };
        }
        let labels = result.labels.clone().unwrap_or_default();
        return match image_metadata(&labels) {
            Ok(metadata) => Inspection::Extracted(Box::new(metadata)),
            Err(error) => Inspection::Unusable(error),
        };
    }
    let previous = subject.previous;
    let Some(condition) = previous
        .and_then(|status| find_condition(&status.conditions, types::METADATA_EXTRACTED))
        .filter(|condition| condition.observed_generation == subject.generation)
    else {
        return Inspection::Awaiting;
    };
    let registry = |kind| Inspection::RegistryFailed {
        kind,
        message: condition.message.clone(),
    };
    let unusable = |reason| {
        Inspection::Unusable(MetadataFormatError {
            reason,
            message: condition.message.clone(),
        })
    };
    match (condition.status.as_str(), condition.reason.as_str()) {
        ("True", _) => previous
            .and_then(|status| status.image_metadata.clone())
            .map_or(Inspection::Awaiting, |metadata| {
                Inspection::Extracted(Box::new(metadata))
            }),
        (_, reasons::IMAGE_PULL_AUTH_FAILURE) => registry(RegistryErrorKind::Auth),
        (_, reasons::IMAGE_NOT_FOUND) => registry(RegistryErrorKind::NotFound),
        (_, reasons::METADATA_MISSING_RECOMMENDED_DEPLOYMENTS) => {
            unusable(reasons::METADATA_MISSING_RECOMMENDED_DEPLOYMENTS)
        }
        (_, reasons::METADATA_MALFORMED) => unusable(reasons::METADATA_MALFORMED),
        _ => Inspection::Awaiting,
    }
}

fn owned_template_statuses(
    observation: &ModelObservation,
    subject: &ModelSubject<'_>,
) -> Vec<AIMTemplateStatusEnum> {
    let status_of = |status: Option<&aim_api::v1alpha1::AIMServiceTemplateStatus>| {
        status.map(|s| s.status).unwrap_or_default()
    };
    if subject.namespace.is_some() {
        observation
            .templates
            .iter()
            .map(|t| status_of(t.status.as_ref()))
            .collect()
    } else {
        observation
            .cluster_templates
            .iter()
            .map(|t| status_of(t.status.as_ref()))
            .collect()
    }
}
