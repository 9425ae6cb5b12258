//! AIMPolicy: a custom policy component that runtime configs select by name. Cluster-scoped,
//! because a policy decides what the operator creates; only cluster admins may install one.
//! The component is pinned by its sha256, so the bytes that run are the bytes that were reviewed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// A custom policy: where its WebAssembly component comes from, its digest and its limits.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "aim.silogen.ai",
    derive = "PartialEq",
    version = "v1alpha1",
    kind = "AIMPolicy",
    plural = "aimpolicies",
    status = "AIMPolicyStatus",
    shortname = "aimpol",
    category = "aim",
    printcolumn(name = "Status", type_ = "string", json_path = ".status.status"),
    printcolumn(name = "Active", type_ = "string", json_path = ".status.activeDigest"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AIMPolicySpec {
    /// Where the component is read from.
    pub source: AIMPolicySource,
    /// The component's sha256 as `sha256:<64 hex digits>`; any other bytes are refused.
    #[schemars(regex(pattern = r"^sha256:[0-9a-f]{64}$"))]
    pub digest: String,
    /// Longest a single call may run, in milliseconds.
    #[serde(default = "default_deadline_milliseconds")]
    // `u32` would be written as format `uint32`, which Kubernetes does not know (the apiserver
    // warns on every apply); the range keeps it within int32.
    #[schemars(range(min = 1, max = 2000), extend("format" = "int32"))]
    pub deadline_milliseconds: u32,
    /// Memory a single call may use, in MiB (all its memories together, and the calls it makes to
    /// the default policy); at most the operator's memory budget for all policy calls.
    #[serde(default = "default_memory_mib")]
    #[schemars(range(min = 1, max = 1024), extend("format" = "int32"))]
    pub memory_mib: u32,
    /// Fixtures the component must pass before it is activated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixtures: Option<AIMPolicyFixtures>,
    /// The namespaces whose runtime configs may select this policy, by their labels (`{}`
    /// selects every namespace). Unset, only the operator's own namespace may: a policy decides
    /// what the operator creates, so an admin says for whom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
}

/// Default per-call deadline of a policy, in milliseconds.
pub const DEFAULT_POLICY_DEADLINE_MILLISECONDS: u32 = 250;
/// Default per-call memory of a policy, in MiB.
pub const DEFAULT_POLICY_MEMORY_MIB: u32 = 64;

fn default_deadline_milliseconds() -> u32 {
    DEFAULT_POLICY_DEADLINE_MILLISECONDS
}

fn default_memory_mib() -> u32 {
    DEFAULT_POLICY_MEMORY_MIB
}

/// Where a component is read from: exactly one of `configMap`, `path` or `image`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.configMap), has(self.path), has(self.image)].filter(x, x).size() == 1").message("exactly one of configMap, path or image must be specified"))]
pub struct AIMPolicySource {
    /// A key of a ConfigMap in the operator's namespace (`binaryData`, or `data` holding the
    /// component base64-encoded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<AIMPolicyConfigMapKey>,
    /// An absolute path to a regular file in a volume mounted into the operator's pod, under one
    /// of the directories the operator reads policies from (`--policy-root`, `/policies` unless
    /// the admin sets others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^/"))]
    pub path: Option<String>,
    /// An OCI artifact holding the component as its `application/wasm` layer (as `wkg oci push`
    /// publishes it) or `application/vnd.wasm.content.layer.v1+wasm` layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<AIMPolicyImage>,
}

/// A component published to an OCI registry.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMPolicyImage {
    /// `registry/repository:tag` or `registry/repository@sha256:...`.
    #[schemars(length(min = 1))]
    pub reference: String,
    /// A `kubernetes.io/dockerconfigjson` Secret in the operator's namespace for a private
    /// registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret_name: Option<String>,
}

/// A key of a ConfigMap in the operator's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMPolicyConfigMapKey {
    /// ConfigMap name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Key holding the component.
    #[serde(default = "default_policy_key")]
    pub key: String,
}

fn default_policy_key() -> String {
    "policy.wasm".to_owned()
}

/// Fixtures in a ConfigMap in the operator's namespace: each `<case>.yaml` key is a render input
/// and `<case>.expected.yaml` what `aim-engine policy test` prints for it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMPolicyFixtures {
    /// ConfigMap name.
    #[schemars(length(min = 1))]
    pub config_map_name: String,
}

/// Observed state of a policy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMPolicyStatus {
    /// Most recent generation observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Active`, `Degraded` (a newer version was refused; the last good one stays active) or
    /// `Failed` (no version is active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Digest of the version in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_digest: Option<String>,
    /// Name and version the active component reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_version: Option<String>,
    /// Interfaces the active component implements (the default policy decides the rest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub implements: Vec<String>,
    /// `Fetched`, `DigestVerified`, `Compiled`, `FixturesPassed` and `Active`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}
