//! The objects a service plan applies besides routing: the InferenceService, its temporary model
//! volume and the template cache.

use std::collections::BTreeMap;

use aim_api::conditions::labels;
use aim_api::kserve::{
    InferenceService, InferenceServiceSpec, ModelFormat, ModelSpec, PredictorSpec,
};
use aim_api::v1alpha1::{
    AIMModelCache, AIMModelSource, AIMService, AIMTemplateCache, AIMTemplateCacheSpec,
    DEFAULT_GPU_RESOURCE_NAME, DEFAULT_PVC_HEADROOM_PERCENT,
};
use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource,
    PodSecurityContext, ResourceRequirements, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::freshness;
use super::template::{ResolvedTemplate, enum_text};
use crate::cluster_gpus::amd_device_ids;
use crate::flows::support::merge_pull_secrets;
use crate::names::sanitize_label_value;
use crate::pod_security::{NON_ROOT_USER, restricted_container, restricted_pod};
use crate::quantity::{bytes_of, gibibytes_rounded_up};
use crate::resource_names::{cache_volume_name, temp_cache_pvc_name};
use crate::runtime_config::EffectiveRuntimeConfig;

/// Where the inference container finds its models.
pub const MODEL_CACHE_ROOT: &str = "/workspace/model-cache";
const TEMP_VOLUME: &str = "model-storage";

/// Labels every child of a service carries.
pub fn child_labels(service: &AIMService, template: &ResolvedTemplate) -> BTreeMap<String, String> {
    let service_name = service.metadata.name.as_deref().unwrap_or_default();
    let model_id = template
        .status
        .as_ref()
        .and_then(|s| s.model_sources.iter().find_map(|m| m.name.clone()))
        .unwrap_or_else(|| template.common.model_name.clone());
    BTreeMap::from([
        (labels::APP_NAME.to_owned(), "aim-service".to_owned()),
        (
            labels::APP_COMPONENT.to_owned(),
            "inference-service".to_owned(),
        ),
        (
            labels::APP_MANAGED_BY.to_owned(),
            "aim-controller".to_owned(),
        ),
        (
            labels::TEMPLATE.to_owned(),
            sanitize_label_value(template.name()),
        ),
        (labels::MODEL_ID.to_owned(), sanitize_label_value(&model_id)),
        (
            labels::AIM_IMAGE.to_owned(),
            sanitize_label_value(&template.common.model_name),
        ),
        (
            labels::SERVICE_NAME.to_owned(),
            sanitize_label_value(service_name),
        ),
    ])
}

/// How the models reach the container: mounted caches, or one temporary volume.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelStorage {
    /// One AIMModelCache per model source, mounted at `<root>/<source name>`.
    Caches(Vec<(AIMModelCache, String)>),
    /// The temporary claim, mounted at the root.
    Temporary(String),
}

/// The temporary model volume of a service that does not cache: room for every model source plus
/// the runtime config's headroom. `None` when a source has no size (nothing sensible to request).
pub fn temp_pvc(
    service: &AIMService,
    isvc_name: &str,
    sources: &[AIMModelSource],
    config: &EffectiveRuntimeConfig,
    mut labels: BTreeMap<String, String>,
) -> Option<PersistentVolumeClaim> {
    let mut total: u128 = 0;
    for source in sources {
        let bytes = bytes_of(&source.size).filter(|b| *b > 0)?;
        total = total.saturating_add(bytes);
    }
    if sources.is_empty() {
        return None;
    }
    let headroom = config
        .common
        .pvc_headroom_percent
        .unwrap_or(DEFAULT_PVC_HEADROOM_PERCENT);
    let size = gibibytes_rounded_up(total, headroom);
    labels.insert(labels::APP_COMPONENT.to_owned(), "model-storage".to_owned());
    labels.insert(
        labels::APP_MANAGED_BY.to_owned(),
        "aim-service-controller".to_owned(),
    );
    labels.insert(
        labels::CACHE_TYPE.to_owned(),
        "temporary-service-cache".to_owned(),
    );
    Some(PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(temp_cache_pvc_name(isvc_name)),
            namespace: service.metadata.namespace.clone(),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteMany".to_owned()]),
            storage_class_name: config.common.default_storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_owned(), size)])),
                limits: None,
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    })
}

/// The template cache a service with `cacheModel: true` asks for, named after the template.
pub fn template_cache(
    service: &AIMService,
    template: &ResolvedTemplate,
    config: &EffectiveRuntimeConfig,
) -> AIMTemplateCache {
    let service_name = service.metadata.name.as_deref().unwrap_or_default();
    let mut cache = AIMTemplateCache::new(
        template.name(),
        AIMTemplateCacheSpec {
            template_ref: template.name().to_owned(),
            env: service.spec.env.clone(),
            storage_class_name: config.common.default_storage_class_name.clone(),
            runtime_config_name: service.spec.runtime_config_name.clone(),
            ..AIMTemplateCacheSpec::default()
        },
    );
    cache
        .metadata
        .namespace
        .clone_from(&service.metadata.namespace);
    cache.metadata.labels = Some(BTreeMap::from([(
        labels::SERVICE_NAME.to_owned(),
        sanitize_label_value(service_name),
    )]));
    cache
}

/// Everything the InferenceService is built from.
pub struct InferenceServiceInputs<'a> {
    pub service: &'a AIMService,
    pub name: &'a str,
    pub template: &'a ResolvedTemplate,
    pub model_resources: Option<&'a ResourceRequirements>,
    pub config: &'a EffectiveRuntimeConfig,
    pub storage: &'a ModelStorage,
    pub labels: BTreeMap<String, String>,
}

/// The KServe InferenceService of a service, stamped with the hash of its spec.
pub fn inference_service(inputs: &InferenceServiceInputs<'_>) -> InferenceService {
    let InferenceServiceInputs {
        service,
        name,
        template,
        model_resources,
        config,
        storage,
        ..
    } = inputs;
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    labels.extend(inputs.labels.clone());
    let profile = template
        .status
        .as_ref()
        .and_then(|s| s.profile.as_ref())
        .map(|p| &p.metadata);
    let metric = profile
        .map(|p| p.metric.clone())
        .filter(|m| !m.is_empty())
        .or_else(|| template.common.runtime.metric.map(|m| enum_text(&m)));
    let precision = profile
        .map(|p| p.precision.clone())
        .filter(|p| !p.is_empty())
        .or_else(|| template.common.runtime.precision.map(|p| enum_text(&p)));
    for (key, value) in [
        (labels::TEMPLATE_METRIC, &metric),
        (labels::TEMPLATE_PRECISION, &precision),
    ] {
        if let Some(value) = value {
            labels.insert(key.to_owned(), sanitize_label_value(value));
        }
    }
    let gpu_count = profile
        .map(|p| p.gpu_count)
        .filter(|c| *c > 0)
        .or_else(|| {
            template
                .common
                .runtime
                .gpu_selector
                .as_ref()
                .map(|g| g.count)
        })
        .unwrap_or(0);
    let gpu_resource = template
        .common
        .runtime
        .gpu_selector
        .as_ref()
        .map_or(DEFAULT_GPU_RESOURCE_NAME, |g| g.resource_name.as_str());
    let gpu_model = template.runtime_gpu();
    let (volumes, mounts) = volumes(storage);
    let mut env = system_env(
        metric.as_deref(),
        precision.as_deref(),
        gpu_count,
        gpu_model.as_deref(),
    );
    merge_env(&mut env, &service.spec.env);
    let mut isvc = InferenceService {
        metadata: ObjectMeta {
            name: Some((*name).to_owned()),
            namespace: service.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: service
                .metadata
                .annotations
                .clone()
                .filter(|a| !a.is_empty()),
            ..ObjectMeta::default()
        },
        spec: InferenceServiceSpec {
            predictor: PredictorSpec {
                min_replicas: Some(service.spec.replicas),
                max_replicas: Some(service.spec.replicas),
                service_account_name: service
                    .spec
                    .service_account_name
                    .clone()
                    .or_else(|| template.common.service_account_name.clone())
                    .or_else(|| config.service_account_name.clone()),
                image_pull_secrets: merge_pull_secrets(&[
                    &service.spec.image_pull_secrets,
                    &template.common.image_pull_secrets,
                    &config.image_pull_secrets,
                ]),
                affinity: gpu_model.as_deref().and_then(gpu_affinity),
                security_context: Some(PodSecurityContext {
                    fs_group: Some(NON_ROOT_USER),
                    ..restricted_pod(NON_ROOT_USER)
                }),
                model: Some(ModelSpec {
                    model_format: ModelFormat {
                        name: "aim".to_owned(),
                        version: Some("1".to_owned()),
                    },
                    runtime: Some(template.name().to_owned()),
                    env,
                    resources: Some(super::resources::resources(
                        gpu_count,
                        gpu_resource,
                        &[
                            service.spec.resources.as_ref(),
                            template.common.resources.as_ref(),
                            *model_resources,
                        ],
                    )),
                    volume_mounts: mounts,
                    security_context: Some(restricted_container()),
                }),
                volumes,
            },
        },
        status: None,
    };
    freshness::stamp(&mut isvc.metadata, &isvc.spec);
    isvc
}

/// `AIM_CACHE_PATH` and the profile the container should run, sorted by name.
fn system_env(
    metric: Option<&str>,
    precision: Option<&str>,
    gpu_count: i32,
    gpu_model: Option<&str>,
) -> Vec<EnvVar> {
    let plain = |name: &str, value: String| EnvVar {
        name: name.to_owned(),
        value: Some(value),
        value_from: None,
    };
    let mut env = vec![plain("AIM_CACHE_PATH", MODEL_CACHE_ROOT.to_owned())];
    if gpu_count > 0 {
        env.push(plain("AIM_GPU_COUNT", gpu_count.to_string()));
    }
    if let Some(model) = gpu_model {
        env.push(plain("AIM_GPU_MODEL", model.to_owned()));
    }
    if let Some(metric) = metric {
        env.push(plain("AIM_METRIC", metric.to_owned()));
    }
    if let Some(precision) = precision {
        env.push(plain("AIM_PRECISION", precision.to_owned()));
    }
    env
}

/// The user's variables win over the system's of the same name; the user's order is kept.
fn merge_env(system: &mut Vec<EnvVar>, user: &[EnvVar]) {
    system.retain(|var| !user.iter().any(|u| u.name == var.name));
    system.extend(user.iter().cloned());
}

/// Required node affinity on the AMD device ids of the profile's GPU; none for other GPUs.
fn gpu_affinity(gpu_model: &str) -> Option<Affinity> {
    let ids = amd_device_ids(gpu_model);
    if ids.is_empty() {
        return None;
    }
    Some(Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(vec![NodeSelectorRequirement {
                        key: "amd.com/gpu.device-id".to_owned(),
                        operator: "In".to_owned(),
                        values: Some(ids.into_iter().map(str::to_owned).collect()),
                    }]),
                    match_fields: None,
                }],
            }),
            preferred_during_scheduling_ignored_during_execution: None,
        }),
        ..Affinity::default()
    })
}

fn volumes(storage: &ModelStorage) -> (Vec<Volume>, Vec<VolumeMount>) {
    let claim = |volume: String, claim: String| Volume {
        name: volume,
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim,
            read_only: None,
        }),
        ..Volume::default()
    };
    match storage {
        ModelStorage::Temporary(pvc) => (
            vec![claim(TEMP_VOLUME.to_owned(), pvc.clone())],
            vec![VolumeMount {
                name: TEMP_VOLUME.to_owned(),
                mount_path: MODEL_CACHE_ROOT.to_owned(),
                ..VolumeMount::default()
            }],
        ),
        ModelStorage::Caches(caches) => caches
            .iter()
            .map(|(cache, source_name)| {
                let name = cache_volume_name(cache.metadata.name.as_deref().unwrap_or_default());
                let pvc = cache
                    .status
                    .as_ref()
                    .and_then(|s| s.persistent_volume_claim.clone())
                    .unwrap_or_default();
                let mount = VolumeMount {
                    name: name.clone(),
                    mount_path: format!("{MODEL_CACHE_ROOT}/{source_name}"),
                    ..VolumeMount::default()
                };
                (claim(name, pvc), mount)
            })
            .unzip(),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    use super::*;

    #[test]
    fn model_sources_whose_sizes_add_up_past_u128_saturate_the_temporary_volume() {
        let service: AIMService = serde_json::from_value(serde_json::json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
            "metadata": {"name": "s", "namespace": "ns"},
            "spec": {"model": {"image": "img:1"}}
        }))
        .unwrap();
        let source = AIMModelSource {
            name: None,
            source_uri: "hf://a/b".to_owned(),
            size: Quantity("300000000000000000000000000000000000000".to_owned()),
        };
        let claim = temp_pvc(
            &service,
            "s",
            &[source.clone(), source],
            &EffectiveRuntimeConfig::default(),
            BTreeMap::new(),
        )
        .unwrap();
        let requests = claim.spec.unwrap().resources.unwrap().requests.unwrap();
        assert_eq!(
            requests["storage"],
            gibibytes_rounded_up(u128::MAX, DEFAULT_PVC_HEADROOM_PERCENT)
        );
    }

    #[test]
    fn user_env_overrides_system_env_of_the_same_name() {
        let mut env = system_env(Some("latency"), Some("fp8"), 1, Some("MI300X"));
        let user = EnvVar {
            name: "AIM_METRIC".into(),
            value: Some("throughput".into()),
            value_from: None,
        };
        merge_env(&mut env, std::slice::from_ref(&user));
        assert_eq!(env.iter().filter(|e| e.name == "AIM_METRIC").count(), 1);
        assert_eq!(env.last(), Some(&user));
        assert!(env.iter().any(|e| e.name == "AIM_CACHE_PATH"));
    }

    #[test]
    fn amd_gpus_get_required_node_affinity_and_others_none() {
        let affinity = gpu_affinity("MI300X").unwrap();
        let terms = affinity
            .node_affinity
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .unwrap()
            .node_selector_terms;
        assert_eq!(
            terms[0].match_expressions.as_ref().unwrap()[0]
                .values
                .as_ref()
                .unwrap(),
            &["74a1", "74a9", "74b5", "74bd"]
        );
        assert!(gpu_affinity("H100").is_none());
    }
}
