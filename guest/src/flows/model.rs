//! Planning for AIMModel and AIMClusterModel: have the host read the image's labels once, turn each
//! recommended deployment into a template the model owns, and report the model's status from those
//! templates.

use aim_api::conditions::{AIMTemplateStatusEnum, label_values, labels, reasons, types};
use aim_api::policy::observation::{ModelObservation, RegistryErrorKind};
use aim_api::policy::plan::{ImageInspectionRequest, ObjectReference, Owner, Plan, PlannedObject};
use aim_api::v1alpha1::{
    AIMClusterServiceTemplate, AIMClusterServiceTemplateSpec, AIMGpuSelector, AIMImageMetadata,
    AIMModelSpecCommon, AIMModelStatus, AIMRecommendedDeployment, AIMRuntimeParameters,
    AIMServiceTemplate, AIMServiceTemplateSpec, AIMServiceTemplateSpecCommon,
    DEFAULT_GPU_RESOURCE_NAME, DEFAULT_RUNTIME_CONFIG_NAME,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::PolicyFailure;
use crate::conditions::Conditions;
use crate::flows::image_labels::{
    MetadataFormatError, image_metadata, parse_metric, parse_precision,
};
use crate::flows::model_status::project_model_status;
use crate::flows::support::{
    find_condition, label_map, merge_pull_secrets, new_plan, status_document, to_json,
};
use crate::resource_names::{DeploymentKey, template_name};
use crate::runtime_config::{EffectiveRuntimeConfig, resolve};

/// How soon to ask the registry again after an error that may pass (network, server).
const REGISTRY_RETRY_SECONDS: u32 = 60;

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
    fn credentials_travel(&self) -> bool {
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

/// Plans one model.
pub fn plan_model(observation: &ModelObservation) -> Result<Plan, PolicyFailure> {
    let subject = subject(observation)?;
    // A missing runtime config only means defaults here: discovery must not stall on it.
    let config = resolve(&observation.runtime_configs, subject.namespace).unwrap_or_default();
    let discovery = subject.spec.discovery.as_ref();
    let discovery_enabled = discovery
        .and_then(|d| d.enabled)
        .or(config.common.model.as_ref().and_then(|m| m.auto_discovery))
        .unwrap_or(true);
    let auto_create = discovery
        .and_then(|d| d.auto_create_templates)
        .unwrap_or(discovery_enabled);
    let inspection = if discovery_enabled {
        inspection(observation, &subject)
    } else {
        Inspection::Disabled
    };

    let mut plan = new_plan();
    if let Some(unused) = unused_auto_created(observation, &subject) {
        plan.delete = vec![unused];
        return Ok(plan);
    }
    match &inspection {
        Inspection::Awaiting => plan.inspect_image = Some(inspection_request(&subject, &config)),
        Inspection::RegistryFailed {
            kind: RegistryErrorKind::Other,
            ..
        } => {
            plan.requeue_after_seconds = Some(REGISTRY_RETRY_SECONDS);
        }
        Inspection::Extracted(metadata) if auto_create => {
            for deployment in recommended_deployments(metadata) {
                let object = generated_template(&subject, deployment)?;
                plan.apply.push(PlannedObject {
                    object,
                    owner: Owner::Subject,
                });
            }
        }
        _ => {}
    }

    let template_statuses = owned_template_statuses(observation, &subject);
    let previous_conditions = subject
        .previous
        .map_or(&[][..], |status| &status.conditions[..]);
    let mut conditions = Conditions::new(previous_conditions, subject.generation);
    let outcome = project_model_status(
        &subject,
        &inspection,
        &template_statuses,
        auto_create,
        &mut conditions,
    );
    plan.events = outcome.events;
    let image_metadata = match &inspection {
        Inspection::Extracted(metadata) => Some(metadata.as_ref().clone()),
        Inspection::Disabled | Inspection::Awaiting => {
            subject.previous.and_then(|s| s.image_metadata.clone())
        }
        Inspection::RegistryFailed { .. } | Inspection::Unusable(_) => None,
    };
    let status = AIMModelStatus {
        observed_generation: subject.generation,
        status: outcome.status,
        conditions: Vec::new(),
        resolved_runtime_config: config.reference.clone(),
        image_metadata,
    };
    plan.status = Some(status_document(&status, conditions)?);
    Ok(plan)
}

/// An AIMClusterModel the operator created for a service is deleted once nothing uses it: no
/// service runs it, names it or (in the namespace that asked for it) asks for its image, and no
/// template but its own names it. Its generated templates, their runtimes and Jobs go with it;
/// the next service that asks for the image creates it again. Models an admin created, and
/// namespace models, are never collected.
fn unused_auto_created(
    observation: &ModelObservation,
    subject: &ModelSubject<'_>,
) -> Option<ObjectReference> {
    let model = observation.cluster_model.as_ref()?;
    let auto_created = model
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(labels::AUTO_CREATED))
        .is_some_and(|value| value == label_values::TRUE);
    if !auto_created || subject.requesting_namespace.is_none() || !observation.users.is_empty() {
        return None;
    }
    Some(ObjectReference {
        api_version: aim_api::API_VERSION.to_owned(),
        kind: "AIMClusterModel".to_owned(),
        name: subject.name.to_owned(),
        namespace: None,
    })
}

fn subject(observation: &ModelObservation) -> Result<ModelSubject<'_>, PolicyFailure> {
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

fn inspection_request(
    subject: &ModelSubject<'_>,
    config: &EffectiveRuntimeConfig,
) -> ImageInspectionRequest {
    let secrets =
        merge_pull_secrets(&[&subject.spec.image_pull_secrets, &config.image_pull_secrets]);
    ImageInspectionRequest {
        image: subject.spec.image.clone(),
        pull_secrets: secrets.into_iter().map(|secret| secret.name).collect(),
    }
}

fn recommended_deployments(metadata: &AIMImageMetadata) -> &[AIMRecommendedDeployment] {
    metadata
        .model
        .as_ref()
        .map_or(&[][..], |model| &model.recommended_deployments[..])
}

/// The template for one recommended deployment: a namespace template for an AIMModel, a cluster
/// template for an AIMClusterModel.
fn generated_template(
    subject: &ModelSubject<'_>,
    deployment: &AIMRecommendedDeployment,
) -> Result<Value, PolicyFailure> {
    let name = template_name(
        subject.name,
        &DeploymentKey {
            gpu_model: &deployment.gpu_model,
            gpu_count: deployment.gpu_count,
            metric: &deployment.metric,
            precision: &deployment.precision,
        },
    );
    let gpu_selector =
        (!deployment.gpu_model.is_empty() && deployment.gpu_count > 0).then(|| AIMGpuSelector {
            count: deployment.gpu_count,
            model: deployment.gpu_model.clone(),
            resource_name: DEFAULT_GPU_RESOURCE_NAME.to_owned(),
        });
    let common = AIMServiceTemplateSpecCommon {
        model_name: subject.name.to_owned(),
        runtime: AIMRuntimeParameters {
            metric: parse_metric(&deployment.metric),
            precision: parse_precision(&deployment.precision),
            gpu_selector,
        },
        // The model's runtime config holds the credentials its discovery needs (the runtime
        // configuration guide: "Services select the appropriate config").
        runtime_config_name: runtime_config_name(subject.spec),
        image_pull_secrets: if subject.credentials_travel() {
            subject.spec.image_pull_secrets.clone()
        } else {
            Vec::new()
        },
        service_account_name: subject
            .spec
            .service_account_name
            .clone()
            .filter(|_| subject.credentials_travel()),
        resources: None,
        model_sources: Vec::new(),
    };
    let metadata = ObjectMeta {
        name: Some(name),
        namespace: subject.namespace.map(str::to_owned),
        labels: Some(label_map(&[
            (labels::AUTO_GENERATED, label_values::TRUE),
            (labels::AIM_IMAGE, subject.name),
        ])),
        ..ObjectMeta::default()
    };
    match subject.namespace {
        Some(_) => to_json(&AIMServiceTemplate {
            metadata,
            spec: AIMServiceTemplateSpec {
                common,
                caching: None,
                env: Vec::new(),
            },
            status: None,
        }),
        None => to_json(&AIMClusterServiceTemplate {
            metadata,
            spec: AIMClusterServiceTemplateSpec { common },
            status: None,
        }),
    }
}

/// The runtime config a generated template resolves: the model's own, `default` when blank.
fn runtime_config_name(spec: &AIMModelSpecCommon) -> String {
    let name = spec.runtime_config_name.trim();
    if name.is_empty() {
        DEFAULT_RUNTIME_CONFIG_NAME.to_owned()
    } else {
        name.to_owned()
    }
}

/// Statuses of the templates the model owns, of its own scope.
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
