//! The `aim-engine run` process against a real control plane: it becomes ready, serves metrics of
//! real reconciles, holds the leader Lease, and on SIGTERM exits 0 and gives the Lease up.

mod support;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::json;
use support::operator::Operator;

async fn lease_holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt("aim-engine")
        .await
        .ok()
        .flatten()
        .and_then(|lease| lease.spec)
        .and_then(|spec| spec.holder_identity)
}

#[tokio::test]
async fn runs_leads_reports_and_stops_cleanly_on_sigterm() {
    let mut operator = Operator::start(&[]).await;
    operator.assert_ready().await;

    // A service of its own, so at least one reconcile happens whatever else is in the cluster.
    let services = Api::<DynamicObject>::namespaced_with(
        operator.ns.client(),
        operator.ns.name(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "aim.silogen.ai",
            "v1alpha1",
            "AIMService",
        )),
    );
    let service: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
        "metadata": {"name": "chat"}, "spec": {"model": {"ref": "llama"}}
    }))
    .expect("service");
    services
        .create(&PostParams::default(), &service)
        .await
        .expect("creating the service");
    assert!(
        operator
            .wait_for("/metrics", |status, body| status == 200
                && body.contains("aim_reconcile_total{"))
            .await,
        "no reconcile in /metrics; log:\n{}",
        operator.log()
    );

    let leases: Api<Lease> = operator.ns.api();
    assert_eq!(lease_holder(&leases).await, Some(operator.identity()));

    let code = operator.terminate().await;
    assert_eq!(code, Some(0), "log:\n{}", operator.log());
    assert_eq!(
        lease_holder(&leases).await,
        None,
        "the lease is given up on exit"
    );
}

#[tokio::test]
async fn stops_at_once_when_terminated_right_after_start_without_leader_election() {
    let mut operator = Operator::start(&["--leader-elect=false", "--namespace", "elsewhere"]).await;
    operator.assert_ready().await;
    // Likely before the controllers' own caches are filled: the shutdown must not wait for them.
    let code = operator.terminate().await;
    assert_eq!(code, Some(0), "log:\n{}", operator.log());
    assert_eq!(
        lease_holder(&operator.ns.api()).await,
        None,
        "no lease without election"
    );
}
