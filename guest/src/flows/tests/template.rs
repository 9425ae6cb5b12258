//! Scenarios of the template flow.

use aim_api::conditions::AIMTemplateStatusEnum;
use aim_api::conditions::{labels, reasons, types};
use aim_api::policy::observation::{RuntimeConfigs, TemplateObservation};
use aim_api::v1alpha1::{
    AIMClusterModel, AIMClusterModelSpec, AIMClusterServiceTemplate, AIMClusterServiceTemplateSpec,
    AIMGpuSelector, AIMMetric, AIMModel, AIMModelSource, AIMModelSpec, AIMModelSpecCommon,
    AIMPrecision, AIMRuntimeConfig, AIMRuntimeConfigSpec, AIMRuntimeParameters, AIMServiceTemplate,
    AIMServiceTemplateSpec, AIMServiceTemplateSpecCommon, AIMServiceTemplateStatus,
    AIMTemplateCache, AIMTemplateCacheSpec, AIMTemplateCaching,
};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateWaiting, ContainerStatus, LocalObjectReference, Pod, PodStatus,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::json;

use super::*;
use crate::PolicyFailure;
use crate::flows::plan_template;

const LOG: &str = r#"starting
[{"filename": "p.yaml", "profile": {"metadata": {"engine": "vllm", "gpu": "MI300X", "precision": "fp8", "gpu_count": 1, "metric": "latency"},
  "engine_args": {"tensor-parallel-size": 1}, "env_vars": {"VLLM_USE_V1": "0"}},
  "models": [{"name": "HuggingFaceTB/SmolLM2-135M", "source": "hf://HuggingFaceTB/SmolLM2-135M", "size_gb": 0.5}]}]"#;

fn common() -> AIMServiceTemplateSpecCommon {
    AIMServiceTemplateSpecCommon {
        model_name: "llama".to_owned(),
        runtime: AIMRuntimeParameters {
            metric: Some(AIMMetric::Latency),
            precision: Some(AIMPrecision::Fp8),
            gpu_selector: Some(AIMGpuSelector {
                count: 1,
                model: "MI300X".to_owned(),
                resource_name: "amd.com/gpu".to_owned(),
            }),
        },
        runtime_config_name: "default".to_owned(),
        ..AIMServiceTemplateSpecCommon::default()
    }
}

fn template() -> AIMServiceTemplate {
    let mut template = AIMServiceTemplate::new(
        "llama-mi300x",
        AIMServiceTemplateSpec {
            common: common(),
            ..Default::default()
        },
    );
    template.metadata.namespace = Some("ml".to_owned());
    template.metadata.uid = Some("tpl-uid".to_owned());
    template.metadata.generation = Some(2);
    template
}

fn model() -> AIMModel {
    let mut model = AIMModel::new(
        "llama",
        AIMModelSpec {
            common: AIMModelSpecCommon {
                image: "ghcr.io/x/aim-llama:1".to_owned(),
                ..Default::default()
            },
        },
    );
    model.metadata.namespace = Some("ml".to_owned());
    model
}

fn observation(template: AIMServiceTemplate) -> TemplateObservation {
    TemplateObservation {
        api_version: aim_api::policy::OBSERVATION_API_VERSION.to_owned(),
        template: Some(template),
        operator_namespace: "aim-system".to_owned(),
        runtime_configs: RuntimeConfigs {
            name: "default".to_owned(),
            ..Default::default()
        },
        model: Some(model()),
        nodes: vec![mi300x_node()],
        ..Default::default()
    }
}

fn with_status(
    mut template: AIMServiceTemplate,
    status: AIMTemplateStatusEnum,
) -> AIMServiceTemplate {
    template.status = Some(AIMServiceTemplateStatus {
        status,
        ..Default::default()
    });
    template
}

fn discovery_job(condition: Option<&str>) -> k8s_openapi::api::batch::v1::Job {
    job(
        "discover-llama-mi300x-1234abcd",
        &[(labels::TEMPLATE, "llama-mi300x")],
        condition,
    )
}

#[test]
fn an_observation_without_exactly_one_template_is_invalid_input() {
    let mut neither = observation(template());
    neither.template = None;
    assert!(matches!(
        plan_template(&neither),
        Err(PolicyFailure::InvalidInput(_))
    ));
    let mut both = observation(template());
    both.cluster_template = Some(AIMClusterServiceTemplate::new(
        "x",
        AIMClusterServiceTemplateSpec::default(),
    ));
    assert!(matches!(
        plan_template(&both),
        Err(PolicyFailure::InvalidInput(_))
    ));
}

#[test]
fn a_new_template_starts_discovery_and_waits_pending() {
    let plan = plan_template(&observation(template())).unwrap();
    assert_eq!(plan.api_version, aim_api::policy::PLAN_API_VERSION);
    let job = object(&plan, "Job");
    assert!(
        job["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("discover-llama-mi300x-")
    );
    assert_eq!(job["metadata"]["namespace"], "ml");
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/x/aim-llama:1"
    );
    assert_eq!(status(&plan)["status"], "Pending");
    assert_eq!(status(&plan)["observedGeneration"], 2);
    assert_eq!(
        condition(&plan, types::PROGRESSING)["reason"],
        reasons::RECONCILING
    );
    assert_eq!(plan.requeue_after_seconds, None);
}

#[test]
fn a_namespace_at_its_fair_share_of_discovery_waits_while_others_below_theirs_start() {
    // Two namespaces run discovery: each may hold five of the ten slots.
    let mut at_share = observation(template());
    at_share.active_discovery_jobs = 5;
    at_share.active_discovery_jobs_in_namespace = 5;
    at_share.discovery_namespaces = 2;
    let plan = plan_template(&at_share).unwrap();
    assert!(applied(&plan).is_empty(), "{:?}", applied(&plan));
    assert_eq!(
        condition(&plan, types::PROGRESSING)["reason"],
        "DiscoveryDeferred"
    );

    let mut below = at_share.clone();
    below.active_discovery_jobs_in_namespace = 0;
    let plan = plan_template(&below).unwrap();
    assert!(applied(&plan).iter().any(|o| o.starts_with("Job/")));

    // However many namespaces queue, each gets at least one slot while the cluster has one.
    let mut crowded = observation(template());
    crowded.active_discovery_jobs = 9;
    crowded.discovery_namespaces = 30;
    let plan = plan_template(&crowded).unwrap();
    assert!(applied(&plan).iter().any(|o| o.starts_with("Job/")));
}

#[test]
fn discovery_waits_for_a_free_slot_when_ten_discovery_jobs_run() {
    let mut busy = observation(template());
    busy.active_discovery_jobs = 10;
    let plan = plan_template(&busy).unwrap();
    assert!(applied(&plan).is_empty(), "{:?}", applied(&plan));
    assert_eq!(status(&plan)["status"], "Pending");
    assert_eq!(
        condition(&plan, types::PROGRESSING)["reason"],
        "DiscoveryDeferred"
    );
    assert!(
        plan.requeue_after_seconds.is_some(),
        "nothing watched frees a slot, so look again"
    );
}

#[test]
fn a_running_discovery_job_makes_the_template_progressing_and_announces_the_start_once() {
    let mut running = observation(with_status(template(), AIMTemplateStatusEnum::Pending));
    running.jobs = vec![discovery_job(None)];
    let plan = plan_template(&running).unwrap();
    assert_eq!(status(&plan)["status"], "Progressing");
    assert_eq!(
        condition(&plan, types::PROGRESSING)["reason"],
        reasons::DISCOVERY_RUNNING
    );
    assert_eq!(
        condition(&plan, types::DISCOVERED)["reason"],
        reasons::JOB_PENDING
    );
    assert!(events(&plan).contains(&"Normal DiscoveryStarted".to_owned()));
    assert!(
        plan.requeue_after_seconds.is_some(),
        "a stuck image pull changes no Job status"
    );

    running.template = Some(with_status(template(), AIMTemplateStatusEnum::Progressing));
    let again = plan_template(&running).unwrap();
    assert!(!events(&again).contains(&"Normal DiscoveryStarted".to_owned()));
}

#[test]
fn a_discovery_pod_stuck_pulling_its_image_degrades_the_template() {
    let mut stuck = observation(with_status(template(), AIMTemplateStatusEnum::Progressing));
    stuck.jobs = vec![discovery_job(None)];
    stuck.pods = vec![Pod {
        metadata: ObjectMeta {
            name: Some("discover-pod".to_owned()),
            labels: Some(
                [(
                    "job-name".to_owned(),
                    "discover-llama-mi300x-1234abcd".to_owned(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        status: Some(PodStatus {
            container_statuses: Some(vec![ContainerStatus {
                name: "discovery".to_owned(),
                state: Some(ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some("ErrImagePull".to_owned()),
                        message: Some("401 Unauthorized".to_owned()),
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        }),
        ..Pod::default()
    }];
    let plan = plan_template(&stuck).unwrap();
    assert_eq!(status(&plan)["status"], "Degraded");
    assert_eq!(
        condition(&plan, types::FAILURE)["reason"],
        reasons::IMAGE_PULL_AUTH_FAILURE
    );
    assert!(
        condition(&plan, types::FAILURE)["message"]
            .as_str()
            .unwrap()
            .starts_with("Discovery pod Container \"discovery\"")
    );
    assert_eq!(events(&plan), ["Warning ImagePullAuthFailed"]);
}

#[test]
fn a_failed_discovery_job_fails_the_template_and_is_not_recreated() {
    let mut failed = observation(with_status(template(), AIMTemplateStatusEnum::Progressing));
    failed.jobs = vec![discovery_job(Some("Failed"))];
    let plan = plan_template(&failed).unwrap();
    assert!(applied(&plan).is_empty());
    assert_eq!(status(&plan)["status"], "Failed");
    assert_eq!(
        condition(&plan, types::FAILURE)["reason"],
        reasons::JOB_FAILED
    );
    assert_eq!(
        condition(&plan, types::DISCOVERED)["reason"],
        reasons::DISCOVERY_FAILED
    );
    assert_eq!(events(&plan), ["Warning DiscoveryFailed"]);
}

#[test]
fn a_failed_template_retries_discovery_once_its_job_has_expired() {
    let plan = plan_template(&observation(with_status(
        template(),
        AIMTemplateStatusEnum::Failed,
    )))
    .unwrap();
    assert_eq!(applied(&plan).len(), 1);
    assert_eq!(status(&plan)["status"], "Pending");
}

#[test]
fn a_succeeded_discovery_makes_the_template_ready_with_its_profile_and_sources() {
    let mut done = observation(with_status(template(), AIMTemplateStatusEnum::Progressing));
    done.jobs = vec![discovery_job(Some("Complete"))];
    done.discovery_log = Some(LOG.to_owned());
    let plan = plan_template(&done).unwrap();
    let status = status(&plan);
    assert_eq!(status["status"], "Ready");
    assert_eq!(status["profile"]["metadata"]["gpu_count"], 1);
    assert_eq!(status["profile"]["engine_args"]["tensor-parallel-size"], 1);
    assert_eq!(
        status["modelSources"][0]["sourceUri"],
        "hf://HuggingFaceTB/SmolLM2-135M"
    );
    assert_eq!(status["modelSources"][0]["size"], "512Mi");
    assert_eq!(
        condition(&plan, types::DISCOVERED)["reason"],
        reasons::DISCOVERED
    );
    assert_eq!(condition(&plan, types::READY)["status"], "True");
    assert_eq!(
        applied(&plan),
        ["ServingRuntime/llama-mi300x"],
        "the runtime comes as soon as the template is Ready"
    );
    assert_eq!(events(&plan), ["Normal DiscoveryCompleted"]);
}

#[test]
fn unusable_discovery_output_fails_the_template_with_the_parse_reason() {
    let mut done = observation(with_status(template(), AIMTemplateStatusEnum::Progressing));
    done.jobs = vec![discovery_job(Some("Complete"))];
    done.discovery_log = Some("no json here".to_owned());
    let plan = plan_template(&done).unwrap();
    assert_eq!(status(&plan)["status"], "Failed");
    assert_eq!(
        condition(&plan, types::FAILURE)["reason"],
        reasons::DISCOVERY_PARSE_FAILED
    );

    done.discovery_log = None;
    let unread = plan_template(&done).unwrap();
    assert!(
        condition(&unread, types::FAILURE)["message"]
            .as_str()
            .unwrap()
            .contains("not available")
    );
}

#[test]
fn a_succeeded_discovery_without_its_output_asks_the_host_for_the_jobs_log() {
    let mut done = observation(with_status(template(), AIMTemplateStatusEnum::Progressing));
    done.jobs = vec![discovery_job(Some("Complete"))];
    let asking = plan_template(&done).unwrap();
    let job = done.jobs[0].metadata.name.clone().unwrap();
    assert_eq!(
        asking.read_discovery_log.map(|request| request.job),
        Some(job),
        "the plan names the Job whose output it needs"
    );

    done.discovery_log = Some(LOG.to_owned());
    let read = plan_template(&done).unwrap();
    assert_eq!(
        read.read_discovery_log, None,
        "nothing more to ask once it has the output"
    );
    assert_eq!(status(&read)["status"], "Ready");
}

#[test]
fn a_template_asks_for_no_log_while_its_job_runs_or_once_it_is_ready() {
    let mut running = observation(with_status(template(), AIMTemplateStatusEnum::Progressing));
    running.jobs = vec![discovery_job(None)];
    assert_eq!(plan_template(&running).unwrap().read_discovery_log, None);

    let mut ready = observation(with_status(template(), AIMTemplateStatusEnum::Ready));
    ready.jobs = vec![discovery_job(Some("Complete"))];
    assert_eq!(plan_template(&ready).unwrap().read_discovery_log, None);
}

#[test]
fn a_ready_template_stays_ready_after_its_job_expires_and_keeps_its_runtime() {
    let mut ready = template();
    ready.status = Some(serde_json::from_value(json!({
        "status": "Ready",
        "modelSources": [{"name": "m", "sourceUri": "hf://m", "size": "1Gi"}],
        "profile": {"metadata": {"gpu": "MI300X", "gpu_count": 2}},
        "conditions": [{"type": "Ready", "status": "True", "reason": "Available", "message": "", "lastTransitionTime": TRANSITION_TIME}]
    })).unwrap());
    let mut observed = observation(ready);
    observed.jobs = vec![discovery_job(Some("Failed"))];
    let plan = plan_template(&observed).unwrap();
    assert_eq!(status(&plan)["status"], "Ready");
    assert_eq!(status(&plan)["modelSources"][0]["sourceUri"], "hf://m");
    assert_eq!(
        condition(&plan, types::READY)["lastTransitionTime"],
        TRANSITION_TIME
    );
    assert!(events(&plan).is_empty() || events(&plan).iter().all(|e| e.contains("RuntimeConfig")));
    let runtime = object(&plan, "ServingRuntime");
    assert_eq!(
        runtime["spec"]["containers"][0]["resources"]["limits"]["amd.com/gpu"],
        "2"
    );
    assert_eq!(runtime["metadata"]["labels"][labels::MODEL_ID], "llama");
    assert!(!applied(&plan).iter().any(|o| o.starts_with("Job/")));
}

#[test]
fn a_template_whose_gpu_is_absent_is_not_available_and_plans_nothing() {
    let mut no_gpu = observation(template());
    no_gpu.nodes.clear();
    let plan = plan_template(&no_gpu).unwrap();
    assert!(applied(&plan).is_empty());
    assert_eq!(status(&plan)["status"], "NotAvailable");
    assert_eq!(condition(&plan, types::FAILURE)["status"], "False");
    assert_eq!(
        condition(&plan, types::READY)["reason"],
        reasons::GPU_UNAVAILABLE
    );
    assert_eq!(
        condition(&plan, types::READY)["message"],
        "Required GPU model \"MI300X\" is not available in the cluster"
    );
    assert!(events(&plan).contains(&"Warning GPUUnavailable".to_owned()));
}

#[test]
fn a_template_whose_model_is_missing_is_degraded_and_plans_nothing() {
    let mut no_model = observation(template());
    no_model.model = None;
    let plan = plan_template(&no_model).unwrap();
    assert!(applied(&plan).is_empty());
    assert_eq!(status(&plan)["status"], "Degraded");
    assert_eq!(
        condition(&plan, types::FAILURE)["message"],
        "No AIMModel or AIMClusterModel found for image name \"llama\""
    );
    assert_eq!(
        condition(&plan, types::READY)["message"],
        "Cannot proceed without image"
    );
}

#[test]
fn in_line_model_sources_make_the_template_ready_without_discovery() {
    let mut inline = template();
    inline.spec.common.model_sources = vec![AIMModelSource {
        name: Some("m".to_owned()),
        source_uri: "hf://m".to_owned(),
        size: Quantity("1Gi".to_owned()),
    }];
    let plan = plan_template(&observation(inline)).unwrap();
    assert_eq!(status(&plan)["status"], "Ready");
    assert_eq!(status(&plan)["modelSources"][0]["name"], "m");
    assert_eq!(
        condition(&plan, types::DISCOVERED)["reason"],
        reasons::INLINE_MODEL_SOURCES
    );
    assert_eq!(applied(&plan), ["ServingRuntime/llama-mi300x"]);
    assert!(events(&plan).contains(&"Normal ModelSourcesProvided".to_owned()));
}

#[test]
fn a_missing_named_runtime_config_fails_a_namespace_template() {
    let mut named = template();
    named.spec.common.runtime_config_name = "team".to_owned();
    let mut observed = observation(named);
    observed.runtime_configs.name = "team".to_owned();
    let plan = plan_template(&observed).unwrap();
    assert!(applied(&plan).is_empty());
    assert_eq!(status(&plan)["status"], "Failed");
    assert!(
        condition(&plan, types::FAILURE)["message"]
            .as_str()
            .unwrap()
            .starts_with("Observation failed: ")
    );
}

fn cluster_observation() -> TemplateObservation {
    let mut template = AIMClusterServiceTemplate::new(
        "llama-cluster",
        AIMClusterServiceTemplateSpec { common: common() },
    );
    template.metadata.uid = Some("ctpl-uid".to_owned());
    let model = AIMClusterModel::new(
        "llama",
        AIMClusterModelSpec {
            common: AIMModelSpecCommon {
                image: "ghcr.io/x/aim-llama:1".to_owned(),
                ..Default::default()
            },
            requesting_namespace: None,
        },
    );
    TemplateObservation {
        template: None,
        cluster_template: Some(template),
        model: Some(self::model()),
        cluster_model: Some(model),
        runtime_configs: RuntimeConfigs {
            name: "team".to_owned(),
            ..Default::default()
        },
        ..observation(self::template())
    }
}

#[test]
fn a_cluster_template_discovers_in_the_operator_namespace_and_ignores_a_missing_config() {
    let plan = plan_template(&cluster_observation()).unwrap();
    let job = object(&plan, "Job");
    assert_eq!(job["metadata"]["namespace"], "aim-system");
    assert_eq!(status(&plan)["status"], "Pending");
    assert_eq!(
        status(&plan)["resolvedModel"]["scope"],
        "Cluster",
        "a cluster template only uses cluster models"
    );
}

#[test]
fn a_cluster_template_without_a_cluster_model_is_degraded() {
    let mut observed = cluster_observation();
    observed.cluster_model = None;
    let plan = plan_template(&observed).unwrap();
    assert_eq!(
        condition(&plan, types::FAILURE)["message"],
        "No AIMClusterModel found for image name \"llama\""
    );
}

#[test]
fn a_ready_cluster_template_offers_a_cluster_serving_runtime() {
    let mut observed = cluster_observation();
    if let Some(template) = observed.cluster_template.as_mut() {
        template.status = Some(AIMServiceTemplateStatus {
            status: AIMTemplateStatusEnum::Ready,
            ..Default::default()
        });
    }
    let plan = plan_template(&observed).unwrap();
    assert_eq!(applied(&plan), ["ClusterServingRuntime/llama-cluster"]);
}

#[test]
fn caching_creates_a_template_cache_once_sources_are_known_unless_one_is_owned() {
    let mut cached = template();
    cached.spec.caching = Some(AIMTemplateCaching {
        enabled: true,
        env: Vec::new(),
    });
    let mut done = observation(with_status(cached, AIMTemplateStatusEnum::Progressing));
    done.jobs = vec![discovery_job(Some("Complete"))];
    done.discovery_log = Some(LOG.to_owned());
    let mut config = AIMRuntimeConfig::new("default", AIMRuntimeConfigSpec::default());
    config.metadata.namespace = Some("ml".to_owned());
    config.spec.common.default_storage_class_name = Some("fast-nvme".to_owned());
    done.runtime_configs.namespaced = Some(config);
    let plan = plan_template(&done).unwrap();
    let cache = object(&plan, "AIMTemplateCache");
    assert_eq!(cache["metadata"]["name"], "llama-mi300x");
    assert_eq!(cache["spec"]["templateRef"], "llama-mi300x");
    assert_eq!(cache["spec"]["storageClassName"], "fast-nvme");

    let mut owned = AIMTemplateCache::new("other-name", AIMTemplateCacheSpec::default());
    owned.metadata.owner_references = Some(vec![OwnerReference {
        uid: "tpl-uid".to_owned(),
        ..OwnerReference::default()
    }]);
    done.template_caches = vec![owned];
    let again = plan_template(&done).unwrap();
    assert!(
        !applied(&again)
            .iter()
            .any(|o| o.starts_with("AIMTemplateCache/"))
    );
}

#[test]
fn pull_secrets_and_service_account_of_the_runtime_config_reach_the_discovery_job() {
    let mut with_secret = template();
    with_secret.spec.common.image_pull_secrets = vec![LocalObjectReference {
        name: "tpl-secret".to_owned(),
    }];
    let mut observed = observation(with_secret);
    let mut config = AIMRuntimeConfig::new("default", AIMRuntimeConfigSpec::default());
    config.metadata.namespace = Some("ml".to_owned());
    config.spec.service_account_name = Some("aim-runtime".to_owned());
    config.spec.image_pull_secrets = vec![LocalObjectReference {
        name: "cfg-secret".to_owned(),
    }];
    observed.runtime_configs.namespaced = Some(config);
    let plan = plan_template(&observed).unwrap();
    let pod = &object(&plan, "Job")["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "aim-runtime");
    assert_eq!(
        pod["imagePullSecrets"],
        json!([{"name": "tpl-secret"}, {"name": "cfg-secret"}])
    );
    assert_eq!(status(&plan)["resolvedRuntimeConfig"]["scope"], "Namespace");
    assert!(events(&plan).contains(&"Normal RuntimeConfigResolved".to_owned()));
}

#[test]
fn a_missing_default_runtime_config_is_announced_only_on_the_first_reconcile() {
    let first = plan_template(&observation(template())).unwrap();
    assert!(events(&first).contains(&"Warning DefaultRuntimeConfigNotFound".to_owned()));
    let later = plan_template(&observation(with_status(
        template(),
        AIMTemplateStatusEnum::Pending,
    )))
    .unwrap();
    assert!(!events(&later).iter().any(|e| e.contains("RuntimeConfig")));
}

/// The runtime configuration guide's Complete Example: a namespace config with
/// `serviceAccountName` and `imagePullSecrets` and `creationScope: Cluster`. The cluster model the
/// operator creates for `ml-research` is discovered there, with that namespace's credentials.
#[test]
fn a_cluster_template_of_a_model_made_for_a_namespace_discovers_there_with_its_credentials() {
    let mut observed = cluster_observation();
    observed.work_namespace = "ml-research".to_owned();
    let model = observed.cluster_model.as_mut().unwrap();
    model.spec.requesting_namespace = Some("ml-research".to_owned());
    model.spec.common.image_pull_secrets = vec![LocalObjectReference {
        name: "service-secret".to_owned(),
    }];
    let mut config = AIMRuntimeConfig::new("team", AIMRuntimeConfigSpec::default());
    config.metadata.namespace = Some("ml-research".to_owned());
    config.spec.service_account_name = Some("aim-runtime".to_owned());
    config.spec.image_pull_secrets = vec![LocalObjectReference {
        name: "registry-creds".to_owned(),
    }];
    observed.runtime_configs.namespaced = Some(config);
    let plan = plan_template(&observed).unwrap();
    let job = object(&plan, "Job");
    assert_eq!(job["metadata"]["namespace"], "ml-research");
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "aim-runtime");
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(
        pod["imagePullSecrets"],
        json!([{"name": "service-secret"}, {"name": "registry-creds"}])
    );
}

#[test]
fn the_cluster_runtime_of_a_model_made_for_a_namespace_carries_no_names_of_that_namespace() {
    let mut ready = cluster_observation();
    ready.work_namespace = "ml-research".to_owned();
    let mut template = ready.cluster_template.take().unwrap();
    template.spec.common.image_pull_secrets = vec![LocalObjectReference {
        name: "admin-secret".to_owned(),
    }];
    template.status = Some(AIMServiceTemplateStatus {
        status: AIMTemplateStatusEnum::Ready,
        ..Default::default()
    });
    ready.cluster_template = Some(template);
    let model = ready.cluster_model.as_mut().unwrap();
    model.spec.requesting_namespace = Some("ml-research".to_owned());
    model.spec.common.image_pull_secrets = vec![LocalObjectReference {
        name: "service-secret".to_owned(),
    }];
    let plan = plan_template(&ready).unwrap();
    let runtime = object(&plan, "ClusterServingRuntime");
    assert_eq!(
        runtime["spec"]["imagePullSecrets"],
        json!([{"name": "admin-secret"}]),
        "KServe adds a runtime's pull secrets to pods in every namespace"
    );
}
