//! The KServe runtime a Ready template provides: a ServingRuntime for a namespace template, a
//! ClusterServingRuntime for a cluster template, named after the template, running the model image
//! with the discovered GPU count.

use std::collections::BTreeMap;

use aim_api::conditions::{label_values, labels};
use aim_api::kserve::{
    ClusterServingRuntime, ClusterServingRuntimeSpec, ServingRuntime, ServingRuntimeSpec,
    StorageHelper, SupportedModelFormat,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, EnvVar, LocalObjectReference,
    ResourceRequirements, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::PolicyFailure;
use crate::flows::support::{label_map, to_json};
use crate::names::sanitize_label_value;
use crate::pod_security::restricted_container;

/// Model format AIM runtimes serve and InferenceServices ask for.
pub const MODEL_FORMAT_NAME: &str = "aim";
/// Version of that model format.
pub const MODEL_FORMAT_VERSION: &str = "1";
const CONTAINER_NAME: &str = "kserve-container";
const SHARED_MEMORY_VOLUME: &str = "dshm";
const SHARED_MEMORY_SIZE: &str = "8Gi";
const HTTP_PORT: i32 = 8000;

/// Everything a template's runtime is made from.
#[derive(Debug, Clone)]
pub struct RuntimeInput<'a> {
    /// Template name, also the runtime's name.
    pub name: &'a str,
    /// The template's namespace; `None` makes a ClusterServingRuntime.
    pub namespace: Option<&'a str>,
    /// `spec.modelName` of the template.
    pub model_name: &'a str,
    /// The model's image.
    pub image: &'a str,
    /// Extended resource the GPUs are requested under.
    pub gpu_resource_name: &'a str,
    /// GPUs per replica; none are requested when zero.
    pub gpu_count: i32,
    /// Pull secrets of the runtime's pods.
    pub pull_secrets: &'a [LocalObjectReference],
}

/// The runtime as the JSON object to apply.
pub fn serving_runtime(input: &RuntimeInput<'_>) -> Result<Value, PolicyFailure> {
    let metadata = ObjectMeta {
        name: Some(input.name.to_owned()),
        namespace: input.namespace.map(str::to_owned),
        labels: Some(label_map(&[
            (labels::APP_NAME, label_values::NAME_RUNTIME),
            (
                labels::APP_COMPONENT,
                label_values::COMPONENT_SERVING_RUNTIME,
            ),
            (
                labels::APP_MANAGED_BY,
                label_values::MANAGED_BY_AIM_CONTROLLER,
            ),
            (labels::MODEL_ID, &sanitize_label_value(input.model_name)),
        ])),
        ..ObjectMeta::default()
    };
    let spec = runtime_spec(input);
    match input.namespace {
        Some(_) => to_json(&ServingRuntime { metadata, spec }),
        None => to_json(&ClusterServingRuntime {
            metadata,
            spec: ClusterServingRuntimeSpec { runtime: spec },
        }),
    }
}

fn runtime_spec(input: &RuntimeInput<'_>) -> ServingRuntimeSpec {
    let gpus: BTreeMap<String, Quantity> = (input.gpu_count > 0)
        .then(|| {
            (
                input.gpu_resource_name.to_owned(),
                Quantity(input.gpu_count.to_string()),
            )
        })
        .into_iter()
        .collect();
    let container = Container {
        name: CONTAINER_NAME.to_owned(),
        image: Some(input.image.to_owned()),
        env: Some(vec![EnvVar {
            name: "VLLM_ENABLE_METRICS".to_owned(),
            value: Some("true".to_owned()),
            value_from: None,
        }]),
        resources: (!gpus.is_empty()).then(|| ResourceRequirements {
            requests: Some(gpus.clone()),
            limits: Some(gpus),
            ..ResourceRequirements::default()
        }),
        ports: Some(vec![ContainerPort {
            container_port: HTTP_PORT,
            name: Some("http".to_owned()),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        volume_mounts: Some(vec![VolumeMount {
            name: SHARED_MEMORY_VOLUME.to_owned(),
            mount_path: "/dev/shm".to_owned(),
            ..VolumeMount::default()
        }]),
        // A runtime has no pod-level settings of its own: the container carries all of them.
        security_context: Some(restricted_container()),
        ..Container::default()
    };
    ServingRuntimeSpec {
        supported_model_formats: vec![SupportedModelFormat {
            name: MODEL_FORMAT_NAME.to_owned(),
            version: Some(MODEL_FORMAT_VERSION.to_owned()),
            auto_select: None,
        }],
        containers: vec![container],
        // vLLM needs far more shared memory than the container default.
        volumes: vec![Volume {
            name: SHARED_MEMORY_VOLUME.to_owned(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".to_owned()),
                size_limit: Some(Quantity(SHARED_MEMORY_SIZE.to_owned())),
            }),
            ..Volume::default()
        }],
        image_pull_secrets: input.pull_secrets.to_vec(),
        // AIM images download their own models; KServe's initializer must stay out of the way.
        storage_helper: Some(StorageHelper { disabled: true }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(namespace: Option<&str>) -> RuntimeInput<'_> {
        RuntimeInput {
            name: "tpl",
            namespace,
            model_name: "Meta/Llama 3",
            image: "ghcr.io/x/aim:1",
            gpu_resource_name: "amd.com/gpu",
            gpu_count: 2,
            pull_secrets: &[],
        }
    }

    #[test]
    fn a_namespace_template_gets_a_serving_runtime_with_its_gpus() {
        let runtime = serving_runtime(&input(Some("ml"))).unwrap();
        assert_eq!(runtime["kind"], "ServingRuntime");
        assert_eq!(runtime["apiVersion"], "serving.kserve.io/v1alpha1");
        assert_eq!(runtime["metadata"]["namespace"], "ml");
        assert_eq!(
            runtime["metadata"]["labels"]["aim.silogen.ai/model-id"],
            "Meta_Llama_3"
        );
        assert_eq!(
            runtime["metadata"]["labels"]["app.kubernetes.io/name"],
            "aim-runtime"
        );
        let spec = &runtime["spec"];
        assert_eq!(spec["storageHelper"]["disabled"], true);
        assert_eq!(spec["supportedModelFormats"][0]["name"], "aim");
        assert_eq!(spec["supportedModelFormats"][0]["version"], "1");
        let container = &spec["containers"][0];
        assert_eq!(container["name"], "kserve-container");
        assert_eq!(container["resources"]["limits"]["amd.com/gpu"], "2");
        assert_eq!(container["resources"]["requests"]["amd.com/gpu"], "2");
        assert_eq!(container["ports"][0]["containerPort"], 8000);
        assert_eq!(container["env"][0]["name"], "VLLM_ENABLE_METRICS");
        assert_eq!(container["volumeMounts"][0]["mountPath"], "/dev/shm");
        assert_eq!(spec["volumes"][0]["emptyDir"]["medium"], "Memory");
        assert_eq!(spec["volumes"][0]["emptyDir"]["sizeLimit"], "8Gi");
    }

    #[test]
    fn a_cluster_template_gets_a_cluster_serving_runtime() {
        let runtime = serving_runtime(&input(None)).unwrap();
        assert_eq!(runtime["kind"], "ClusterServingRuntime");
        assert!(runtime["metadata"].get("namespace").is_none());
        assert_eq!(runtime["spec"]["containers"][0]["image"], "ghcr.io/x/aim:1");
    }
}
