//! Which model a service serves: `model.ref` names an AIMModel (namespace first) or
//! AIMClusterModel; `model.image` matches models by image, and when none matches one is created in
//! the scope the runtime config asks for. A cluster model created for another namespace serves only
//! that namespace (docs/security.md).

use aim_api::conditions::{AIMModelStatusEnum, labels, reasons};
use aim_api::policy::observation::ServiceObservation;
use aim_api::v1alpha1::{
    AIMClusterModel, AIMClusterModelSpec, AIMModel, AIMModelCreationScope, AIMModelSpec,
    AIMModelSpecCommon, AIMResolutionScope, AIMResolvedReference, AIMService,
};
use k8s_openapi::api::core::v1::ResourceRequirements;
use serde_json::Value;

use crate::PolicyFailure;
use crate::flows::support::to_json;
use crate::resource_names::model_name_from_image;
use crate::runtime_config::EffectiveRuntimeConfig;

/// A model the service resolved to.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedModel {
    /// For `status.resolvedImage`.
    pub reference: AIMResolvedReference,
    /// The model's `status.status`.
    pub status: AIMModelStatusEnum,
    /// Image of the model.
    pub image: String,
    /// Lowest-precedence resources for the InferenceService.
    pub resources: Option<ResourceRequirements>,
}

/// What model resolution found.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelResolution {
    /// One model.
    Found(ResolvedModel),
    /// No model yet: the plan creates this one (unowned, labelled auto-created).
    Creating {
        name: String,
        scope: AIMResolutionScope,
        object: Value,
    },
    /// `model.ref` names nothing.
    NotFound { message: String },
    /// Several models carry the image.
    Ambiguous { message: String },
}

impl ModelResolution {
    /// The model name, when one is known.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Found(model) => Some(&model.reference.name),
            Self::Creating { name, .. } => Some(name),
            Self::NotFound { .. } | Self::Ambiguous { .. } => None,
        }
    }

    /// Why the model is not usable yet (`None` when Ready), as a service condition reason.
    pub fn not_ready_reason(&self) -> Option<&'static str> {
        match self {
            Self::Found(model) => match model.status {
                AIMModelStatusEnum::Ready => None,
                AIMModelStatusEnum::Pending => Some(reasons::MODEL_PENDING),
                AIMModelStatusEnum::Progressing => Some(reasons::MODEL_PROGRESSING),
                AIMModelStatusEnum::Failed => Some(reasons::MODEL_FAILED),
                AIMModelStatusEnum::Degraded => Some(reasons::MODEL_DEGRADED),
                AIMModelStatusEnum::NotAvailable => Some(reasons::MODEL_NOT_READY),
            },
            Self::Creating { .. } => Some(reasons::MODEL_PENDING),
            Self::NotFound { .. } => Some(reasons::MODEL_NOT_FOUND),
            Self::Ambiguous { .. } => Some(reasons::MULTIPLE_MODELS_FOUND),
        }
    }
}

/// Resolves the service's model.
pub fn resolve(
    observation: &ServiceObservation,
    config: &EffectiveRuntimeConfig,
) -> Result<ModelResolution, PolicyFailure> {
    let service = &observation.service;
    let namespace = service.metadata.namespace.as_deref().unwrap_or_default();
    if let Some(name) = service.spec.model.reference.as_deref().map(str::trim) {
        return Ok(by_name(observation, namespace, name));
    }
    let image = service.spec.model.image.as_deref().unwrap_or_default();
    let namespaced = observation
        .models
        .iter()
        .filter(|m| m.spec.common.image == image);
    let (cluster, for_others): (Vec<&AIMClusterModel>, Vec<&AIMClusterModel>) = observation
        .cluster_models
        .iter()
        .filter(|m| m.spec.common.image == image)
        .partition(|m| m.spec.serves(namespace));
    let mut found: Vec<ResolvedModel> = namespaced
        .map(from_namespaced)
        .chain(cluster.into_iter().map(from_cluster))
        .collect();
    match found.len() {
        // A cluster model another namespace asked for is that namespace's: its templates were
        // discovered there, by pods its users may shape. This namespace gets a model of its own,
        // in its own scope, since the cluster-wide name is taken.
        0 if !for_others.is_empty() => create(service, image, AIMModelCreationScope::Namespace),
        0 => create(service, image, creation_scope(config)),
        1 => Ok(ModelResolution::Found(found.remove(0))),
        _ => {
            let listed: Vec<String> = found
                .iter()
                .map(|m| match m.reference.scope {
                    AIMResolutionScope::Namespace => format!("{} (namespace)", m.reference.name),
                    _ => format!("{} (cluster)", m.reference.name),
                })
                .collect();
            Ok(ModelResolution::Ambiguous {
                message: format!(
                    "multiple models found with the same image {image:?}: {}",
                    listed.join(", ")
                ),
            })
        }
    }
}

fn by_name(observation: &ServiceObservation, namespace: &str, name: &str) -> ModelResolution {
    if let Some(model) = observation
        .models
        .iter()
        .find(|m| m.metadata.name.as_deref() == Some(name))
    {
        return ModelResolution::Found(from_namespaced(model));
    }
    if let Some(model) = observation
        .cluster_models
        .iter()
        .find(|m| m.metadata.name.as_deref() == Some(name))
    {
        if let Some(home) = model
            .spec
            .requesting_namespace()
            .filter(|_| !model.spec.serves(namespace))
        {
            return ModelResolution::NotFound {
                message: format!(
                    "No AIMModel {name:?} in namespace {namespace:?}; AIMClusterModel {name:?} was created for namespace {home:?} and serves only it"
                ),
            };
        }
        return ModelResolution::Found(from_cluster(model));
    }
    ModelResolution::NotFound {
        message: format!(
            "No AIMModel {name:?} in namespace {namespace:?} and no AIMClusterModel {name:?} found"
        ),
    }
}

fn from_namespaced(model: &AIMModel) -> ResolvedModel {
    resolved(
        &model.metadata,
        AIMResolutionScope::Namespace,
        "AIMModel",
        &model.spec.common,
        model.status.as_ref().map(|s| s.status),
    )
}

fn from_cluster(model: &AIMClusterModel) -> ResolvedModel {
    resolved(
        &model.metadata,
        AIMResolutionScope::Cluster,
        "AIMClusterModel",
        &model.spec.common,
        model.status.as_ref().map(|s| s.status),
    )
}

fn resolved(
    metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    scope: AIMResolutionScope,
    kind: &str,
    spec: &AIMModelSpecCommon,
    status: Option<AIMModelStatusEnum>,
) -> ResolvedModel {
    ResolvedModel {
        reference: AIMResolvedReference {
            name: metadata.name.clone().unwrap_or_default(),
            namespace: metadata.namespace.clone(),
            scope,
            kind: Some(format!("{}/{kind}", aim_api::API_VERSION)),
            uid: metadata.uid.clone(),
            hash: None,
        },
        status: status.unwrap_or_default(),
        image: spec.image.clone(),
        resources: spec.resources.clone(),
    }
}

/// The runtime config's `model.creationScope` (default Cluster).
fn creation_scope(config: &EffectiveRuntimeConfig) -> AIMModelCreationScope {
    config
        .common
        .model
        .as_ref()
        .map(|m| m.creation_scope)
        .unwrap_or_default()
}

/// The model to create for an image no model carries yet. Models outlive services, so it is
/// unowned. A cluster model records the service's namespace: its inspection and discovery run
/// there, with that namespace's credentials, and only that namespace uses it.
fn create(
    service: &AIMService,
    image: &str,
    scope: AIMModelCreationScope,
) -> Result<ModelResolution, PolicyFailure> {
    let name = model_name_from_image(image);
    let common = AIMModelSpecCommon {
        image: image.to_owned(),
        runtime_config_name: service.spec.runtime_config_name.clone(),
        image_pull_secrets: service.spec.image_pull_secrets.clone(),
        service_account_name: service.spec.service_account_name.clone(),
        ..AIMModelSpecCommon::default()
    };
    let auto_created = [(labels::AUTO_CREATED.to_owned(), "true".to_owned())];
    let (object, scope) = match scope {
        AIMModelCreationScope::Cluster => {
            let spec = AIMClusterModelSpec {
                common,
                requesting_namespace: service.metadata.namespace.clone(),
            };
            let mut model = AIMClusterModel::new(&name, spec);
            model.metadata.labels = Some(auto_created.into());
            (to_json(&model)?, AIMResolutionScope::Cluster)
        }
        AIMModelCreationScope::Namespace => {
            let mut model = AIMModel::new(&name, AIMModelSpec { common });
            model.metadata.labels = Some(auto_created.into());
            model
                .metadata
                .namespace
                .clone_from(&service.metadata.namespace);
            (to_json(&model)?, AIMResolutionScope::Namespace)
        }
    };
    Ok(ModelResolution::Creating {
        name,
        scope,
        object,
    })
}

#[cfg(test)]
mod tests {
    use aim_api::policy::observation::{RuntimeConfigs, ServiceObservation};
    use serde_json::json;

    use super::*;

    const IMAGE: &str = "ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0";
    const MODEL: &str = "aim-meta-llama-llama-3-1-8b-instruct-0-7-0-e2103ebd";

    fn observation(
        model: serde_json::Value,
        cluster_models: serde_json::Value,
    ) -> ServiceObservation {
        serde_json::from_value(json!({
            "apiVersion": "aim.silogen.ai/observation/v1",
            "service": {
                "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
                "metadata": {"name": "chat", "namespace": "team-b", "uid": "svc-uid"},
                "spec": {"model": model, "serviceAccountName": "runner",
                         "imagePullSecrets": [{"name": "registry-credentials"}]}
            },
            "runtimeConfigs": {"name": "default"},
            "clusterModels": cluster_models,
        }))
        .unwrap()
    }

    fn cluster_model(requesting_namespace: Option<&str>) -> serde_json::Value {
        json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMClusterModel",
            "metadata": {"name": MODEL, "uid": "model-uid"},
            "spec": {"image": IMAGE, "requestingNamespace": requesting_namespace},
            "status": {"status": "Ready"}
        })
    }

    fn created(resolution: &ModelResolution) -> (&AIMResolutionScope, &Value) {
        match resolution {
            ModelResolution::Creating { scope, object, .. } => (scope, object),
            other => panic!("expected a model to create, got {other:?}"),
        }
    }

    #[test]
    fn a_cluster_model_made_for_an_image_records_the_namespace_that_asked() {
        let observed = observation(json!({"image": IMAGE}), json!([]));
        let resolution = resolve(&observed, &EffectiveRuntimeConfig::default()).unwrap();
        let (scope, object) = created(&resolution);
        assert_eq!(*scope, AIMResolutionScope::Cluster);
        assert_eq!(object["spec"]["requestingNamespace"], "team-b");
        // The author's names go with it, to be read in that namespace only.
        assert_eq!(object["spec"]["serviceAccountName"], "runner");
        assert_eq!(
            object["spec"]["imagePullSecrets"][0]["name"],
            "registry-credentials"
        );
    }

    #[test]
    fn a_cluster_model_made_for_another_namespace_is_not_used_and_a_model_of_its_own_is_made() {
        let observed = observation(
            json!({"image": IMAGE}),
            json!([cluster_model(Some("team-a"))]),
        );
        let resolution = resolve(&observed, &EffectiveRuntimeConfig::default()).unwrap();
        let (scope, object) = created(&resolution);
        assert_eq!(*scope, AIMResolutionScope::Namespace);
        assert_eq!(object["kind"], "AIMModel");
        assert_eq!(object["metadata"]["namespace"], "team-b");
        assert_eq!(object["metadata"]["name"], MODEL);

        let by_name = observation(
            json!({"ref": MODEL}),
            json!([cluster_model(Some("team-a"))]),
        );
        match resolve(&by_name, &EffectiveRuntimeConfig::default()).unwrap() {
            ModelResolution::NotFound { message } => {
                assert!(message.contains("team-a"), "{message}");
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
    }

    #[test]
    fn an_admins_cluster_model_and_one_made_for_this_namespace_are_used() {
        for home in [None, Some("team-b")] {
            let observed = observation(json!({"image": IMAGE}), json!([cluster_model(home)]));
            let resolution = resolve(&observed, &EffectiveRuntimeConfig::default()).unwrap();
            assert!(
                matches!(resolution, ModelResolution::Found(_)),
                "{home:?}: {resolution:?}"
            );
        }
        let unused = RuntimeConfigs::default();
        assert!(unused.name.is_empty());
    }
}
