//! What a service's plan is decided from: the service, its runtime config, the cluster's GPUs,
//! the model and template it resolves to, its routing, and what its pods report.

use aim_api::conditions::types;
use aim_api::policy::observation::ServiceObservation;
use aim_api::v1alpha1::{AIMResolutionScope, AIMService};
use serde_json::Value;

use super::model::{self, ModelResolution};
use super::routing::{self, EffectiveRouting};
use super::template::{self, DerivedObject, ResolvedTemplate, TemplateResolution};
use crate::PolicyFailure;
use crate::advisor::Advisor;
use crate::cluster_gpus::cluster_gpu_models;
use crate::flows::image_pull::image_pull_failure;
use crate::flows::scheduling::unschedulable_pod;
use crate::flows::support::to_json;
use crate::resource_names::inference_service_name;
use crate::runtime_config::{EffectiveRuntimeConfig, RuntimeConfigMissing, resolve};
use crate::selection::gpu_present;

/// The service being planned.
#[derive(Debug, Clone, Copy)]
pub struct ServiceSubject<'a> {
    pub service: &'a AIMService,
    pub name: &'a str,
    pub namespace: &'a str,
}

impl ServiceSubject<'_> {
    /// Whether the service is being deleted.
    pub fn is_deleting(&self) -> bool {
        self.service.metadata.deletion_timestamp.is_some()
    }
}

/// Everything observed about a service, read once.
#[derive(Debug, Clone)]
pub struct ServiceFacts {
    /// The runtime config the service names, or why it is missing.
    pub runtime_config: Result<EffectiveRuntimeConfig, RuntimeConfigMissing>,
    /// The runtime config in force: the resolved one, else the defaults.
    pub config: EffectiveRuntimeConfig,
    pub model: ModelResolution,
    /// What a model that is not Ready says about itself.
    pub model_detail: Option<String>,
    pub template: TemplateResolution,
    /// The derived template the service asks for, when it owns one.
    pub derived_template: DerivedObject,
    /// The model the resolved template names, when it is not in the cluster.
    pub template_model_missing: Option<String>,
    /// The resolved template's GPU model, when no node has it.
    pub template_gpu_missing: Option<String>,
    pub routing: EffectiveRouting,
    /// The service as path templates see it, with the model it resolved to.
    pub service_json: Value,
    /// The name of the service's InferenceService (and of what is named after it).
    pub isvc_name: String,
    /// Why an InferenceService pod cannot pull its image: the condition reason and message.
    pub image_pull_error: Option<(&'static str, String)>,
    /// The scheduler's message for an InferenceService pod it cannot place.
    pub unschedulable: Option<String>,
}

impl ServiceFacts {
    /// The template, when one was found.
    pub fn found_template(&self) -> Option<&ResolvedTemplate> {
        match &self.template {
            TemplateResolution::Found(template) => Some(template),
            _ => None,
        }
    }
}

pub fn subject(observation: &ServiceObservation) -> Result<ServiceSubject<'_>, PolicyFailure> {
    let service = &observation.service;
    let invalid = |message: &str| PolicyFailure::InvalidInput(message.to_owned());
    Ok(ServiceSubject {
        service,
        name: service
            .metadata
            .name
            .as_deref()
            .ok_or_else(|| invalid("service has no name"))?,
        namespace: service
            .metadata
            .namespace
            .as_deref()
            .ok_or_else(|| invalid("service has no namespace"))?,
    })
}

/// Reads the observation: a custom policy's selection (through `advisor`) takes part in finding
/// the template. Fails only when an object cannot be encoded.
pub fn observe(
    observation: &ServiceObservation,
    subject: &ServiceSubject<'_>,
    advisor: &dyn Advisor,
) -> Result<ServiceFacts, PolicyFailure> {
    let service = subject.service;
    let runtime_config = resolve(&observation.runtime_configs, Some(subject.namespace));
    let config = runtime_config.clone().unwrap_or_default();
    let gpus: Vec<String> = cluster_gpu_models(&observation.nodes).into_iter().collect();
    let model = model::resolve(observation, &config)?;
    let (template, derived_template) = template::resolve(
        observation,
        model.name(),
        model.not_ready_reason().is_none(),
        &gpus,
        advisor,
    )?;
    let (template_model_missing, template_gpu_missing) = match &template {
        TemplateResolution::Found(found) => (
            template_model_missing(observation, found, &model),
            found
                .runtime_gpu()
                .filter(|gpu| !gpu_present(Some(gpu), &gpus)),
        ),
        _ => (None, None),
    };
    Ok(ServiceFacts {
        routing: routing::effective(service, &config),
        service_json: service_json_with(service, &model)?,
        isvc_name: inference_service_name(subject.name, subject.namespace),
        model_detail: model_detail(observation, &model),
        image_pull_error: image_pull_failure(&observation.pods).map(|failure| {
            (
                failure.condition_reason(),
                failure.describe("InferenceService"),
            )
        }),
        unschedulable: unschedulable_pod(&observation.pods),
        runtime_config,
        config,
        model,
        template,
        derived_template,
        template_model_missing,
        template_gpu_missing,
    })
}

/// What a model that is not Ready says about itself: the message of its Ready condition.
fn model_detail(observation: &ServiceObservation, model: &ModelResolution) -> Option<String> {
    let ModelResolution::Found(found) = model else {
        return None;
    };
    let name = Some(found.reference.name.as_str());
    let status = match found.reference.scope {
        AIMResolutionScope::Namespace => observation
            .models
            .iter()
            .find(|m| m.metadata.name.as_deref() == name)
            .and_then(|m| m.status.as_ref()),
        _ => observation
            .cluster_models
            .iter()
            .find(|m| m.metadata.name.as_deref() == name)
            .and_then(|m| m.status.as_ref()),
    }?;
    status
        .conditions
        .iter()
        .find(|c| c.type_ == types::READY && c.status != "True" && !c.message.is_empty())
        .map(|c| c.message.clone())
}

/// The model a template names must exist: an AIMModel beside a namespace template, or an
/// AIMClusterModel.
fn template_model_missing(
    observation: &ServiceObservation,
    template: &ResolvedTemplate,
    model: &ModelResolution,
) -> Option<String> {
    let wanted = template.common.model_name.as_str();
    if model.name() == Some(wanted) {
        return None;
    }
    let cluster = observation
        .cluster_models
        .iter()
        .any(|m| m.metadata.name.as_deref() == Some(wanted));
    match template.reference.scope {
        AIMResolutionScope::Namespace => {
            let namespaced = observation
                .models
                .iter()
                .any(|m| m.metadata.name.as_deref() == Some(wanted));
            let namespace = template.reference.namespace.clone().unwrap_or_default();
            (!namespaced && !cluster)
                .then(|| format!("AIMModel {wanted:?} not found in namespace {namespace:?}"))
        }
        _ => (!cluster).then(|| format!("AIMClusterModel {wanted:?} not found")),
    }
}

/// The service as path templates see it, with the model it resolved to.
fn service_json_with(
    service: &AIMService,
    model: &ModelResolution,
) -> Result<Value, PolicyFailure> {
    let mut json = to_json(service)?;
    if let (ModelResolution::Found(found), Some(object)) = (model, json.as_object_mut()) {
        let status = object
            .entry("status")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(status) = status.as_object_mut() {
            status.insert("resolvedImage".into(), to_json(&found.reference)?);
        }
    }
    Ok(json)
}
