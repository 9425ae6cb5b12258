//! The AIM CRDs on a real apiserver: every one is served, every guide example is accepted, and the
//! schema and CEL rules reject bad objects with the CRD's own messages.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use aim_tests::{TestEnv, TestNamespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};

async fn namespace() -> TestNamespace {
    let env = TestEnv::shared().await.expect("test environment");
    TestNamespace::create(env).await.expect("test namespace")
}

fn api(ns: &TestNamespace, kind: &str, namespaced: bool) -> Api<DynamicObject> {
    let resource =
        ApiResource::from_gvk(&GroupVersionKind::gvk("aim.silogen.ai", "v1alpha1", kind));
    if namespaced {
        Api::namespaced_with(ns.client(), ns.name(), &resource)
    } else {
        Api::all_with(ns.client(), &resource)
    }
}

fn documents(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| serde_json::to_value(serde_yaml::Value::deserialize(doc).unwrap()).unwrap())
        .collect()
}

/// Server-side dry-run create, so examples sharing a name don't collide.
async fn dry_run(ns: &TestNamespace, mut doc: Value) -> Result<(), kube::Error> {
    let kind = doc["kind"].as_str().unwrap().to_owned();
    let namespaced = !kind.starts_with("AIMCluster");
    if namespaced {
        doc["metadata"]["namespace"] = json!(ns.name());
    }
    let object: DynamicObject = serde_json::from_value(doc).unwrap();
    let params = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    api(ns, &kind, namespaced)
        .create(&params, &object)
        .await
        .map(|_| ())
}

fn rejection(result: Result<(), kube::Error>) -> String {
    match result {
        Err(kube::Error::Api(status)) => status.message,
        other => panic!("expected the apiserver to reject it, got {other:?}"),
    }
}

#[tokio::test]
async fn every_aim_crd_is_established() {
    let ns = namespace().await;
    let crds: Api<CustomResourceDefinition> = Api::all(ns.client());
    for crd in aim_api::crds::all() {
        let name = crd.metadata.name.unwrap();
        let served = crds
            .get(&name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let conditions = served.status.and_then(|s| s.conditions).unwrap_or_default();
        assert!(
            conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True"),
            "{name} not Established"
        );
    }
}

#[tokio::test]
async fn every_guide_example_is_accepted() {
    let ns = namespace().await;
    let services = documents(include_str!("../../api/tests/guide-examples/services.yaml"));
    let configs = documents(include_str!(
        "../../api/tests/guide-examples/runtime-configs.yaml"
    ));
    let mut checked = 0;
    for doc in services.into_iter().chain(configs) {
        if doc["apiVersion"] != "aim.silogen.ai/v1alpha1" {
            continue;
        }
        let shown = doc.to_string();
        dry_run(&ns, doc)
            .await
            .unwrap_or_else(|e| panic!("rejected {shown}: {e}"));
        checked += 1;
    }
    assert_eq!(checked, 25);
}

#[tokio::test]
async fn a_service_with_both_ref_and_image_is_rejected_with_the_crd_message() {
    let ns = namespace().await;
    let service = json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "both"},
        "spec": {"model": {"ref": "a", "image": "b"}}
    });
    let message = rejection(dry_run(&ns, service).await);
    assert!(
        message.contains("exactly one of ref or image must be specified"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unknown_precision_is_rejected() {
    let ns = namespace().await;
    let service = json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "bad-precision"},
        "spec": {"model": {"image": "b"}, "overrides": {"precision": "fp64"}}
    });
    let message = rejection(dry_run(&ns, service).await);
    assert!(
        message.contains("spec.overrides.precision") && message.contains("fp64"),
        "{message}"
    );
}

#[tokio::test]
async fn changing_an_immutable_override_is_rejected() {
    let ns = namespace().await;
    let services = api(&ns, "AIMService", true);
    let service: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "immutable"},
        "spec": {"model": {"image": "b"}, "overrides": {"metric": "latency"}}
    }))
    .unwrap();
    services
        .create(&PostParams::default(), &service)
        .await
        .unwrap();
    let patch = json!({"spec": {"overrides": {"metric": "throughput"}}});
    let result = services
        .patch("immutable", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ());
    let message = rejection(result);
    assert!(message.contains("metric is immutable"), "{message}");
    let unchanged = json!({"spec": {"replicas": 2}});
    services
        .patch(
            "immutable",
            &PatchParams::default(),
            &Patch::Merge(&unchanged),
        )
        .await
        .expect("mutable fields change");
}

#[tokio::test]
async fn a_model_cache_source_must_be_hf_or_s3_and_is_immutable() {
    let ns = namespace().await;
    let caches = api(&ns, "AIMModelCache", true);
    let bad = json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModelCache", "metadata": {"name": "bad"},
        "spec": {"sourceUri": "http://example/x", "size": "1Gi"}
    });
    assert!(rejection(dry_run(&ns, bad).await).contains("spec.sourceUri"));
    let cache: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModelCache", "metadata": {"name": "smol"},
        "spec": {"sourceUri": "hf://HuggingFaceTB/SmolLM2-135M", "size": "512Mi"}
    }))
    .unwrap();
    caches.create(&PostParams::default(), &cache).await.unwrap();
    let patch = json!({"spec": {"sourceUri": "hf://other/model"}});
    let result = caches
        .patch("smol", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ());
    assert!(rejection(result).contains("sourceUri is immutable"));
}

#[tokio::test]
async fn a_template_model_name_cannot_change() {
    let ns = namespace().await;
    let templates = api(&ns, "AIMClusterServiceTemplate", false);
    let name = ns.unique("tpl");
    let template: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMClusterServiceTemplate", "metadata": {"name": name},
        "spec": {"modelName": "llama", "metric": "latency", "gpuSelector": {"count": 1, "model": "MI300X"}}
    }))
    .unwrap();
    templates
        .create(&PostParams::default(), &template)
        .await
        .unwrap();
    let patch = json!({"spec": {"modelName": "qwen"}});
    let result = templates
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ());
    assert!(rejection(result).contains("model name is immutable"));
    let gpu = json!({"spec": {"gpuSelector": {"count": 2, "model": "MI300X"}}});
    let result = templates
        .patch(&name, &PatchParams::default(), &Patch::Merge(&gpu))
        .await
        .map(|_| ());
    assert!(rejection(result).contains("gpuSelector is immutable"));
    templates.delete(&name, &Default::default()).await.unwrap();
}

/// Every AIM CRD, created (server-side dry run) under a group of its own so it does not clash with
/// the installed one: the apiserver answers without a single `Warning` header. It warns about
/// schema it does not fully understand, such as a `format` Kubernetes does not know.
#[tokio::test]
async fn no_aim_crd_makes_the_apiserver_warn() {
    let ns = namespace().await;
    let client = ns.client();
    for (index, mut crd) in aim_api::crds::all().into_iter().enumerate() {
        let name = crd.metadata.name.clone().unwrap();
        let group = format!("warnings-{index}.{}", ns.name());
        crd.metadata.name = Some(format!("{}.{group}", crd.spec.names.plural));
        crd.spec.group = group;
        let request = http::Request::post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions?dryRun=All&fieldValidation=Strict",
        )
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(kube::client::Body::from(serde_json::to_vec(&crd).unwrap()))
        .unwrap();
        let response = client.send(request).await.unwrap();
        let status = response.status();
        let warnings: Vec<String> = response
            .headers()
            .get_all(http::header::WARNING)
            .iter()
            .map(|value| value.to_str().unwrap_or_default().to_owned())
            .collect();
        assert!(
            status.is_success(),
            "{name}: the apiserver answered {status}"
        );
        assert!(
            warnings.is_empty(),
            "{name}: the apiserver warns {warnings:?}"
        );
    }
}

#[tokio::test]
async fn a_policy_name_longer_than_an_object_name_is_refused() {
    let ns = namespace().await;
    let config = |policy_name: String| {
        json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig",
            "metadata": {"name": "long-policy-name"}, "spec": {"policyName": policy_name}
        })
    };
    dry_run(&ns, config("p".repeat(253))).await.unwrap();
    let message = rejection(dry_run(&ns, config("p".repeat(254))).await);
    assert!(message.contains("policyName"), "{message}");
}
