//! A hostile custom policy in the running operator: the `aim-engine run` binary loads an
//! AIMPolicy that loops, exhausts memory, traps, answers with megabytes, plans a ClusterRole, an
//! object in another namespace, a privileged or host-reaching pod, a pod running as the
//! operator's own ServiceAccount, a field the host cannot check, or an owner it never observed,
//! depending on the service's name. Each service using it gets the typed reason on its `Failure`
//! condition and a Warning Event; a service next to them on the default policy carries on; the
//! operator counts every failure in its metrics and never stops. A plan deleting what its subject
//! does not control deletes nothing; a plan leaving out the host's labels gets them anyway.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use aim_api::v1alpha1::AIMService;
use aim_tests::fixtures::{self, inference_service_api};
use aim_tests::status::{failure_reason, state};
use aim_tests::{TestEnv, TestNamespace, wait_for};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::json;
use support::hostile_policy_wasm;
use support::operator::Operator;

const TIMEOUT: Duration = Duration::from_secs(90);

/// Each behaviour of the hostile policy (chosen by service name) and the reason it must produce.
const BEHAVIOURS: [(&str, &str); 11] = [
    ("loop", "PolicyTimeout"),
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
    let policy_name = format!("{}-hostile", ns.name());
    let policies = fixtures::ship_policy(
        &ns.client(),
        ns.name(),
        &policy_name,
        hostile_policy_wasm(),
        json!({"deadlineMilliseconds": 100, "memoryMib": 32}),
    )
    .await
    .unwrap();
    wait_for(&policies, &policy_name, TIMEOUT, |p| state(p) == "Active")
        .await
        .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    fixtures::create_aim(
        ns,
        json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig",
            "metadata": {"name": "hostile"}, "spec": {"policyName": policy_name}
        }),
    )
    .await
    .unwrap();

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

    policies
        .delete(&policy_name, &DeleteParams::default())
        .await
        .unwrap();
    aim_tests::wait_for_deletion(&policies, &policy_name, TIMEOUT)
        .await
        .unwrap();
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
