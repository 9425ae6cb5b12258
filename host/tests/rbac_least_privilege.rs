//! The chart's RBAC is the least the operator needs: the `aim-engine run` binary, acting as the
//! chart's ServiceAccount with one verb taken from its ClusterRole (`create` on
//! InferenceServices), fails exactly the flow that verb serves, with the reason on the service's
//! status and in an Event; given the verb back, the same process completes the flow.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use aim_api::v1alpha1::AIMService;
use aim_tests::fixtures::{self, inference_service_api};
use aim_tests::status::failure_reason;
use aim_tests::{TestEnv, TestNamespace, wait_for};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use support::operator::Operator;

const TIMEOUT: Duration = Duration::from_secs(90);
const VERB: &str = "create";

/// The role's rules with `verb` taken from (`without`) or given back to InferenceServices.
fn inference_service_rules(role: &ClusterRole, verb: &str, without: bool) -> Vec<PolicyRule> {
    let mut rules = Vec::new();
    for rule in role.rules.clone().unwrap_or_default() {
        let groups = rule.api_groups.clone().unwrap_or_default();
        let resources = rule.resources.clone().unwrap_or_default();
        let covers = groups.iter().any(|g| g == "serving.kserve.io")
            && resources.iter().any(|r| r == "inferenceservices");
        if !covers {
            rules.push(rule);
            continue;
        }
        // Split the InferenceServices off the rule, with the verb taken away or added.
        let others: Vec<String> = resources
            .into_iter()
            .filter(|r| r != "inferenceservices")
            .collect();
        if !others.is_empty() {
            rules.push(PolicyRule {
                resources: Some(others),
                ..rule.clone()
            });
        }
        let mut verbs: Vec<String> = rule.verbs.iter().filter(|v| *v != verb).cloned().collect();
        if !without {
            verbs.push(verb.to_owned());
        }
        rules.push(PolicyRule {
            api_groups: Some(vec!["serving.kserve.io".into()]),
            resources: Some(vec!["inferenceservices".into()]),
            verbs,
            ..PolicyRule::default()
        });
    }
    rules
}

async fn set_rules(roles: &Api<ClusterRole>, name: &str, verb: &str, without: bool) {
    let mut role = roles.get(name).await.unwrap();
    role.rules = Some(inference_service_rules(&role, verb, without));
    roles
        .replace(name, &PostParams::default(), &role)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_verb_taken_from_the_chart_role_fails_only_the_flow_it_serves_and_says_why() {
    let env = TestEnv::shared().await.unwrap();
    let ns = TestNamespace::create(env).await.unwrap();
    let access = aim_tests::helm::install_rbac(env, "aim-engine", ns.name())
        .await
        .unwrap();
    let roles: Api<ClusterRole> = Api::all(ns.client());
    let [role] = access.cluster_roles() else {
        panic!(
            "the chart binds {} ClusterRoles",
            access.cluster_roles().len()
        );
    };
    set_rules(&roles, role, VERB, true).await;
    let operator = Operator::ready_in(ns, access.path()).await;
    let ns = &operator.ns;
    fixtures::create_model_and_template(ns).await.unwrap();
    fixtures::create_aim(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "chat"},
        "spec": {"model": {"ref": fixtures::MODEL}}
    }))
    .await
    .unwrap();

    // The InferenceService cannot be created: the service says so, with the apiserver's words.
    let services: Api<AIMService> = ns.api();
    let failed = wait_for(&services, "chat", TIMEOUT, |s| {
        failure_reason(s).as_deref() == Some("ApplyFailed")
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    let message = serde_json::to_string(&failed.status).unwrap();
    assert!(message.contains("forbidden"), "{message}");
    let events: Api<Event> = ns.api();
    let warned = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .any(|e| {
            e.reason.as_deref() == Some("ApplyFailed") && e.type_.as_deref() == Some("Warning")
        });
    assert!(warned, "no ApplyFailed Event; log:\n{}", operator.log());
    let isvcs = inference_service_api(ns.client(), ns.name());
    assert!(isvcs.get_opt("chat").await.unwrap().is_none());

    // Given back, the same process finishes the flow on its next attempt.
    set_rules(&roles, role, VERB, false).await;
    wait_for(&isvcs, "chat", TIMEOUT, |_| true)
        .await
        .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
}
