//! Planning for AIMModel and AIMClusterModel: have the host read the image's labels once, turn each
//! recommended deployment into a template the model owns, and report the model's status from those
//! templates.

use aim_api::conditions::{label_values, labels};
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
use crate::flows::image_labels::{parse_metric, parse_precision};
use crate::flows::model_facts::{Inspection, ModelFacts, ModelSubject, observe, subject};
use crate::flows::model_status::project_model_status;
use crate::flows::support::{label_map, merge_pull_secrets, new_plan, status_document, to_json};
use crate::resource_names::{DeploymentKey, template_name};
use crate::runtime_config::EffectiveRuntimeConfig;

/// How soon to ask the registry again after an error that may pass (network, server).
const REGISTRY_RETRY_SECONDS: u32 = 60;

/// Plans one model.
pub fn plan_model(observation: &ModelObservation) -> Result<Plan, PolicyFailure> {
    let subject = subject(observation)?;
    let facts = observe(observation, &subject);
    let ModelFacts {
        runtime_config: config,
        auto_create,
        inspection,
        ..
    } = &facts;

    let mut plan = new_plan();
    if let Some(unused) = unused_auto_created(observation, &subject) {
        plan.delete = vec![unused];
        return Ok(plan);
    }
    match inspection {
        Inspection::Awaiting => plan.inspect_image = Some(inspection_request(&subject, config)),
        Inspection::RegistryFailed {
            kind: RegistryErrorKind::Other,
            ..
        } => {
            plan.requeue_after_seconds = Some(REGISTRY_RETRY_SECONDS);
        }
        Inspection::Extracted(metadata) if *auto_create => {
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

    let previous_conditions = subject
        .previous
        .map_or(&[][..], |status| &status.conditions[..]);
    let mut conditions = Conditions::new(previous_conditions, subject.generation);
    let outcome = project_model_status(&subject, &facts, &mut conditions);
    plan.events = outcome.events;
    let image_metadata = match inspection {
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
