//! Scenarios of the model flow.

use std::collections::BTreeMap;

use aim_api::conditions::{AIMTemplateStatusEnum, reasons, types};
use aim_api::policy::observation::{
    ImageInspection, ModelObservation, RegistryError, RegistryErrorKind, RuntimeConfigs,
};
use aim_api::v1alpha1::{
    AIMClusterModel, AIMClusterModelSpec, AIMModel, AIMModelDiscovery, AIMModelSpec,
    AIMModelSpecCommon, AIMModelStatus, AIMRuntimeConfig, AIMRuntimeConfigModel,
    AIMRuntimeConfigSpec, AIMServiceTemplate, AIMServiceTemplateSpec, AIMServiceTemplateStatus,
};
use k8s_openapi::api::core::v1::LocalObjectReference;
use serde_json::json;

use super::*;
use crate::flows::plan_model;

const IMAGE: &str = "ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0";
const MODEL: &str = "aim-meta-llama-llama-3-1-8b-instruct-0-7-0-e2103ebd";
const DEPLOYMENTS: &str = "[{'gpuModel': 'MI300X', 'gpuCount': 1, 'precision': 'fp8', 'metric': 'latency'}, {'gpuModel': 'MI325X', 'gpuCount': 1, 'precision': 'fp8', 'metric': 'latency'}]";

fn model() -> AIMModel {
    let mut model = AIMModel::new(
        MODEL,
        AIMModelSpec {
            common: AIMModelSpecCommon {
                image: IMAGE.to_owned(),
                runtime_config_name: "default".to_owned(),
                image_pull_secrets: vec![LocalObjectReference {
                    name: "ghcr".to_owned(),
                }],
                service_account_name: Some("puller".to_owned()),
                ..Default::default()
            },
        },
    );
    model.metadata.namespace = Some("ml-team".to_owned());
    model.metadata.generation = Some(1);
    model
}

fn observation(model: AIMModel) -> ModelObservation {
    ModelObservation {
        api_version: aim_api::policy::OBSERVATION_API_VERSION.to_owned(),
        model: Some(model),
        runtime_configs: RuntimeConfigs {
            name: "default".to_owned(),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn inspected(labels: &[(&str, &str)]) -> Option<ImageInspection> {
    Some(ImageInspection {
        image: IMAGE.to_owned(),
        labels: Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        ),
        error: None,
    })
}

fn registry_error(kind: RegistryErrorKind) -> Option<ImageInspection> {
    Some(ImageInspection {
        image: IMAGE.to_owned(),
        labels: None,
        error: Some(RegistryError {
            kind,
            message: "registry said no".to_owned(),
        }),
    })
}

fn owned_templates(statuses: &[AIMTemplateStatusEnum]) -> Vec<AIMServiceTemplate> {
    statuses
        .iter()
        .enumerate()
        .map(|(i, status)| {
            let mut template =
                AIMServiceTemplate::new(&format!("t{i}"), AIMServiceTemplateSpec::default());
            template.status = Some(AIMServiceTemplateStatus {
                status: *status,
                ..Default::default()
            });
            template
        })
        .collect()
}

#[test]
fn a_new_model_asks_the_host_to_inspect_its_image_with_its_pull_secrets() {
    let plan = plan_model(&observation(model())).unwrap();
    let request = plan.inspect_image.as_ref().expect("an inspection request");
    assert_eq!(request.image, IMAGE);
    assert_eq!(request.pull_secrets, ["ghcr"]);
    assert!(plan.apply.is_empty());
    assert_eq!(status(&plan)["status"], "Progressing");
    assert_eq!(
        condition(&plan, types::PROGRESSING)["reason"],
        reasons::DISCOVERY_IN_PROGRESS
    );
}

#[test]
fn inspected_labels_give_one_owned_template_per_recommended_deployment() {
    let mut observed = observation(model());
    observed.image_inspection =
        inspected(&[("com.amd.aim.model.recommendedDeployments", DEPLOYMENTS)]);
    let plan = plan_model(&observed).unwrap();
    assert!(plan.inspect_image.is_none());
    assert_eq!(
        applied(&plan),
        [
            "AIMServiceTemplate/aim-meta-llama-llama-3-1-8b-instruct-0-7-1x-mi300x-lat-fp8-8d3e",
            "AIMServiceTemplate/aim-meta-llama-llama-3-1-8b-instruct-0-7-1x-mi325x-lat-fp8-0f45",
        ]
    );
    assert!(
        plan.apply
            .iter()
            .all(|o| o.owner == aim_api::policy::plan::Owner::Subject)
    );
    let template = &plan.apply[0].object;
    assert_eq!(template["metadata"]["namespace"], "ml-team");
    assert_eq!(
        template["metadata"]["labels"]["aim.silogen.ai/auto-generated"],
        "true"
    );
    assert_eq!(
        template["metadata"]["labels"]["aim.silogen.ai/aim-image"],
        MODEL
    );
    assert_eq!(template["spec"]["modelName"], MODEL);
    assert_eq!(template["spec"]["metric"], "latency");
    assert_eq!(template["spec"]["precision"], "fp8");
    assert_eq!(
        template["spec"]["gpuSelector"],
        json!({"count": 1, "model": "MI300X", "resourceName": "amd.com/gpu"})
    );
    assert_eq!(
        template["spec"]["imagePullSecrets"],
        json!([{"name": "ghcr"}])
    );
    assert_eq!(template["spec"]["serviceAccountName"], "puller");
    assert_eq!(status(&plan)["status"], "Progressing");
    assert_eq!(
        condition(&plan, types::METADATA_EXTRACTED)["status"],
        "True"
    );
    assert_eq!(
        condition(&plan, types::TEMPLATES_AUTO_GENERATED)["reason"],
        reasons::RECOMMENDED_DEPLOYMENTS_APPLIED
    );
    assert_eq!(
        status(&plan)["imageMetadata"]["model"]["recommendedDeployments"][1]["gpuModel"],
        "MI325X"
    );
}

#[test]
fn a_cluster_model_generates_cluster_templates() {
    let cluster = AIMClusterModel::new(
        MODEL,
        AIMClusterModelSpec {
            common: model().spec.common,
            requesting_namespace: None,
        },
    );
    let observed = ModelObservation {
        model: None,
        cluster_model: Some(cluster),
        image_inspection: inspected(&[(
            "org.amd.silogen.model.recommendedDeployments",
            DEPLOYMENTS,
        )]),
        ..observation(model())
    };
    let plan = plan_model(&observed).unwrap();
    assert_eq!(plan.apply.len(), 2);
    assert!(
        plan.apply
            .iter()
            .all(|o| o.object["kind"] == "AIMClusterServiceTemplate")
    );
    assert!(plan.apply[0].object["metadata"].get("namespace").is_none());
}

#[test]
fn an_earlier_inspection_of_the_same_generation_is_not_repeated() {
    let mut first = observation(model());
    first.image_inspection =
        inspected(&[("com.amd.aim.model.recommendedDeployments", DEPLOYMENTS)]);
    let plan = plan_model(&first).unwrap();
    let mut remembered = model();
    remembered.status = Some(written_status(&plan));
    let later = plan_model(&observation(remembered.clone())).unwrap();
    assert!(later.inspect_image.is_none());
    assert_eq!(
        later.apply.len(),
        2,
        "templates are still applied from the remembered metadata"
    );

    remembered.metadata.generation = Some(2);
    let changed = plan_model(&observation(remembered)).unwrap();
    assert!(
        changed.inspect_image.is_some(),
        "a changed spec (image, secrets) is inspected again"
    );
}

#[test]
fn discovery_follows_the_spec_then_the_models_own_runtime_config_then_defaults_to_on() {
    let mut config = AIMRuntimeConfig::new("team", AIMRuntimeConfigSpec::default());
    config.metadata.namespace = Some("ml-team".to_owned());
    config.spec.common.model = Some(AIMRuntimeConfigModel {
        auto_discovery: Some(false),
        ..Default::default()
    });
    let mut named = model();
    named.spec.common.runtime_config_name = "team".to_owned();
    let mut observed = observation(named);
    observed.runtime_configs = RuntimeConfigs {
        name: "team".to_owned(),
        namespaced: Some(config),
        cluster: None,
    };
    let plan = plan_model(&observed).unwrap();
    assert!(plan.inspect_image.is_none());
    assert_eq!(status(&plan)["status"], "Ready");
    assert_eq!(
        condition(&plan, types::READY)["reason"],
        reasons::DISCOVERY_DISABLED
    );
    assert_eq!(status(&plan)["resolvedRuntimeConfig"]["name"], "team");

    if let Some(model) = observed.model.as_mut() {
        model.spec.common.discovery = Some(AIMModelDiscovery {
            enabled: Some(true),
            auto_create_templates: None,
        });
    }
    assert!(
        plan_model(&observed).unwrap().inspect_image.is_some(),
        "the model's own setting wins"
    );
}

#[test]
fn with_template_creation_off_the_model_is_ready_once_its_metadata_is_read() {
    let mut manual = model();
    manual.spec.common.discovery = Some(AIMModelDiscovery {
        enabled: None,
        auto_create_templates: Some(false),
    });
    let mut observed = observation(manual);
    observed.image_inspection =
        inspected(&[("com.amd.aim.model.recommendedDeployments", DEPLOYMENTS)]);
    let plan = plan_model(&observed).unwrap();
    assert!(plan.apply.is_empty());
    assert_eq!(status(&plan)["status"], "Ready");
    assert_eq!(
        condition(&plan, types::TEMPLATES_AUTO_GENERATED)["status"],
        "False"
    );
}

#[test]
fn an_image_without_recommended_deployments_leaves_the_model_ready_for_manual_templates() {
    let mut observed = observation(model());
    observed.image_inspection = inspected(&[("org.opencontainers.image.title", "x")]);
    let plan = plan_model(&observed).unwrap();
    assert!(plan.apply.is_empty());
    assert_eq!(status(&plan)["status"], "Ready");
    for type_ in [
        types::READY,
        types::METADATA_EXTRACTED,
        types::TEMPLATES_AUTO_GENERATED,
    ] {
        assert_eq!(
            condition(&plan, type_)["reason"],
            reasons::METADATA_MISSING_RECOMMENDED_DEPLOYMENTS
        );
    }
    assert_eq!(condition(&plan, types::READY)["status"], "True");
}

#[test]
fn malformed_deployment_labels_fail_the_model() {
    let mut observed = observation(model());
    observed.image_inspection =
        inspected(&[("com.amd.aim.model.recommendedDeployments", "[{broken")]);
    let plan = plan_model(&observed).unwrap();
    assert_eq!(status(&plan)["status"], "Failed");
    assert_eq!(
        condition(&plan, types::DEGRADED)["reason"],
        reasons::METADATA_MALFORMED
    );
    assert_eq!(events(&plan), ["Warning ImageFailed"]);
}

#[test]
fn registry_errors_fail_a_missing_image_and_degrade_otherwise() {
    let cases = [
        (
            RegistryErrorKind::NotFound,
            "Failed",
            reasons::IMAGE_NOT_FOUND,
        ),
        (
            RegistryErrorKind::Auth,
            "Degraded",
            reasons::IMAGE_PULL_AUTH_FAILURE,
        ),
        (
            RegistryErrorKind::Other,
            "Degraded",
            reasons::METADATA_EXTRACTION_FAILED,
        ),
    ];
    for (kind, expected, reason) in cases {
        let mut observed = observation(model());
        observed.image_inspection = registry_error(kind);
        let plan = plan_model(&observed).unwrap();
        assert_eq!(status(&plan)["status"], expected, "{kind:?}");
        assert_eq!(
            condition(&plan, types::METADATA_EXTRACTED)["reason"],
            reason
        );
        assert_eq!(condition(&plan, types::DEGRADED)["status"], "True");
        assert_eq!(
            plan.requeue_after_seconds.is_some(),
            kind == RegistryErrorKind::Other,
            "only passing errors are retried"
        );
    }
}

#[test]
fn a_refused_login_is_remembered_until_the_spec_changes() {
    let mut refused = model();
    refused.status = Some(AIMModelStatus {
        conditions: vec![previous_condition(
            types::METADATA_EXTRACTED,
            "False",
            reasons::IMAGE_PULL_AUTH_FAILURE,
            1,
        )],
        ..Default::default()
    });
    let plan = plan_model(&observation(refused)).unwrap();
    assert!(plan.inspect_image.is_none());
    assert_eq!(status(&plan)["status"], "Degraded");
}

fn aggregated(statuses: &[AIMTemplateStatusEnum]) -> (String, String, String) {
    let mut observed = observation(model());
    observed.image_inspection =
        inspected(&[("com.amd.aim.model.recommendedDeployments", DEPLOYMENTS)]);
    observed.templates = owned_templates(statuses);
    let plan = plan_model(&observed).unwrap();
    let ready = condition(&plan, types::READY);
    (
        status(&plan)["status"].as_str().unwrap().to_owned(),
        ready["reason"].as_str().unwrap().to_owned(),
        ready["message"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn the_model_status_aggregates_its_templates() {
    use AIMTemplateStatusEnum::*;
    assert_eq!(
        aggregated(&[Ready, Ready]),
        (
            "Ready".into(),
            "AllTemplatesReady".into(),
            "All 2 template(s) are available".into()
        )
    );
    assert_eq!(
        aggregated(&[Ready, Ready, NotAvailable, NotAvailable]),
        (
            "Ready".into(),
            "AllTemplatesReady".into(),
            "2 template(s) available, 2 not available (GPU not in cluster)".into()
        )
    );
    assert_eq!(aggregated(&[Ready, Pending]).0, "Progressing");
    assert_eq!(
        aggregated(&[Ready, Progressing, Failed]).1,
        "SomeTemplatesDegraded"
    );
    assert_eq!(aggregated(&[Failed, Degraded]).0, "Failed");
    assert_eq!(
        aggregated(&[NotAvailable, NotAvailable]).1,
        "AllTemplatesNotAvailable"
    );
}

#[test]
fn image_ready_is_announced_only_when_the_model_becomes_ready() {
    let mut observed = observation(model());
    observed.image_inspection =
        inspected(&[("com.amd.aim.model.recommendedDeployments", DEPLOYMENTS)]);
    observed.templates = owned_templates(&[AIMTemplateStatusEnum::Ready]);
    assert_eq!(
        events(&plan_model(&observed).unwrap()),
        ["Normal ImageReady"]
    );
    if let Some(model) = observed.model.as_mut() {
        model.status = Some(AIMModelStatus {
            status: aim_api::conditions::AIMModelStatusEnum::Ready,
            ..Default::default()
        });
    }
    assert!(events(&plan_model(&observed).unwrap()).is_empty());
}

/// The AIMService guide: "Reference a specific runtime configuration for credentials and
/// defaults" (`runtimeConfigName: team-config`). The model created for such a service names that
/// config, and the templates it generates must discover with it, not with `default`.
#[test]
fn generated_templates_keep_the_models_runtime_config() {
    let mut production = model();
    production.spec.common.runtime_config_name = "production".to_owned();
    let mut observed = observation(production);
    observed.image_inspection =
        inspected(&[("org.amd.silogen.model.recommendedDeployments", DEPLOYMENTS)]);
    let plan = plan_model(&observed).unwrap();
    assert_eq!(plan.apply.len(), 2);
    for template in &plan.apply {
        assert_eq!(template.object["spec"]["runtimeConfigName"], "production");
    }
}

fn cluster_model(requesting_namespace: Option<&str>) -> AIMClusterModel {
    let mut cluster = AIMClusterModel::new(
        MODEL,
        AIMClusterModelSpec {
            common: model().spec.common,
            requesting_namespace: requesting_namespace.map(str::to_owned),
        },
    );
    cluster.metadata.uid = Some("uid-model".to_owned());
    cluster.metadata.labels = Some(
        [(
            aim_api::conditions::labels::AUTO_CREATED.to_owned(),
            "true".to_owned(),
        )]
        .into(),
    );
    cluster
}

fn cluster_observation(cluster: AIMClusterModel) -> ModelObservation {
    ModelObservation {
        model: None,
        cluster_model: Some(cluster),
        image_inspection: inspected(&[(
            "org.amd.silogen.model.recommendedDeployments",
            DEPLOYMENTS,
        )]),
        users: vec![aim_api::policy::plan::ObjectReference {
            api_version: "aim.silogen.ai/v1alpha1".to_owned(),
            kind: "AIMService".to_owned(),
            name: "chat".to_owned(),
            namespace: Some("ml-research".to_owned()),
        }],
        ..observation(model())
    }
}

#[test]
fn a_cluster_model_made_for_a_namespace_keeps_that_namespaces_names_off_its_templates() {
    let plan = plan_model(&cluster_observation(cluster_model(Some("ml-research")))).unwrap();
    for template in &plan.apply {
        let spec = &template.object["spec"];
        assert!(spec.get("imagePullSecrets").is_none(), "{spec}");
        assert!(spec.get("serviceAccountName").is_none(), "{spec}");
    }
    // An admin's cluster model is written by an admin: its names are the cluster's.
    let plan = plan_model(&cluster_observation(cluster_model(None))).unwrap();
    let spec = &plan.apply[0].object["spec"];
    assert_eq!(spec["imagePullSecrets"][0]["name"], "ghcr");
    assert_eq!(spec["serviceAccountName"], "puller");
}

#[test]
fn an_auto_created_cluster_model_nothing_uses_is_deleted() {
    let mut unused = cluster_observation(cluster_model(Some("ml-research")));
    unused.users.clear();
    let plan = plan_model(&unused).unwrap();
    assert!(plan.apply.is_empty());
    assert_eq!(plan.delete.len(), 1);
    assert_eq!(plan.delete[0].kind, "AIMClusterModel");
    assert_eq!(plan.delete[0].name, MODEL);
    assert!(
        plan.status.is_none(),
        "a model being deleted reports nothing"
    );
}

#[test]
fn a_model_in_use_an_admins_model_and_a_namespace_model_are_never_deleted() {
    let used = cluster_observation(cluster_model(Some("ml-research")));
    assert!(plan_model(&used).unwrap().delete.is_empty());

    let mut admins = cluster_observation(cluster_model(None));
    admins.users.clear();
    assert!(plan_model(&admins).unwrap().delete.is_empty());

    let mut handmade = cluster_model(Some("ml-research"));
    handmade.metadata.labels = None;
    let mut handmade = cluster_observation(handmade);
    handmade.users.clear();
    assert!(plan_model(&handmade).unwrap().delete.is_empty());

    let namespaced = observation(model());
    assert!(namespaced.users.is_empty());
    assert!(plan_model(&namespaced).unwrap().delete.is_empty());
}
