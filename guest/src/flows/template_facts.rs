//! What a template's plan is decided from: the template whichever its scope, its runtime config,
//! its model's image, whether the cluster has its GPU, and how far its discovery Job got.

use aim_api::conditions::{AIMTemplateStatusEnum, labels};
use aim_api::policy::observation::TemplateObservation;
use aim_api::v1alpha1::{
    AIMClusterServiceTemplate, AIMResolutionScope, AIMResolvedReference, AIMServiceTemplate,
    AIMServiceTemplateSpecCommon, AIMServiceTemplateStatus, AIMTemplateCaching,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, LocalObjectReference};

use crate::PolicyFailure;
use crate::cluster_gpus::cluster_gpu_models;
use crate::flows::discovery::{DiscoveryParseError, DiscoveryResult, parse_discovery_output};
use crate::flows::image_pull::{ImagePullFailure, image_pull_failure};
use crate::flows::job_state::{JobState, job_state, newest};
use crate::gpu::normalize_gpu_model;
use crate::runtime_config::{EffectiveRuntimeConfig, RuntimeConfigMissing, resolve};

/// The template being planned, whichever its scope.
#[derive(Debug, Clone, Copy)]
pub struct TemplateSubject<'a> {
    pub name: &'a str,
    /// `None` for a cluster template.
    pub namespace: Option<&'a str>,
    pub uid: Option<&'a str>,
    pub generation: Option<i64>,
    pub common: &'a AIMServiceTemplateSpecCommon,
    /// Extra discovery environment (namespace templates only).
    pub env: &'a [EnvVar],
    /// Caching settings (namespace templates only).
    pub caching: Option<&'a AIMTemplateCaching>,
    pub previous: Option<&'a AIMServiceTemplateStatus>,
}

impl TemplateSubject<'_> {
    /// The status the template had before this plan.
    pub fn previous_status(&self) -> Option<AIMTemplateStatusEnum> {
        self.previous.map(|status| status.status)
    }

    /// True for an AIMClusterServiceTemplate.
    pub fn is_cluster(&self) -> bool {
        self.namespace.is_none()
    }
}

/// The model a template runs, as far as the template needs it.
#[derive(Debug, Clone)]
pub struct TemplateModel<'a> {
    pub image: &'a str,
    pub reference: AIMResolvedReference,
    pub pull_secrets: &'a [LocalObjectReference],
    /// The ServiceAccount the model's spec names.
    pub service_account: Option<&'a str>,
    /// For a cluster model the operator created for a service: that service's namespace, the
    /// only one its names (pull Secrets, ServiceAccount) belong to.
    pub requesting_namespace: Option<&'a str>,
}

/// Where discovery stands.
#[derive(Debug, Clone)]
pub enum DiscoveryProgress<'a> {
    /// No Job was found (or none was looked for, because the template is settled).
    NoJob,
    /// A Job runs; its pod may be stuck pulling the image.
    Running {
        job: &'a Job,
        pull_failure: Option<ImagePullFailure>,
    },
    /// The Job failed.
    Failed { job: &'a Job },
    /// The Job succeeded; this is what its output said.
    Succeeded {
        job: &'a Job,
        output: Result<DiscoveryResult, DiscoveryParseError>,
    },
}

/// Everything observed about a template, read once.
#[derive(Debug, Clone)]
pub struct TemplateFacts<'a> {
    pub runtime_config: Result<EffectiveRuntimeConfig, RuntimeConfigMissing>,
    pub model: Option<TemplateModel<'a>>,
    /// The GPU model the template needs but the cluster's nodes do not have.
    pub missing_gpu: Option<&'a str>,
    pub discovery: DiscoveryProgress<'a>,
    /// Discovery is wanted but all slots are taken.
    pub discovery_deferred: bool,
}

pub fn subject(observation: &TemplateObservation) -> Result<TemplateSubject<'_>, PolicyFailure> {
    match (&observation.template, &observation.cluster_template) {
        (Some(template), None) => Ok(namespace_subject(template)),
        (None, Some(template)) => Ok(cluster_subject(template)),
        _ => Err(PolicyFailure::InvalidInput(
            "a template observation needs exactly one of template and clusterTemplate".to_owned(),
        )),
    }
}

fn namespace_subject(template: &AIMServiceTemplate) -> TemplateSubject<'_> {
    TemplateSubject {
        name: template.metadata.name.as_deref().unwrap_or_default(),
        namespace: Some(template.metadata.namespace.as_deref().unwrap_or_default()),
        uid: template.metadata.uid.as_deref(),
        generation: template.metadata.generation,
        common: &template.spec.common,
        env: &template.spec.env,
        caching: template.spec.caching.as_ref(),
        previous: template.status.as_ref(),
    }
}

fn cluster_subject(template: &AIMClusterServiceTemplate) -> TemplateSubject<'_> {
    TemplateSubject {
        name: template.metadata.name.as_deref().unwrap_or_default(),
        namespace: None,
        uid: template.metadata.uid.as_deref(),
        generation: template.metadata.generation,
        common: &template.spec.common,
        env: &[],
        caching: None,
        previous: template.status.as_ref(),
    }
}

pub fn observe<'a>(
    observation: &'a TemplateObservation,
    subject: &TemplateSubject<'a>,
) -> TemplateFacts<'a> {
    let runtime_config = match subject.namespace {
        Some(namespace) => resolve(&observation.runtime_configs, Some(namespace)),
        // A cluster template reads its config where its discovery runs (the operator's
        // namespace, or the namespace its model was created for) and ignores a missing one.
        None => Ok(resolve(
            &observation.runtime_configs,
            Some(observation.work_namespace()),
        )
        .unwrap_or_default()),
    };
    TemplateFacts {
        runtime_config,
        model: template_model(observation, subject),
        missing_gpu: missing_gpu(observation, subject),
        discovery: discovery_progress(observation, subject),
        discovery_deferred: false,
    }
}

fn template_model<'a>(
    observation: &'a TemplateObservation,
    subject: &TemplateSubject<'a>,
) -> Option<TemplateModel<'a>> {
    let wanted = subject.common.model_name.as_str();
    let namespaced = observation
        .model
        .as_ref()
        .filter(|_| !subject.is_cluster())
        .filter(|model| model.metadata.name.as_deref() == Some(wanted))
        .map(|model| {
            (
                &model.spec.common,
                &model.metadata,
                AIMResolutionScope::Namespace,
                "AIMModel",
            )
        });
    let cluster = || {
        observation
            .cluster_model
            .as_ref()
            .filter(|model| model.metadata.name.as_deref() == Some(wanted))
            .map(|model| {
                (
                    &model.spec.common,
                    &model.metadata,
                    AIMResolutionScope::Cluster,
                    "AIMClusterModel",
                )
            })
    };
    let (spec, metadata, scope, kind) = namespaced.or_else(cluster)?;
    let requesting_namespace = observation
        .cluster_model
        .as_ref()
        .filter(|_| scope == AIMResolutionScope::Cluster)
        .and_then(|model| model.spec.requesting_namespace());
    if spec.image.trim().is_empty() {
        return None;
    }
    Some(TemplateModel {
        image: spec.image.as_str(),
        reference: AIMResolvedReference {
            name: wanted.to_owned(),
            namespace: metadata.namespace.clone(),
            scope,
            kind: Some(format!("{}/{kind}", aim_api::API_VERSION)),
            uid: metadata.uid.clone(),
            hash: None,
        },
        pull_secrets: &spec.image_pull_secrets,
        service_account: spec
            .service_account_name
            .as_deref()
            .filter(|account| !account.is_empty()),
        requesting_namespace,
    })
}

fn missing_gpu<'a>(
    observation: &TemplateObservation,
    subject: &TemplateSubject<'a>,
) -> Option<&'a str> {
    let wanted = subject.common.runtime.gpu_selector.as_ref()?.model.trim();
    if wanted.is_empty() {
        return None;
    }
    let present = cluster_gpu_models(&observation.nodes);
    (!present.contains(&normalize_gpu_model(wanted))).then_some(wanted)
}

/// Jobs are only inspected while discovery matters: not for in-line sources and not once the
/// template is Ready (its Job is gone after its TTL) or waiting for GPUs.
fn discovery_progress<'a>(
    observation: &'a TemplateObservation,
    subject: &TemplateSubject<'a>,
) -> DiscoveryProgress<'a> {
    let settled = matches!(
        subject.previous_status(),
        Some(AIMTemplateStatusEnum::Ready | AIMTemplateStatusEnum::NotAvailable)
    );
    if !subject.common.model_sources.is_empty() || settled {
        return DiscoveryProgress::NoJob;
    }
    let labelled = observation.jobs.iter().filter(|job| {
        job.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(labels::TEMPLATE))
            .map(String::as_str)
            == Some(subject.name)
    });
    let Some(job) = newest(labelled) else {
        return DiscoveryProgress::NoJob;
    };
    match job_state(job) {
        JobState::Running => {
            let job_name = job.metadata.name.as_deref().unwrap_or_default();
            let pods = observation.pods.iter().filter(|pod| {
                let pod_labels = pod.metadata.labels.as_ref();
                ["job-name", "batch.kubernetes.io/job-name"]
                    .iter()
                    .any(|key| {
                        pod_labels.and_then(|l| l.get(*key)).map(String::as_str) == Some(job_name)
                    })
            });
            DiscoveryProgress::Running {
                job,
                pull_failure: image_pull_failure(pods),
            }
        }
        JobState::Failed => DiscoveryProgress::Failed { job },
        JobState::Succeeded => DiscoveryProgress::Succeeded {
            job,
            output: observation
                .discovery_log
                .as_deref()
                .ok_or(DiscoveryParseError::OutputUnavailable)
                .and_then(parse_discovery_output),
        },
    }
}
