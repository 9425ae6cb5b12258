//! Scenarios of the model cache flow.

use aim_api::conditions::{reasons, types};
use aim_api::policy::observation::{ModelCacheObservation, RuntimeConfigs};
use aim_api::v1alpha1::{
    AIMCacheStatus, AIMClusterRuntimeConfig, AIMClusterRuntimeConfigSpec, AIMModelCache,
    AIMModelCacheSpec, AIMModelCacheStatus,
};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimStatus,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;
use crate::flows::plan_model_cache;

fn cache(size: &str) -> AIMModelCache {
    let mut cache = AIMModelCache::new(
        "smol",
        AIMModelCacheSpec {
            source_uri: "hf://HuggingFaceTB/SmolLM2-135M".to_owned(),
            size: Quantity(size.to_owned()),
            model_download_image: "kserve/storage-initializer:v0.16.0-rc0".to_owned(),
            runtime_config_name: "default".to_owned(),
            ..Default::default()
        },
    );
    cache.metadata.namespace = Some("ml".to_owned());
    cache.metadata.generation = Some(1);
    cache
}

fn available(mut cache: AIMModelCache) -> AIMModelCache {
    cache.status = Some(AIMModelCacheStatus {
        status: AIMCacheStatus::Available,
        ..Default::default()
    });
    cache
}

fn pvc(phase: &str) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("smol-cache".to_owned()),
            ..ObjectMeta::default()
        },
        status: Some(PersistentVolumeClaimStatus {
            phase: Some(phase.to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn download(condition: Option<&str>) -> k8s_openapi::api::batch::v1::Job {
    job("smol-cache-download", &[], condition)
}

fn observation(cache: AIMModelCache) -> ModelCacheObservation {
    ModelCacheObservation {
        api_version: aim_api::policy::OBSERVATION_API_VERSION.to_owned(),
        model_cache: cache,
        runtime_configs: RuntimeConfigs {
            name: "default".to_owned(),
            ..Default::default()
        },
        persistent_volume_claims: Vec::new(),
        volume_binding_mode: None,
        jobs: Vec::new(),
    }
}

#[test]
fn a_new_cache_creates_its_volume_with_headroom_rounded_up_to_whole_gibibytes() {
    let plan = plan_model_cache(&observation(cache("512Mi"))).unwrap();
    assert_eq!(applied(&plan), ["PersistentVolumeClaim/smol-cache"]);
    let claim = &plan.apply[0].object;
    assert_eq!(claim["metadata"]["namespace"], "ml");
    assert_eq!(claim["spec"]["accessModes"][0], "ReadWriteMany");
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "1Gi");
    assert!(
        claim["spec"].get("storageClassName").is_none(),
        "no class anywhere means the cluster default"
    );
    assert_eq!(
        claim["metadata"]["labels"]["aim.silogen.ai/modelcache"],
        "smol"
    );
    assert_eq!(
        claim["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "modelcache-controller"
    );
    assert_eq!(
        claim["metadata"]["labels"]["aim.silogen.ai/source-model"],
        "HuggingFaceTB_SmolLM2-135M"
    );
    assert!(
        claim["metadata"]["labels"]
            .get("aim.silogen.ai/cache-type")
            .is_none()
    );
    assert_eq!(status(&plan)["status"], "Progressing");
    assert_eq!(status(&plan)["persistentVolumeClaim"], "smol-cache");
    assert_eq!(
        condition(&plan, types::STORAGE_READY)["reason"],
        reasons::PVC_PENDING
    );
    assert_eq!(
        condition(&plan, types::PROGRESSING)["reason"],
        reasons::WAITING_FOR_PVC
    );
}

#[test]
fn the_volume_takes_the_runtime_config_headroom_and_storage_class_unless_the_cache_names_one() {
    let mut config =
        AIMClusterRuntimeConfig::new("default", AIMClusterRuntimeConfigSpec::default());
    config.spec.common.pvc_headroom_percent = Some(200);
    config.spec.common.default_storage_class_name = Some("standard-ssd".to_owned());
    let mut observed = observation(cache("0.5Gi"));
    observed.runtime_configs.cluster = Some(config);
    let plan = plan_model_cache(&observed).unwrap();
    assert_eq!(
        plan.apply[0].object["spec"]["resources"]["requests"]["storage"],
        "2Gi"
    );
    assert_eq!(
        plan.apply[0].object["spec"]["storageClassName"],
        "standard-ssd"
    );

    observed.model_cache.spec.storage_class_name = Some("fast-nvme".to_owned());
    let own = plan_model_cache(&observed).unwrap();
    assert_eq!(own.apply[0].object["spec"]["storageClassName"], "fast-nvme");
}

#[test]
fn caches_made_by_a_template_cache_label_their_volume_as_such() {
    let mut made = cache("1Gi");
    made.metadata.labels = Some([("template-created".to_owned(), "true".to_owned())].into());
    let plan = plan_model_cache(&observation(made)).unwrap();
    assert_eq!(
        plan.apply[0].object["metadata"]["labels"]["aim.silogen.ai/cache-type"],
        "template-cache"
    );
}

#[test]
fn a_bound_volume_starts_the_download() {
    let mut observed = observation(cache("1Gi"));
    observed.persistent_volume_claims = vec![pvc("Bound")];
    let plan = plan_model_cache(&observed).unwrap();
    assert_eq!(applied(&plan), ["Job/smol-cache-download"]);
    assert_eq!(
        plan.apply[0].object["spec"]["template"]["spec"]["containers"][0]["image"],
        "kserve/storage-initializer:v0.16.0-rc0"
    );
    assert_eq!(status(&plan)["status"], "Progressing");
    assert_eq!(
        condition(&plan, types::STORAGE_READY)["reason"],
        reasons::PVC_BOUND
    );
    assert_eq!(
        condition(&plan, types::PROGRESSING)["reason"],
        reasons::DOWNLOADING
    );
}

#[test]
fn a_pending_volume_starts_the_download_only_when_it_binds_on_first_use() {
    let mut observed = observation(cache("1Gi"));
    observed.persistent_volume_claims = vec![pvc("Pending")];
    assert!(plan_model_cache(&observed).unwrap().apply.is_empty());
    observed.volume_binding_mode = Some("WaitForFirstConsumer".to_owned());
    assert_eq!(
        applied(&plan_model_cache(&observed).unwrap()),
        ["Job/smol-cache-download"]
    );
}

#[test]
fn a_pending_volume_asks_for_its_classs_binding_mode_until_it_is_known() {
    let mut observed = observation(cache("1Gi"));
    let mut claim = pvc("Pending");
    claim.spec = Some(PersistentVolumeClaimSpec {
        storage_class_name: Some("fast".to_owned()),
        ..Default::default()
    });
    observed.persistent_volume_claims = vec![claim];
    let asking = plan_model_cache(&observed).unwrap();
    assert_eq!(
        asking
            .read_binding_mode
            .map(|request| request.storage_class),
        Some("fast".to_owned())
    );
    assert!(
        asking.apply.is_empty(),
        "no download before the mode is known"
    );

    observed.volume_binding_mode = Some("Immediate".to_owned());
    assert_eq!(plan_model_cache(&observed).unwrap().read_binding_mode, None);
    observed.volume_binding_mode = None;
    observed.persistent_volume_claims[0].status = pvc("Bound").status;
    assert_eq!(plan_model_cache(&observed).unwrap().read_binding_mode, None);
}

#[test]
fn a_pending_volume_without_a_class_asks_for_no_binding_mode() {
    let mut observed = observation(cache("1Gi"));
    observed.persistent_volume_claims = vec![pvc("Pending")];
    assert_eq!(plan_model_cache(&observed).unwrap().read_binding_mode, None);
}

#[test]
fn a_finished_download_makes_the_cache_available_and_says_where() {
    let mut observed = observation(cache("1Gi"));
    observed.persistent_volume_claims = vec![pvc("Bound")];
    observed.jobs = vec![download(Some("Complete"))];
    let plan = plan_model_cache(&observed).unwrap();
    assert!(plan.apply.is_empty(), "the volume is never re-applied");
    assert_eq!(status(&plan)["status"], "Available");
    assert_eq!(condition(&plan, types::READY)["reason"], reasons::WARM);
    assert_eq!(events(&plan), ["Normal CacheReady"]);
    assert_eq!(
        plan.events[0].message,
        "Model cache is available at PVC smol-cache"
    );
}

#[test]
fn an_available_cache_stays_available_after_its_job_expires() {
    let mut observed = observation(available(cache("1Gi")));
    observed.persistent_volume_claims = vec![pvc("Bound")];
    let plan = plan_model_cache(&observed).unwrap();
    assert!(plan.apply.is_empty(), "no second download");
    assert_eq!(status(&plan)["status"], "Available");
    assert!(plan.events.is_empty());
}

#[test]
fn a_failed_download_fails_the_cache_without_starting_another_while_the_job_exists() {
    let mut observed = observation(cache("1Gi"));
    observed.persistent_volume_claims = vec![pvc("Bound")];
    observed.jobs = vec![download(Some("Failed"))];
    let plan = plan_model_cache(&observed).unwrap();
    assert!(plan.apply.is_empty());
    assert_eq!(status(&plan)["status"], "Failed");
    assert_eq!(
        condition(&plan, types::FAILURE)["reason"],
        reasons::DOWNLOAD_FAILED
    );
    assert_eq!(
        condition(&plan, types::PROGRESSING)["reason"],
        reasons::RETRY_BACKOFF
    );
    assert_eq!(events(&plan), ["Warning CacheFailed"]);
}

#[test]
fn a_lost_volume_is_reported_as_a_failure() {
    let mut observed = observation(cache("1Gi"));
    observed.persistent_volume_claims = vec![pvc("Lost")];
    let plan = plan_model_cache(&observed).unwrap();
    assert_eq!(
        condition(&plan, types::FAILURE)["reason"],
        reasons::PVC_LOST
    );
    assert_eq!(
        condition(&plan, types::STORAGE_READY)["reason"],
        reasons::PVC_LOST
    );
    assert_eq!(status(&plan)["status"], "Pending");
}

#[test]
fn a_size_that_is_not_a_size_fails_the_cache_without_a_volume() {
    for size in ["lots", "0"] {
        let plan = plan_model_cache(&observation(cache(size))).unwrap();
        assert!(plan.apply.is_empty(), "{size}");
        assert_eq!(status(&plan)["status"], "Failed");
        assert!(status(&plan).get("persistentVolumeClaim").is_none());
        assert_eq!(condition(&plan, types::FAILURE)["reason"], reasons::FAILED);
        assert_eq!(events(&plan), ["Warning ReconcileFailed"]);
    }
}

#[test]
fn a_waiting_cache_is_looked_at_again_soon_and_a_settled_one_is_not() {
    use crate::flows::model_cache::WAITING_RECHECK_SECONDS;
    // Waiting for the volume to bind, then for the download: a late-observed change must not
    // leave the cache behind until the next resync.
    let mut observed = observation(cache("1Gi"));
    observed.persistent_volume_claims = vec![pvc("Pending")];
    let plan = plan_model_cache(&observed).unwrap();
    assert_eq!(status(&plan)["status"], "Progressing");
    assert_eq!(plan.requeue_after_seconds, Some(WAITING_RECHECK_SECONDS));
    observed.persistent_volume_claims = vec![pvc("Bound")];
    observed.jobs = vec![download(None)];
    let plan = plan_model_cache(&observed).unwrap();
    assert_eq!(status(&plan)["status"], "Progressing");
    assert_eq!(plan.requeue_after_seconds, Some(WAITING_RECHECK_SECONDS));

    observed.jobs = vec![download(Some("Complete"))];
    let plan = plan_model_cache(&observed).unwrap();
    assert_eq!(status(&plan)["status"], "Available");
    assert_eq!(plan.requeue_after_seconds, None);
    observed.jobs = vec![download(Some("Failed"))];
    let plan = plan_model_cache(&observed).unwrap();
    assert_eq!(status(&plan)["status"], "Failed");
    assert_eq!(plan.requeue_after_seconds, None);
}
