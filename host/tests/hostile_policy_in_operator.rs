//! A hostile custom policy in the running operator: the `aim-engine run` binary loads an
//! AIMPolicy that loops, sleeps, waits on a pollable forever, exhausts memory, traps, answers with
//! megabytes, plans a ClusterRole, an object in another namespace, a privileged or host-reaching
//! pod, a pod running as the operator's own ServiceAccount, a field the host cannot check, or an
//! owner it never observed, depending on the service's name. Each service using it gets the typed
//! reason on its `Failure` condition and a Warning Event; a service next to them on the default
//! policy carries on; the operator counts every failure in its metrics and never stops. A plan
//! deleting what its subject does not control deletes nothing; a plan leaving out the host's labels
//! gets them anyway. A policy that sleeps while it is loaded stalls neither the policy controller,
//! nor the operator's start-up after a restart, nor its shutdown.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use aim_api::v1alpha1::{AIMPolicy, AIMService};
use aim_tests::fixtures::{self, inference_service_api};
use aim_tests::status::failure_reason;
use aim_tests::{TestEnv, TestNamespace, wait_for};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use serde_json::json;
use support::operator::Operator;
use support::{hostile_policy_wasm, sleepy_info_policy_wasm};

const TIMEOUT: Duration = Duration::from_secs(90);

/// Each behaviour of the hostile policy (chosen by service name) and the reason it must produce.
const BEHAVIOURS: [(&str, &str); 13] = [
    ("loop", "PolicyTimeout"),
    ("sleep", "PolicyTimeout"),
    ("wait-forever", "PolicyTimeout"),
    ("bomb", "PolicyMemoryExceeded"),
    ("trap", "PolicyTrapped"),
    ("huge", "PolicyOutputInvalid"),
    ("clusterrole", "PolicyOutputInvalid"),
    ("other-namespace", "PolicyOutputInvalid"),
    ("privileged-job", "PolicyOutputInvalid"),
    ("host-path", "PolicyOutputInvalid"),
    ("operator-account", "PolicyOutputInvalid"),
    ("transformer", "PolicyOutputInvalid"),
    ("foreign-owner", "PolicyOutputInvalid"),
];

/// Behaviours whose plans the host carries out, minus what it refuses.
const TOLERATED: [&str; 2] = ["delete-foreign", "unlabelled"];

#[tokio::test]
async fn a_hostile_policy_fails_only_its_own_services_with_typed_reasons() {
    let env = TestEnv::shared().await.unwrap();
    let ns = TestNamespace::create(env).await.unwrap();
    let operator = Operator::ready_in(ns, env.kubeconfig()).await;
    let ns = &operator.ns;

    // The hostile policy, active and selected by the `hostile` runtime config only.
    let (policies, policy_name) = hostile_config(
        &operator,
        "hostile",
        json!({"deadlineMilliseconds": 100, "memoryMib": 32}),
    )
    .await;

    // A bystander on the default policy, with what it needs to create its InferenceService.
    fixtures::create_model_and_template(ns).await.unwrap();
    // A claim the hostile plan deletes although nothing of the operator's made it.
    let claims: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> = ns.api();
    let bystander_data = serde_json::from_value(json!({
        "metadata": {"name": "bystander-data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    }))
    .unwrap();
    claims
        .create(&kube::api::PostParams::default(), &bystander_data)
        .await
        .unwrap();
    let services: Api<AIMService> = ns.api();
    let names = BEHAVIOURS.iter().map(|(name, _)| *name).chain(TOLERATED);
    for service in names {
        fixtures::create_aim(ns, json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": service},
            "spec": {"model": {"ref": "llama"}, "runtimeConfigName": "hostile"}
        }))
        .await
        .unwrap();
    }
    fixtures::create_aim(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "bystander"},
        "spec": {"model": {"ref": "llama"}}
    }))
    .await
    .unwrap();

    for (service, reason) in BEHAVIOURS {
        let failed = wait_for(&services, service, TIMEOUT, |s| {
            failure_reason(s).as_deref() == Some(reason)
        })
        .await
        .unwrap_or_else(|e| panic!("{service}: {e:#}; log:\n{}", operator.log()));
        let ready = failed.status.unwrap().conditions;
        assert!(
            ready
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "False"),
            "{service}"
        );
    }
    // Nothing the hostile plans asked for was created.
    let roles: Api<k8s_openapi::api::rbac::v1::ClusterRole> = Api::all(ns.client());
    assert!(roles.get_opt("escalate").await.unwrap().is_none());
    let stolen: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> =
        Api::namespaced(ns.client(), "kube-system");
    assert!(stolen.get_opt("stolen").await.unwrap().is_none());
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = ns.api();
    for job in ["escalate", "borrow"] {
        assert!(jobs.get_opt(job).await.unwrap().is_none(), "{job}");
    }
    assert!(
        isvcs_named(ns, &["host-path", "transformer"])
            .await
            .is_empty()
    );
    assert!(claims.get_opt("foreign-owner").await.unwrap().is_none());

    // The claim it may apply carries the labels the operator's caches select on, whatever the
    // plan left out.
    let unlabelled = wait_for(&claims, "unlabelled-data", TIMEOUT, |_| true)
        .await
        .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    let labels = unlabelled.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("aim-controller")
    );
    assert_eq!(
        labels.get("aim.silogen.ai/owner-kind").map(String::as_str),
        Some("AIMService")
    );

    // The bystander went on to its InferenceService.
    let isvcs = inference_service_api(ns.client(), ns.name());
    wait_for(&isvcs, "bystander", TIMEOUT, |_| true)
        .await
        .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));

    // A Warning Event per reason, and every failure counted for the policy.
    let events: Api<Event> = ns.api();
    let refused = |e: &Event| {
        e.reason.as_deref() == Some("DeletionRefused")
            && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("delete-foreign")
    };
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while !events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .any(refused)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no DeletionRefused Event; log:\n{}",
            operator.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        claims.get_opt("bystander-data").await.unwrap().is_some(),
        "a claim the service does not control is not deleted"
    );
    let warnings = events.list(&ListParams::default()).await.unwrap().items;
    for (service, reason) in BEHAVIOURS {
        assert!(
            warnings.iter().any(|e| e.reason.as_deref() == Some(reason)
                && e.type_.as_deref() == Some("Warning")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(service)),
            "no {reason} Warning Event for {service}"
        );
    }
    let (_, metrics) = operator.get("/metrics").await.unwrap();
    for reason in [
        "PolicyTimeout",
        "PolicyMemoryExceeded",
        "PolicyTrapped",
        "PolicyOutputInvalid",
    ] {
        let line = format!(
            r#"aim_policy_evaluations_total{{policy="{policy_name}",flow="service",result="{reason}"}}"#
        );
        assert!(metrics.contains(&line), "missing {line} in:\n{metrics}");
    }

    operator.delete_policy(&policies, &policy_name).await;
}

/// The condition `type_` of an AIMPolicy: its status and reason.
fn policy_condition(
    policy: &aim_api::v1alpha1::AIMPolicy,
    type_: &str,
) -> Option<(String, String)> {
    let status = serde_json::to_value(policy).ok()?["status"].take();
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_owned(),
                c["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
}

/// A service on the default policy, and that its InferenceService appears.
async fn serves_on_the_default_policy(operator: &Operator, name: &str) {
    let ns = &operator.ns;
    fixtures::create_aim(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": name},
        "spec": {"model": {"ref": "llama"}}
    }))
    .await
    .unwrap();
    let isvcs = inference_service_api(ns.client(), ns.name());
    wait_for(&isvcs, name, TIMEOUT, |_| true)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:#}; log:\n{}", operator.log()));
}

#[tokio::test]
async fn a_policy_that_sleeps_while_loading_stalls_neither_start_up_nor_shutdown() {
    let env = TestEnv::shared().await.unwrap();
    let ns = TestNamespace::create(env).await.unwrap();
    let mut operator = Operator::ready_in(ns, env.kubeconfig()).await;
    fixtures::create_model_and_template(&operator.ns)
        .await
        .unwrap();

    // Its `info` sleeps for an hour: loading it times out, and the AIMPolicy says so.
    let policy_name = format!("{}-sleepy", operator.ns.name());
    let policies = fixtures::ship_policy(
        &operator.ns.client(),
        operator.ns.name(),
        &policy_name,
        sleepy_info_policy_wasm(),
        json!({"deadlineMilliseconds": 100}),
    )
    .await
    .unwrap();
    wait_for(&policies, &policy_name, TIMEOUT, |p| {
        policy_condition(p, "Compiled") == Some(("False".into(), "PolicyTimeout".into()))
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    serves_on_the_default_policy(&operator, "before-restart").await;

    // Shutdown is bounded, and a restart activates AIMPolicies (this one among them) without
    // holding back the controllers.
    operator.assert_exits_cleanly().await;
    operator.restart();
    operator.assert_ready().await;
    serves_on_the_default_policy(&operator, "after-restart").await;

    operator.delete_policy(&policies, &policy_name).await;
    operator.assert_exits_cleanly().await;
}

/// The value of the metric line starting with `series` in `metrics`, 0 when absent.
fn metric(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Ships the hostile policy (with `more_spec`) as the AIMPolicy `<namespace>-<suffix>`, selected by
/// the runtime config `suffix`, and waits until it is active.
async fn hostile_config(
    operator: &Operator,
    suffix: &str,
    more_spec: serde_json::Value,
) -> (Api<AIMPolicy>, String) {
    let policy_name = format!("{}-{suffix}", operator.ns.name());
    let policies = operator
        .ship_active_policy(&policy_name, hostile_policy_wasm(), more_spec)
        .await;
    fixtures::create_aim(
        &operator.ns,
        json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig",
            "metadata": {"name": suffix}, "spec": {"policyName": policy_name}
        }),
    )
    .await
    .unwrap();
    (policies, policy_name)
}

#[tokio::test]
async fn a_plan_can_neither_flood_events_nor_requeue_in_a_loop() {
    let env = TestEnv::shared().await.unwrap();
    let ns = TestNamespace::create(env).await.unwrap();
    let operator = Operator::ready_in(ns, env.kubeconfig()).await;
    let ns = &operator.ns;
    // `spam` asks for 100 Events and to be planned again at once; `calm` (any other service
    // name) asks for nothing. Each has a policy of its own, so the metrics tell them apart; both
    // see the same other triggers (node changes of a shared control plane, status writes).
    let (spam_policies, spam_policy) = hostile_config(&operator, "spam", json!({})).await;
    let (calm_policies, calm_policy) = hostile_config(&operator, "calm", json!({})).await;
    // A runtime config naming a policy that is not installed, in free text.
    let free_text = format!("{}-no-such-policy", ns.name());
    fixtures::create_aim(
        ns,
        json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig",
            "metadata": {"name": "dangling"}, "spec": {"policyName": free_text}
        }),
    )
    .await
    .unwrap();
    for (service, config) in [("spam", "spam"), ("calm", "calm"), ("dangling", "dangling")] {
        fixtures::create_aim(ns, json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": service},
            "spec": {"model": {"ref": "llama"}, "runtimeConfigName": config}
        }))
        .await
        .unwrap();
    }

    let evaluations = |policy: &str| {
        format!(r#"aim_policy_evaluations_total{{policy="{policy}",flow="service",result="ok"}} "#)
    };
    let (spam, calm) = (evaluations(&spam_policy), evaluations(&calm_policy));
    let mut before = (0.0, 0.0);
    for _ in 0..100 {
        let (_, metrics) = operator.get("/metrics").await.unwrap();
        before = (metric(&metrics, &spam), metric(&metrics, &calm));
        if before.0 > 0.0 && before.1 > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        before.0 > 0.0 && before.1 > 0.0,
        "never planned; log:\n{}",
        operator.log()
    );
    // Asked to plan again at once, `spam` would be planned in a loop: dozens of times here.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let (_, metrics) = operator.get("/metrics").await.unwrap();
    let spam_planned = metric(&metrics, &spam) - before.0;
    let calm_planned = metric(&metrics, &calm) - before.1;
    assert!(
        spam_planned - calm_planned <= 4.0,
        "planned {spam_planned} times in 12 s, against {calm_planned} for a plan without requeue:\n{metrics}\nlog:\n{}",
        operator.log()
    );

    // Ten Events per reconcile at most; repeats fold into the same ten.
    let events: Api<Event> = ns.api();
    let recorded = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("Spam"))
        .count();
    assert!(recorded > 0);
    assert!(recorded <= 10, "{recorded} Events recorded");

    // The free-text name never became a label value.
    assert!(!metrics.contains(&free_text), "{metrics}");
    assert!(metrics.contains(r#"policy="(unavailable)""#), "{metrics}");

    for (policies, name) in [(spam_policies, spam_policy), (calm_policies, calm_policy)] {
        operator.delete_policy(&policies, &name).await;
    }
}

/// Those of `names` that exist as InferenceServices in `ns`.
async fn isvcs_named(ns: &TestNamespace, names: &[&str]) -> Vec<String> {
    let isvcs = inference_service_api(ns.client(), ns.name());
    let mut found = Vec::new();
    for name in names {
        if isvcs.get_opt(name).await.unwrap().is_some() {
            found.push((*name).to_owned());
        }
    }
    found
}
