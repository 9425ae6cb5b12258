//! Scenarios of the template cache flow.

use aim_api::conditions::{finalizers, reasons, types};
use aim_api::policy::observation::TemplateCacheObservation;
use aim_api::policy::plan::Owner;
use aim_api::v1alpha1::{
    AIMCacheStatus, AIMModelCache, AIMModelCacheSpec, AIMModelCacheStatus, AIMModelSource,
    AIMServiceTemplate, AIMServiceTemplateSpec, AIMServiceTemplateStatus, AIMTemplateCache,
    AIMTemplateCacheSpec,
};
use k8s_openapi::api::core::v1::EnvVar;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;
use crate::flows::plan_template_cache;

fn source(name: &str) -> AIMModelSource {
    AIMModelSource {
        name: Some(name.to_owned()),
        source_uri: format!("hf://{name}"),
        size: Quantity("512Mi".to_owned()),
    }
}

fn template_with_sources(sources: Vec<AIMModelSource>) -> AIMServiceTemplate {
    let mut template = AIMServiceTemplate::new("tpl", AIMServiceTemplateSpec::default());
    template.status = Some(AIMServiceTemplateStatus {
        model_sources: sources,
        ..Default::default()
    });
    template
}

fn template_cache(storage_class: Option<&str>) -> AIMTemplateCache {
    let mut cache = AIMTemplateCache::new(
        "tpl",
        AIMTemplateCacheSpec {
            template_ref: "tpl".to_owned(),
            storage_class_name: storage_class.map(str::to_owned),
            env: vec![EnvVar {
                name: "HF_TOKEN".to_owned(),
                value: Some("t".to_owned()),
                value_from: None,
            }],
            runtime_config_name: "default".to_owned(),
            ..Default::default()
        },
    );
    cache.metadata.namespace = Some("ml".to_owned());
    cache.metadata.generation = Some(1);
    cache
}

fn model_cache(
    name: &str,
    uri: &str,
    class: Option<&str>,
    status: AIMCacheStatus,
    owner_label: Option<&str>,
) -> AIMModelCache {
    let mut cache = AIMModelCache::new(
        name,
        AIMModelCacheSpec {
            source_uri: uri.to_owned(),
            storage_class_name: class.map(str::to_owned),
            ..Default::default()
        },
    );
    cache.metadata.namespace = Some("ml".to_owned());
    cache.metadata.uid = Some(format!("{name}-uid"));
    cache.metadata.labels = owner_label.map(|tc| {
        [(
            aim_api::conditions::labels::TEMPLATE_CACHE.to_owned(),
            tc.to_owned(),
        )]
        .into()
    });
    cache.status = Some(AIMModelCacheStatus {
        status,
        persistent_volume_claim: Some(format!("{name}-cache")),
        ..Default::default()
    });
    cache
}

fn observation(
    cache: AIMTemplateCache,
    sources: Vec<AIMModelSource>,
    model_caches: Vec<AIMModelCache>,
) -> TemplateCacheObservation {
    TemplateCacheObservation {
        api_version: aim_api::policy::OBSERVATION_API_VERSION.to_owned(),
        template_cache: cache,
        template: Some(template_with_sources(sources)),
        cluster_template: None,
        model_caches,
    }
}

#[test]
fn a_template_cache_waits_for_its_template_and_keeps_its_finalizer() {
    let mut observed = observation(template_cache(None), Vec::new(), Vec::new());
    observed.template = None;
    let plan = plan_template_cache(&observed).unwrap();
    assert_eq!(plan.finalizers, [finalizers::TEMPLATE_CACHE_CLEANUP]);
    assert_eq!(status(&plan)["status"], "Pending");
    let waiting = condition(&plan, types::TEMPLATE_NOT_FOUND);
    assert_eq!(waiting["status"], "True");
    assert_eq!(waiting["reason"], reasons::AWAITING_TEMPLATE);
    assert_eq!(
        waiting["message"],
        "Waiting for template \"tpl\" to be created"
    );
}

#[test]
fn a_model_cache_is_created_for_each_source_without_one() {
    let plan = plan_template_cache(&observation(
        template_cache(Some("fast")),
        vec![source("HuggingFaceTB/SmolLM2-135M")],
        Vec::new(),
    ))
    .unwrap();
    assert_eq!(applied(&plan), ["AIMModelCache/huggingfacetb-smollm2-135m"]);
    assert_eq!(
        plan.apply[0].owner,
        Owner::None,
        "model caches outlive the template cache"
    );
    let cache = &plan.apply[0].object;
    assert_eq!(cache["metadata"]["namespace"], "ml");
    assert_eq!(cache["metadata"]["labels"]["template-created"], "true");
    assert_eq!(
        cache["metadata"]["labels"]["aim.silogen.ai/template-cache"],
        "tpl"
    );
    assert_eq!(
        cache["metadata"]["labels"]["aim.silogen.ai/source-model"],
        "HuggingFaceTB_SmolLM2-135M"
    );
    assert_eq!(
        cache["spec"]["sourceUri"],
        "hf://HuggingFaceTB/SmolLM2-135M"
    );
    assert_eq!(cache["spec"]["size"], "512Mi");
    assert_eq!(cache["spec"]["storageClassName"], "fast");
    assert_eq!(cache["spec"]["env"][0]["name"], "HF_TOKEN");
    assert_eq!(cache["spec"]["runtimeConfigName"], "default");
    assert_eq!(
        status(&plan)["status"],
        "Pending",
        "a cache still to be created is not Available"
    );
    assert_eq!(status(&plan)["resolvedTemplateKind"], "AIMServiceTemplate");
}

#[test]
fn the_best_existing_cache_of_the_same_source_and_storage_class_is_reused() {
    let caches = vec![
        model_cache(
            "failed-copy",
            "hf://m",
            Some("fast"),
            AIMCacheStatus::Failed,
            None,
        ),
        model_cache(
            "good-copy",
            "hf://m",
            Some("fast"),
            AIMCacheStatus::Available,
            None,
        ),
        model_cache(
            "other-class",
            "hf://m",
            Some("slow"),
            AIMCacheStatus::Available,
            None,
        ),
        model_cache(
            "other-model",
            "hf://n",
            Some("fast"),
            AIMCacheStatus::Available,
            None,
        ),
    ];
    let plan = plan_template_cache(&observation(
        template_cache(Some("fast")),
        vec![source("m")],
        caches,
    ))
    .unwrap();
    assert!(plan.apply.is_empty());
    let resolved = &status(&plan)["modelCaches"];
    assert_eq!(resolved.as_object().unwrap().len(), 1);
    assert_eq!(resolved["good-copy"]["model"], "m");
    assert_eq!(resolved["good-copy"]["uid"], "good-copy-uid");
    assert_eq!(
        resolved["good-copy"]["persistentVolumeClaim"],
        "good-copy-cache"
    );
    assert_eq!(status(&plan)["status"], "Available");
    assert_eq!(condition(&plan, types::READY)["reason"], reasons::WARM);
}

#[test]
fn without_a_storage_class_any_cache_of_the_source_will_do() {
    let caches = vec![model_cache(
        "slow-copy",
        "hf://m",
        Some("slow"),
        AIMCacheStatus::Progressing,
        None,
    )];
    let plan = plan_template_cache(&observation(
        template_cache(None),
        vec![source("m")],
        caches,
    ))
    .unwrap();
    assert!(plan.apply.is_empty());
    assert_eq!(status(&plan)["status"], "Progressing");
}

#[test]
fn the_template_cache_reports_the_worst_of_its_model_caches() {
    let caches = vec![
        model_cache("a", "hf://a", None, AIMCacheStatus::Available, None),
        model_cache("b", "hf://b", None, AIMCacheStatus::Failed, None),
    ];
    let plan = plan_template_cache(&observation(
        template_cache(None),
        vec![source("a"), source("b")],
        caches,
    ))
    .unwrap();
    assert_eq!(status(&plan)["status"], "Failed");
    assert_eq!(condition(&plan, types::FAILURE)["status"], "True");
    assert!(
        condition(&plan, types::FAILURE)["message"]
            .as_str()
            .unwrap()
            .contains('b')
    );
}

#[test]
fn deleting_a_template_cache_removes_its_unfinished_model_caches_and_keeps_available_ones() {
    let mut deleting = template_cache(None);
    deleting.metadata.deletion_timestamp = Some(Time(TRANSITION_TIME.parse().unwrap()));
    let caches = vec![
        model_cache(
            "done",
            "hf://a",
            None,
            AIMCacheStatus::Available,
            Some("tpl"),
        ),
        model_cache(
            "half",
            "hf://b",
            None,
            AIMCacheStatus::Progressing,
            Some("tpl"),
        ),
        model_cache(
            "broken",
            "hf://c",
            None,
            AIMCacheStatus::Failed,
            Some("tpl"),
        ),
        model_cache(
            "someone-elses",
            "hf://d",
            None,
            AIMCacheStatus::Failed,
            Some("other"),
        ),
    ];
    let plan = plan_template_cache(&observation(deleting, Vec::new(), caches)).unwrap();
    let deleted: Vec<&str> = plan.delete.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(deleted, ["half", "broken"]);
    assert!(
        plan.delete
            .iter()
            .all(|r| r.kind == "AIMModelCache" && r.namespace.as_deref() == Some("ml"))
    );
    assert_eq!(plan.delete[0].api_version, "aim.silogen.ai/v1alpha1");
    assert!(plan.finalizers.is_empty(), "the finalizer is released");
    assert!(plan.apply.is_empty());
}

#[test]
fn a_template_cache_waiting_for_its_model_caches_is_looked_at_again_soon() {
    use crate::flows::model_cache::WAITING_RECHECK_SECONDS;
    let plan_with = |status: AIMCacheStatus| {
        plan_template_cache(&observation(
            template_cache(None),
            vec![source("a")],
            vec![model_cache("a", "hf://a", None, status, None)],
        ))
        .unwrap()
    };
    let waiting = plan_with(AIMCacheStatus::Progressing);
    assert_eq!(status(&waiting)["status"], "Progressing");
    assert_eq!(waiting.requeue_after_seconds, Some(WAITING_RECHECK_SECONDS));
    for settled in [AIMCacheStatus::Available, AIMCacheStatus::Failed] {
        assert_eq!(plan_with(settled).requeue_after_seconds, None);
    }
}
