//! AIMModel and AIMClusterModel: a catalogue entry for an AIM image. The operator inspects the
//! image's labels and generates one template per recommended deployment.

use k8s_openapi::api::core::v1::{LocalObjectReference, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{AIMResolvedReference, default_runtime_config_name};
use crate::conditions::AIMModelStatusEnum;

/// Spec shared by AIMModel and AIMClusterModel.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMModelSpecCommon {
    /// AIM container image of the model.
    #[schemars(length(min = 1))]
    pub image: String,
    /// Image inspection and template generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<AIMModelDiscovery>,
    /// Template services use when none is named; informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_service_template: Option<String>,
    /// Runtime config consulted for discovery defaults.
    #[serde(default = "default_runtime_config_name")]
    pub runtime_config_name: String,
    /// Secrets for inspecting and pulling the image; copied to generated templates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Service account copied to generated templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Default resources of services using this model, lowest precedence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// Whether the operator inspects the image and generates templates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMModelDiscovery {
    /// Inspect the image's labels; unset follows the runtime config's `model.autoDiscovery`,
    /// which defaults to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Create a template per recommended deployment; unset follows `enabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_create_templates: Option<bool>,
}

/// A namespaced AIM model.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "aim.silogen.ai",
    derive = "PartialEq",
    version = "v1alpha1",
    kind = "AIMModel",
    namespaced,
    status = "AIMModelStatus",
    shortname = "aimmdl",
    category = "aim",
    category = "all",
    printcolumn(name = "Status", type_ = "string", json_path = ".status.status"),
    printcolumn(name = "Image", type_ = "string", json_path = ".spec.image"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
pub struct AIMModelSpec {
    /// Fields shared with AIMClusterModel.
    #[serde(flatten)]
    pub common: AIMModelSpecCommon,
}

/// A cluster-wide AIM model.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "aim.silogen.ai",
    derive = "PartialEq",
    version = "v1alpha1",
    kind = "AIMClusterModel",
    status = "AIMModelStatus",
    shortname = "aimclmdl",
    category = "aim",
    category = "all",
    printcolumn(name = "Status", type_ = "string", json_path = ".status.status"),
    printcolumn(name = "Image", type_ = "string", json_path = ".spec.image"),
    printcolumn(
        name = "Requested By",
        type_ = "string",
        json_path = ".spec.requestingNamespace"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AIMClusterModelSpec {
    /// Fields shared with AIMModel.
    #[serde(flatten)]
    pub common: AIMModelSpecCommon,
    /// The namespace whose service asked the operator to create this model. Its image is
    /// inspected and its templates discovered in that namespace, with that namespace's runtime
    /// config, ServiceAccount and pull Secrets, and only that namespace's services use it. Unset on
    /// models an admin creates: those use the operator's namespace and serve every namespace.
    /// Clearing it shares an auto-created model with every namespace (see docs/security.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requesting_namespace: Option<String>,
}

impl AIMClusterModelSpec {
    /// The namespace that asked for this model, if it was created for one (blank counts as
    /// unset).
    pub fn requesting_namespace(&self) -> Option<&str> {
        self.requesting_namespace
            .as_deref()
            .filter(|namespace| !namespace.is_empty())
    }

    /// Whether services in `namespace` may use this model: an admin's model serves every
    /// namespace, an auto-created one only the namespace that asked for it.
    pub fn serves(&self, namespace: &str) -> bool {
        self.requesting_namespace()
            .is_none_or(|home| home == namespace)
    }
}

/// Observed state of an AIMModel or AIMClusterModel.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMModelStatus {
    /// Most recent generation observed by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Overall state: Pending, Progressing, Ready, NotAvailable, Degraded or Failed.
    #[serde(default)]
    pub status: AIMModelStatusEnum,
    /// Conditions: MetadataExtracted, TemplatesAutoGenerated, Ready, Progressing, Degraded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The runtime config in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_runtime_config: Option<AIMResolvedReference>,
    /// Metadata read from the image's labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_metadata: Option<AIMImageMetadata>,
}

/// Metadata read from an AIM image's labels.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMImageMetadata {
    /// AIM-specific labels (`com.amd.aim.*`, legacy `org.amd.silogen.*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<AIMModelMetadata>,
    /// Standard OCI labels (`org.opencontainers.image.*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<AIMOciMetadata>,
    /// Every label of the image, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
    pub original_labels: Option<serde_json::Map<String, serde_json::Value>>,
}

/// AIM-specific image metadata.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMModelMetadata {
    /// Canonical model name, e.g. `meta-llama/Llama-3.1-8B-Instruct`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub canonical_name: String,
    /// Where the model comes from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// Variants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<String>,
    /// Whether a Hugging Face token is needed.
    #[serde(default)]
    pub hf_token_required: bool,
    /// Title.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Long description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description_full: String,
    /// Release notes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub release_notes: String,
    /// Deployments the image is tuned for; one template is generated for each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recommended_deployments: Vec<AIMRecommendedDeployment>,
}

/// A deployment an AIM image is tuned for.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMRecommendedDeployment {
    /// GPU model, e.g. `MI300X`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gpu_model: String,
    /// GPUs per replica.
    #[serde(default)]
    pub gpu_count: i32,
    /// Precision, e.g. `fp8`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub precision: String,
    /// Optimisation goal, `latency` or `throughput`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metric: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// Standard OCI image metadata.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMOciMetadata {
    /// `org.opencontainers.image.title`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// `org.opencontainers.image.description`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `org.opencontainers.image.licenses`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub licenses: String,
    /// `org.opencontainers.image.vendor`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vendor: String,
    /// `org.opencontainers.image.authors`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub authors: String,
    /// `org.opencontainers.image.source`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// `org.opencontainers.image.documentation`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub documentation: String,
    /// `org.opencontainers.image.created`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created: String,
    /// `org.opencontainers.image.revision`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub revision: String,
    /// `org.opencontainers.image.version`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
}
