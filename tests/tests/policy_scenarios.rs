//! Custom policies in the running operator: an AIMPolicy read from a ConfigMap is verified,
//! compiled, tested against its fixtures and activated; a runtime config selecting it changes
//! the plans of its services without a restart; a refused new version keeps the last good one;
//! a runtime config naming a policy that is not active leaves its services untouched.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{OPERATOR_NAMESPACE, condition, create, model_and_template, namespace};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use aim_api::v1alpha1::{AIMPolicy, AIMService};
use aim_tests::fixtures::{self, inference_service_api};
use aim_tests::registry::TestRegistry;
use aim_tests::{TestNamespace, wait_for};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(90);

/// The example policy of `policies/rust-team-routes`, built once per test binary.
fn team_routes_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("team-routes.wasm");
        let status = Command::new("bash")
            .arg(root.join("scripts/build-rust-policy.sh"))
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success(), "building the example policy failed");
        std::fs::read(out).unwrap()
    })
}

/// Creates the operator's namespace unless it exists (tests share it).
async fn operator_namespace(ns: &TestNamespace) {
    let namespaces: Api<Namespace> = Api::all(ns.client());
    let wanted: Namespace =
        serde_json::from_value(json!({"metadata": {"name": OPERATOR_NAMESPACE}})).unwrap();
    let _ = namespaces.create(&PostParams::default(), &wanted).await;
}

/// Puts `wasm` into a ConfigMap of the operator's namespace.
async fn upload(ns: &TestNamespace, name: &str, wasm: &[u8]) {
    operator_namespace(ns).await;
    fixtures::upload_policy(&ns.client(), OPERATOR_NAMESPACE, name, wasm)
        .await
        .unwrap();
}

/// Creates the AIMPolicy `name` with `spec`.
async fn create_policy(ns: &TestNamespace, name: &str, spec: serde_json::Value) -> Api<AIMPolicy> {
    fixtures::create_policy(&ns.client(), name, spec)
        .await
        .unwrap()
}

fn policy_condition(policy: &AIMPolicy, type_: &str) -> Option<(String, String)> {
    let c = policy
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)?;
    Some((c.status.clone(), c.reason.clone()))
}

fn policy_state(policy: &AIMPolicy) -> Option<&str> {
    policy.status.as_ref()?.status.as_deref()
}

/// A Ready model and template, a routing runtime config, and a team-labelled service.
async fn routed_service(ns: &TestNamespace) {
    model_and_template(ns).await;
    create(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig", "metadata": {"name": "default"},
        "spec": {"routing": {"enabled": true, "gatewayRef": {"name": "gw", "namespace": "gateways"}}}
    }))
    .await;
    create(
        ns,
        json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
            "metadata": {"name": "chat", "labels": {"aim.example.com/team": "search"}},
            "spec": {"model": {"ref": "llama"}}
        }),
    )
    .await;
}

async fn select_policy(ns: &TestNamespace, policy: &str) {
    let configs = fixtures::aim_api(ns, "AIMRuntimeConfig");
    configs
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"policyName": policy}})),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn selecting_an_aim_policy_in_the_runtime_config_changes_the_route_without_a_restart() {
    let ns = namespace().await;
    let name = format!("{}-team-routes", ns.name());
    let wasm = team_routes_wasm();
    upload(&ns, &name, wasm).await;
    let policies = create_policy(
        &ns,
        &name,
        json!({"source": {"configMap": {"name": name}}, "digest": fixtures::policy_digest(wasm)}),
    )
    .await;
    let active = wait_for(&policies, &name, TIMEOUT, |p| {
        policy_state(p) == Some("Active")
    })
    .await
    .unwrap();
    for step in ["Fetched", "DigestVerified", "Compiled", "Active"] {
        assert_eq!(policy_condition(&active, step).unwrap().0, "True", "{step}");
    }
    assert_eq!(
        policy_condition(&active, "FixturesPassed").unwrap().1,
        "NoFixtures"
    );
    let status = active.status.unwrap();
    assert_eq!(
        status.active_digest.as_deref(),
        Some(fixtures::policy_digest(wasm).as_str())
    );
    assert!(
        status
            .implements
            .contains(&"aim:policy/paths@0.1.0".to_owned())
    );

    routed_service(&ns).await;
    let routes = fixtures::http_route_api(ns.client(), ns.name());
    let before = wait_for(&routes, "chat-route", TIMEOUT, |_| true)
        .await
        .unwrap();
    assert_eq!(
        fixtures::http_route_path(&before),
        format!("/{}/chat", ns.name())
    );

    select_policy(&ns, &name).await;
    let team_path = format!("/teams/search/{}/chat", ns.name());
    let after = wait_for(&routes, "chat-route", TIMEOUT, |r| {
        fixtures::http_route_path(r) == team_path
    })
    .await
    .unwrap();
    assert_eq!(
        after.metadata.annotations.unwrap()["aim.example.com/team"],
        "search"
    );
    let services: Api<AIMService> = ns.api();
    wait_for(&services, "chat", TIMEOUT, |s| {
        s.status
            .as_ref()
            .and_then(|s| s.routing.as_ref())
            .and_then(|r| r.path.as_deref())
            == Some(team_path.as_str())
    })
    .await
    .unwrap();
    policies
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_refused_new_version_keeps_the_last_good_one_active() {
    let ns = namespace().await;
    let name = format!("{}-pinned", ns.name());
    let wasm = team_routes_wasm();
    upload(&ns, &name, wasm).await;
    let policies = create_policy(
        &ns,
        &name,
        json!({"source": {"configMap": {"name": name}}, "digest": fixtures::policy_digest(wasm)}),
    )
    .await;
    wait_for(&policies, &name, TIMEOUT, |p| {
        policy_state(p) == Some("Active")
    })
    .await
    .unwrap();
    // New bytes in the ConfigMap that the pinned digest does not match.
    let mut tampered = wasm.to_vec();
    tampered.extend_from_slice(b"\0");
    upload(&ns, &name, &tampered).await;
    let degraded = wait_for(&policies, &name, TIMEOUT, |p| {
        policy_state(p) == Some("Degraded")
    })
    .await
    .unwrap();
    assert_eq!(
        policy_condition(&degraded, "DigestVerified").unwrap(),
        ("False".to_owned(), "PolicyDigestMismatch".to_owned())
    );
    assert_eq!(
        policy_condition(&degraded, "Active").unwrap(),
        ("True".to_owned(), "LastGoodVersionActive".to_owned())
    );
    assert_eq!(
        degraded.status.unwrap().active_digest.as_deref(),
        Some(fixtures::policy_digest(wasm).as_str())
    );
    policies
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_policy_failing_its_fixtures_is_not_activated() {
    let ns = namespace().await;
    let name = format!("{}-untested", ns.name());
    let wasm = team_routes_wasm();
    upload(&ns, &name, wasm).await;
    let fixture_dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/rust-team-routes/fixtures");
    let input = std::fs::read_to_string(fixture_dir.join("team-routes.yaml")).unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(ns.client(), OPERATOR_NAMESPACE);
    let fixtures_map: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": format!("{name}-fixtures")},
        "data": {"team-routes.yaml": input, "team-routes.expected.yaml": "# not what it renders\n"}
    }))
    .unwrap();
    maps.create(&PostParams::default(), &fixtures_map)
        .await
        .unwrap();
    let policies = create_policy(
        &ns,
        &name,
        json!({
            "source": {"configMap": {"name": name}}, "digest": fixtures::policy_digest(wasm),
            "fixtures": {"configMapName": format!("{name}-fixtures")}
        }),
    )
    .await;
    let failed = wait_for(&policies, &name, TIMEOUT, |p| {
        policy_condition(p, "FixturesPassed").is_some_and(|c| c.0 == "False")
    })
    .await
    .unwrap();
    assert_eq!(policy_state(&failed), Some("Failed"));
    assert_eq!(
        policy_condition(&failed, "FixturesPassed").unwrap().1,
        "FixturesFailed"
    );
    assert!(failed.status.unwrap().active_digest.is_none());
    policies
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_policy_published_to_a_private_oci_registry_is_pulled_and_activated() {
    let ns = namespace().await;
    let name = format!("{}-from-registry", ns.name());
    let registry = TestRegistry::start_with_auth("platform", "s3cret")
        .await
        .unwrap();
    let wasm = team_routes_wasm();
    registry
        .push_component("policies/team-routes", "0.1.0", wasm)
        .await
        .unwrap();
    operator_namespace(&ns).await;
    let secrets: Api<Secret> = Api::namespaced(ns.client(), OPERATOR_NAMESPACE);
    secrets
        .create(
            &PostParams::default(),
            &registry.pull_secret(&name).unwrap(),
        )
        .await
        .unwrap();
    let policies = create_policy(
        &ns,
        &name,
        json!({
            "source": {"image": {
                "reference": registry.image("policies/team-routes", "0.1.0"),
                "pullSecretName": name
            }},
            "digest": fixtures::policy_digest(wasm)
        }),
    )
    .await;
    let active = wait_for(&policies, &name, TIMEOUT, |p| {
        policy_state(p) == Some("Active")
    })
    .await
    .unwrap();
    assert_eq!(
        active.status.unwrap().active_digest.as_deref(),
        Some(fixtures::policy_digest(wasm).as_str())
    );
    policies
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_runtime_config_naming_an_inactive_policy_leaves_the_service_untouched() {
    let ns = namespace().await;
    routed_service(&ns).await;
    let isvcs = inference_service_api(ns.client(), ns.name());
    let routes = fixtures::http_route_api(ns.client(), ns.name());
    wait_for(&isvcs, "chat", TIMEOUT, |_| true).await.unwrap();
    wait_for(&routes, "chat-route", TIMEOUT, |_| true)
        .await
        .unwrap();
    let services: Api<AIMService> = ns.api();
    // Settled: the status of the objects above is written.
    let before = wait_for(&services, "chat", TIMEOUT, |s| {
        s.status
            .as_ref()
            .is_some_and(|st| st.resolved_template.is_some())
    })
    .await
    .unwrap();
    let isvc = isvcs.get("chat").await.unwrap();
    let route = routes.get("chat-route").await.unwrap();

    select_policy(&ns, &format!("{}-missing", ns.name())).await;
    let after = wait_for(&services, "chat", TIMEOUT, |s| {
        condition(s, "Failure").is_some_and(|c| c.1 == "PolicyUnavailable")
    })
    .await
    .unwrap();
    // Its children are not written to (same object, same version) ...
    for (api, name, before) in [(&isvcs, "chat", &isvc), (&routes, "chat-route", &route)] {
        let now = api.get(name).await.unwrap();
        assert_eq!(
            (&now.metadata.uid, &now.metadata.resource_version),
            (&before.metadata.uid, &before.metadata.resource_version),
            "{name} changed"
        );
    }
    // ... its spec is as it was, and its status keeps everything but Ready and Failure.
    assert_eq!(after.spec, before.spec);
    let (before, after) = (before.status.unwrap(), after.status.unwrap());
    assert_eq!(after.status, before.status);
    assert_eq!(after.resolved_template, before.resolved_template);
    assert_eq!(after.routing, before.routing);
    let kept = |conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]| {
        conditions
            .iter()
            .filter(|c| c.type_ != "Ready" && c.type_ != "Failure")
            .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(kept(&after.conditions), kept(&before.conditions));
}

/// An AIMPolicy decides what the operator creates; only the namespaces its `namespaceSelector`
/// selects may choose it, and a namespace outside it is told so and changes nothing.
#[tokio::test]
async fn only_the_namespaces_an_aim_policy_selects_may_choose_it() {
    let ns = namespace().await;
    let name = format!("{}-selective", ns.name());
    let wasm = team_routes_wasm();
    upload(&ns, &name, wasm).await;
    let label = "aim.example.com/policy-tenant";
    let policies = create_policy(
        &ns,
        &name,
        json!({"source": {"configMap": {"name": name}}, "digest": fixtures::policy_digest(wasm),
               "namespaceSelector": {"matchLabels": {label: ns.name()}}}),
    )
    .await;
    wait_for(&policies, &name, TIMEOUT, |p| {
        policy_state(p) == Some("Active")
    })
    .await
    .unwrap();
    routed_service(&ns).await;
    let routes = fixtures::http_route_api(ns.client(), ns.name());
    let default_path = format!("/{}/chat", ns.name());
    wait_for(&routes, "chat-route", TIMEOUT, |r| {
        fixtures::http_route_path(r) == default_path
    })
    .await
    .unwrap();

    select_policy(&ns, &name).await;
    let services: Api<AIMService> = ns.api();
    wait_for(&services, "chat", TIMEOUT, |s| {
        condition(s, "Failure").is_some_and(|c| c.1 == "PolicyNotAllowed")
    })
    .await
    .unwrap();
    let route = routes.get("chat-route").await.unwrap();
    assert_eq!(fixtures::http_route_path(&route), default_path);

    let namespaces: Api<Namespace> = Api::all(ns.client());
    namespaces
        .patch(
            ns.name(),
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {label: ns.name()}}})),
        )
        .await
        .unwrap();
    let team_path = format!("/teams/search/{}/chat", ns.name());
    wait_for(&routes, "chat-route", TIMEOUT, |r| {
        fixtures::http_route_path(r) == team_path
    })
    .await
    .unwrap();
    policies
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
}
