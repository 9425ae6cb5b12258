//! The operator as a cluster admin installs it: the `aim-engine run` binary in its own process,
//! authenticated as the Helm chart's ServiceAccount bound to the chart's roles, takes the AIMService
//! guide's Quick Start to Running with routing. Then a platform team ships a custom policy (an AIMPolicy
//! read from a ConfigMap) and selects it in the runtime config: the new route path appears
//! without a restart, and the service is Running again once the Gateway accepts it.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use aim_api::v1alpha1::{AIMRuntimeConfig, AIMService};
use aim_tests::fixtures;
use aim_tests::quick_start::{SERVICE, TIMEOUT, run_until_inference_service_ready, state};
use aim_tests::{TestEnv, TestNamespace, wait_for};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::operator::Operator;
use support::team_routes_policy_wasm;

#[tokio::test]
async fn the_installed_operator_runs_the_quick_start_and_switches_policy_without_a_restart() {
    let env = TestEnv::shared().await.unwrap();
    let ns = TestNamespace::create(env).await.unwrap();
    let access = aim_tests::helm::install_rbac(env, "aim-engine", ns.name())
        .await
        .unwrap();
    let mut operator = Operator::ready_in(ns, access.path()).await;
    let pid = operator.pid();
    let ns = &operator.ns;

    // The Quick Start, exposed through a gateway, by a service of the search team.
    let routing = json!({"routing": {"enabled": true, "gatewayRef": {"name": "gw", "namespace": "gateways"}}});
    let team = json!({"aim.example.com/team": "search"});
    let quick_start = run_until_inference_service_ready(env, ns, routing, team).await;
    let _quick_start = quick_start.unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    let routes = fixtures::http_route_api(ns.client(), ns.name());
    let route_name = format!("{SERVICE}-route");
    let route = wait_for(&routes, &route_name, TIMEOUT, |_| true)
        .await
        .unwrap();
    assert_eq!(
        fixtures::http_route_path(&route),
        format!("/{}/{SERVICE}", ns.name())
    );
    fixtures::mark_http_route_accepted(&routes, &route_name)
        .await
        .unwrap();
    let services: Api<AIMService> = ns.api();
    wait_for(&services, SERVICE, TIMEOUT, |s| state(s) == "Running")
        .await
        .unwrap();

    // The platform team's policy, selected by the namespace's runtime config.
    let policy_name = format!("{}-team-routes", ns.name());
    let policies = operator
        .ship_active_policy(&policy_name, team_routes_policy_wasm(), json!({}))
        .await;
    ns.api::<AIMRuntimeConfig>()
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"policyName": policy_name}})),
        )
        .await
        .unwrap();
    let team_path = format!("/teams/search/{}/{SERVICE}", ns.name());
    let route = wait_for(&routes, &route_name, TIMEOUT, |r| {
        fixtures::http_route_path(r) == team_path
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    assert_eq!(
        route.metadata.annotations.unwrap()["aim.example.com/team"],
        "search"
    );
    let on_team_path = |s: &AIMService| {
        s.status
            .as_ref()
            .and_then(|s| s.routing.as_ref())
            .and_then(|r| r.path.as_deref())
            == Some(team_path.as_str())
    };
    // The Gateway accepted the previous path, not this one: not Running until it accepts again.
    let waiting = wait_for(&services, SERVICE, TIMEOUT, |s| {
        on_team_path(s) && state(s) == "Starting"
    })
    .await
    .unwrap();
    let routing_ready = waiting
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "RoutingReady")
        .unwrap();
    assert_eq!(
        (routing_ready.status.as_str(), routing_ready.reason.as_str()),
        ("False", "ConfiguringRoute")
    );
    fixtures::mark_http_route_accepted(&routes, &route_name)
        .await
        .unwrap();
    wait_for(&services, SERVICE, TIMEOUT, |s| {
        state(s) == "Running" && on_team_path(s)
    })
    .await
    .unwrap();

    // Same process all along, and it counted the custom policy's evaluations.
    assert_eq!(operator.pid(), pid);
    assert!(operator.exit_code(Duration::ZERO).await.is_none());
    let (_, metrics) = operator.get("/metrics").await.unwrap();
    assert!(
        metrics.contains("aim_policy_evaluations_total{"),
        "metrics:\n{metrics}"
    );
    assert!(
        !operator.log().to_lowercase().contains("forbidden"),
        "a request was forbidden under the chart's RBAC; log:\n{}",
        operator.log()
    );

    operator.delete_policy(&policies, &policy_name).await;
    operator.assert_exits_cleanly().await;
}
