//! Which runtime config is in force (docs/runtime-config.md): the namespace config of the requested
//! name replaces the cluster one entirely — fields never merge. A missing `default` means built-in
//! defaults; a missing named config is an error the subject reports.

use aim_api::policy::observation::RuntimeConfigs;
use aim_api::v1alpha1::{
    AIMResolutionScope, AIMResolvedReference, AIMRuntimeConfigCommon, DEFAULT_RUNTIME_CONFIG_NAME,
};
use k8s_openapi::api::core::v1::LocalObjectReference;
use serde::Serialize;

use crate::hash::sha256_hex;

/// The runtime config in force for one subject.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EffectiveRuntimeConfig {
    /// What was resolved, for `status.resolvedRuntimeConfig`; `None` when built-in defaults apply.
    pub reference: Option<AIMResolvedReference>,
    /// Settings shared by both kinds.
    pub common: AIMRuntimeConfigCommon,
    /// Service account for discovery jobs and supporting pods (namespace configs only).
    pub service_account_name: Option<String>,
    /// Pull secrets added to every pod (namespace configs only).
    pub image_pull_secrets: Vec<LocalObjectReference>,
}

/// A named runtime config that exists in neither scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfigMissing {
    /// The requested name.
    pub name: String,
    /// The namespace it was looked for in, if any.
    pub namespace: Option<String>,
}

impl RuntimeConfigMissing {
    /// The message shown on the subject.
    pub fn message(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!(
                "AIMRuntimeConfig {:?} not found in namespace {namespace:?} and no AIMClusterRuntimeConfig {:?} exists",
                self.name, self.name
            ),
            None => format!("AIMClusterRuntimeConfig {:?} not found", self.name),
        }
    }
}

/// Resolves the runtime config in force from the observed candidates.
pub fn resolve(
    configs: &RuntimeConfigs,
    namespace: Option<&str>,
) -> Result<EffectiveRuntimeConfig, RuntimeConfigMissing> {
    if let Some(config) = &configs.namespaced {
        let reference = reference(
            &config.metadata,
            AIMResolutionScope::Namespace,
            "AIMRuntimeConfig",
            &config.spec,
        );
        return Ok(EffectiveRuntimeConfig {
            reference: Some(reference),
            common: config.spec.common.clone(),
            service_account_name: config.spec.service_account_name.clone(),
            image_pull_secrets: config.spec.image_pull_secrets.clone(),
        });
    }
    if let Some(config) = &configs.cluster {
        let reference = reference(
            &config.metadata,
            AIMResolutionScope::Cluster,
            "AIMClusterRuntimeConfig",
            &config.spec,
        );
        return Ok(EffectiveRuntimeConfig {
            reference: Some(reference),
            common: config.spec.common.clone(),
            ..EffectiveRuntimeConfig::default()
        });
    }
    if configs.name.is_empty() || configs.name == DEFAULT_RUNTIME_CONFIG_NAME {
        return Ok(EffectiveRuntimeConfig::default());
    }
    Err(RuntimeConfigMissing {
        name: configs.name.clone(),
        namespace: namespace.map(str::to_owned),
    })
}

fn reference(
    metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    scope: AIMResolutionScope,
    kind: &str,
    spec: &impl Serialize,
) -> AIMResolvedReference {
    AIMResolvedReference {
        name: metadata.name.clone().unwrap_or_default(),
        namespace: metadata.namespace.clone(),
        scope,
        kind: Some(format!("{}/{kind}", aim_api::API_VERSION)),
        uid: metadata.uid.clone(),
        hash: Some(spec_hash(spec)),
    }
}

/// Hex SHA-256 of the canonical JSON of a spec. serde_json maps are ordered by key here, and
/// struct fields serialize in declaration order, so equal specs always hash equal.
pub fn spec_hash(spec: &impl Serialize) -> String {
    let canonical = serde_json::to_value(spec)
        .and_then(|value| serde_json::to_string(&value))
        .unwrap_or_default();
    sha256_hex(canonical)
}

#[cfg(test)]
mod tests {
    use aim_api::v1alpha1::{
        AIMClusterRuntimeConfig, AIMClusterRuntimeConfigSpec, AIMRuntimeConfig,
        AIMRuntimeConfigSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn namespaced(storage: &str) -> AIMRuntimeConfig {
        let mut config = AIMRuntimeConfig::new("default", AIMRuntimeConfigSpec::default());
        config.metadata.namespace = Some("ml-team".into());
        config.metadata.uid = Some("uid-ns".into());
        config.spec.common.default_storage_class_name = Some(storage.into());
        config.spec.service_account_name = Some("aim-runtime".into());
        config
    }

    fn cluster(storage: &str) -> AIMClusterRuntimeConfig {
        let mut config =
            AIMClusterRuntimeConfig::new("default", AIMClusterRuntimeConfigSpec::default());
        config.metadata = ObjectMeta {
            name: Some("default".into()),
            uid: Some("uid-cl".into()),
            ..ObjectMeta::default()
        };
        config.spec.common.default_storage_class_name = Some(storage.into());
        config.spec.common.pvc_headroom_percent = Some(50);
        config
    }

    #[test]
    fn a_namespace_config_replaces_the_cluster_config_entirely() {
        let configs = RuntimeConfigs {
            name: "default".into(),
            namespaced: Some(namespaced("fast-nvme")),
            cluster: Some(cluster("standard-ssd")),
        };
        let effective = resolve(&configs, Some("ml-team")).unwrap();
        assert_eq!(
            effective.common.default_storage_class_name.as_deref(),
            Some("fast-nvme")
        );
        assert_eq!(
            effective.common.pvc_headroom_percent, None,
            "no field comes from the cluster config"
        );
        let reference = effective.reference.unwrap();
        assert_eq!(reference.scope, AIMResolutionScope::Namespace);
        assert_eq!(
            reference.kind.as_deref(),
            Some("aim.silogen.ai/v1alpha1/AIMRuntimeConfig")
        );
        assert_eq!(reference.hash.map(|h| h.len()), Some(64));
    }

    #[test]
    fn the_cluster_config_applies_when_the_namespace_has_none_and_carries_no_credentials() {
        let configs = RuntimeConfigs {
            name: "default".into(),
            namespaced: None,
            cluster: Some(cluster("standard-ssd")),
        };
        let effective = resolve(&configs, Some("ml-team")).unwrap();
        assert_eq!(
            effective.common.default_storage_class_name.as_deref(),
            Some("standard-ssd")
        );
        assert_eq!(effective.service_account_name, None);
        assert_eq!(
            effective.reference.unwrap().scope,
            AIMResolutionScope::Cluster
        );
    }

    #[test]
    fn a_missing_default_config_means_built_in_defaults() {
        let configs = RuntimeConfigs {
            name: "default".into(),
            ..RuntimeConfigs::default()
        };
        assert_eq!(
            resolve(&configs, Some("ml-team")),
            Ok(EffectiveRuntimeConfig::default())
        );
    }

    #[test]
    fn a_missing_named_config_is_reported() {
        let configs = RuntimeConfigs {
            name: "team-config".into(),
            ..RuntimeConfigs::default()
        };
        let missing = resolve(&configs, Some("ml-team")).unwrap_err();
        assert!(
            missing.message().contains("\"team-config\""),
            "{}",
            missing.message()
        );
    }

    #[test]
    fn the_hash_changes_with_the_spec() {
        let a = spec_hash(&namespaced("a").spec);
        assert_eq!(a, spec_hash(&namespaced("a").spec));
        assert_ne!(a, spec_hash(&namespaced("b").spec));
    }
}
