//! The Helm chart in `deploy/helm/aim-engine`: it lints, its values schema refuses bad values, what it
//! renders is accepted by a real apiserver, its CRDs are the project's, and its RBAC gives the
//! operator's ServiceAccount what the controllers do (they fill their watch caches and take the lease
//! with nothing else) and little more.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use aim_engine::controller::{NamespaceScope, Stores};
use aim_engine::operator::leader::Leadership;
use aim_tests::helm::{self, Helm, kind_of};
use aim_tests::{TestEnv, TestNamespace, kubeconfig, paths};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube::{Client, ResourceExt as _};
use serde_json::{Value, json};

const RELEASE: &str = "aim-engine";
const TIMEOUT: Duration = Duration::from_secs(30);

async fn namespace() -> TestNamespace {
    let env = TestEnv::shared().await.expect("test environment");
    TestNamespace::create(env).await.expect("test namespace")
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The rendered objects as JSON, for reading fields by index.
fn as_json(objects: &[DynamicObject]) -> Vec<Value> {
    objects
        .iter()
        .map(|o| serde_json::to_value(o).unwrap())
        .collect()
}

fn only<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = objects.iter().filter(|o| o["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "expected one {kind}, got {}", found.len());
    found[0]
}

#[test]
fn the_chart_crds_are_byte_identical_to_deploy_crds() {
    let fix = "re-copy them: rm deploy/helm/aim-engine/crds/*.yaml && \
               cp deploy/crds/*.yaml deploy/helm/aim-engine/crds/";
    let names = |dir: &std::path::Path| -> BTreeSet<String> {
        paths::yaml_files(dir)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    let source = paths::aim_crd_dir();
    let chart = helm::chart_crd_dir();
    let (expected, copied) = (names(&source), names(&chart));
    assert!(!expected.is_empty(), "no CRDs in {}", source.display());
    assert_eq!(
        copied, expected,
        "the chart's CRD files are not those of deploy/crds; {fix}"
    );
    for name in &expected {
        let original = std::fs::read(source.join(name)).unwrap();
        let copy = std::fs::read(chart.join(name)).unwrap();
        assert!(
            copy == original,
            "deploy/helm/aim-engine/crds/{name} differs from deploy/crds/{name}; {fix}"
        );
    }
}

#[test]
fn the_chart_app_version_is_the_workspace_version() {
    let text = std::fs::read_to_string(helm::chart_dir().join("Chart.yaml")).unwrap();
    let chart: Value = serde_yaml::from_str(&text).unwrap();
    let workspace = env!("CARGO_PKG_VERSION");
    assert_eq!(
        chart["appVersion"], workspace,
        "Chart.yaml appVersion must be the workspace version (Cargo.toml)"
    );
}

#[tokio::test]
async fn helm_lint_passes_with_the_default_values() {
    let helm = Helm::new().unwrap();
    let output = helm.lint(&["--strict"]).await.unwrap();
    assert!(
        output.status.success(),
        "helm lint failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
}

#[tokio::test]
async fn the_values_schema_rejects_a_replica_count_that_is_not_a_number() {
    let helm = Helm::new().unwrap();
    let output = helm.lint(&["--set", "replicaCount=two"]).await.unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    assert!(
        !output.status.success(),
        "helm lint accepted replicaCount=two:\n{all}"
    );
    assert!(
        all.contains("replicaCount"),
        "the error does not name the value:\n{all}"
    );
}

#[tokio::test]
async fn the_values_schema_rejects_unknown_keys() {
    let helm = Helm::new().unwrap();
    let output = helm
        .lint(&["--set", "operator.concurrencyy=4"])
        .await
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    assert!(
        !output.status.success(),
        "helm lint accepted a misspelt key:\n{all}"
    );
    assert!(
        all.contains("concurrencyy"),
        "the error does not name the key:\n{all}"
    );
}

#[tokio::test]
async fn several_replicas_without_leader_election_are_refused() {
    let helm = Helm::new().unwrap();
    let refused = helm
        .template(
            RELEASE,
            "aim-system",
            &[
                "--set",
                "replicaCount=2",
                "--set",
                "operator.leaderElection=false",
            ],
        )
        .await
        .unwrap_err();
    assert!(
        format!("{refused:#}").contains("leaderElection"),
        "{refused:#}"
    );
}

#[tokio::test]
async fn the_deployment_runs_the_operator_hardened_with_its_flags() {
    let helm = Helm::new().unwrap();
    let objects = helm
        .template(
            RELEASE,
            "ops",
            &[
                "--set",
                "replicaCount=2",
                "--set",
                "operator.watchNamespaces={team-a,team-b}",
                "--set",
                "operator.concurrency=3",
            ],
        )
        .await
        .unwrap();
    let objects = as_json(&objects);
    let deployment = only(&objects, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];

    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for expected in [
        "run",
        "--concurrency=3",
        "--leader-elect=true",
        "--namespace=team-a,team-b",
        "--log-json",
        "--metrics-bind=0.0.0.0:8080",
        "--policy-root=/policies",
        // Below the cache volume's 256Mi size limit.
        "--policy-cache-max-mib=192",
        "--registry-allow-private-networks=false",
        "--registry-timeout-seconds=60",
        "--allowed-service-accounts=*",
    ] {
        assert!(args.contains(&expected), "{expected} missing from {args:?}");
    }
    // The policy memory budget follows the container's memory limit unless set.
    assert!(
        !args
            .iter()
            .any(|a| a.starts_with("--policy-memory-budget-mib")),
        "{args:?}"
    );
    assert_eq!(container["resources"]["limits"]["memory"], "512Mi");

    let env = container["env"].as_array().unwrap();
    let var = |name: &str| env.iter().find(|e| e["name"] == name).unwrap().clone();
    assert_eq!(var("AIM_OPERATOR_NAMESPACE")["value"], "ops");
    // The operator's own identity, which the plan checks keep every planned pod from.
    assert_eq!(
        var("AIM_OPERATOR_SERVICE_ACCOUNT")["valueFrom"]["fieldRef"]["fieldPath"],
        "spec.serviceAccountName"
    );
    assert_eq!(
        var("POD_NAME")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    // The precompile cache (host/src/policy/cache.rs default_cache_dir) lands in an emptyDir.
    let cache_home = var("XDG_CACHE_HOME")["value"].as_str().unwrap().to_owned();
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == cache_home.as_str())
        .unwrap_or_else(|| panic!("nothing is mounted at XDG_CACHE_HOME {cache_home}"));
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    assert!(volume.get("emptyDir").is_some(), "{volume}");

    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(container["ports"][0]["name"], "metrics");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/livez");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], "metrics");
}

#[tokio::test]
async fn a_service_monitor_is_rendered_only_when_enabled() {
    let helm = Helm::new().unwrap();
    let kinds = |objects: Vec<DynamicObject>| -> BTreeSet<String> {
        objects.iter().map(|o| kind_of(o).to_owned()).collect()
    };
    let default = kinds(helm.template(RELEASE, "ops", &[]).await.unwrap());
    assert!(!default.contains("ServiceMonitor"), "{default:?}");
    let enabled = helm
        .template(
            RELEASE,
            "ops",
            &["--set", "metrics.serviceMonitor.enabled=true"],
        )
        .await
        .unwrap();
    let enabled = as_json(&enabled);
    let monitor = only(&enabled, "ServiceMonitor");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
}

/// Values that turn on every optional part of the Deployment that a cluster can check.
const NON_DEFAULT_VALUES: [&str; 10] = [
    "--set",
    "replicaCount=2",
    "--set",
    "operator.watchNamespaces={team-a,team-b}",
    "--set",
    "operator.logJson=false",
    "--set-json",
    r#"operator.extraVolumes=[{"name":"policies","configMap":{"name":"policies"}}]"#,
    "--set-json",
    r#"operator.extraVolumeMounts=[{"name":"policies","mountPath":"/etc/aim/policies"}]"#,
];

#[tokio::test]
async fn every_rendered_object_passes_a_server_side_dry_run_apply() {
    let ns = namespace().await;
    let helm = Helm::new().unwrap();
    let expected: BTreeSet<&str> = [
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "Deployment",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ]
    .into();
    let params = PatchParams::apply("aim-tests-helm").dry_run().force();
    for values in [&["--include-crds"][..], &NON_DEFAULT_VALUES[..]] {
        let objects = helm.template(RELEASE, ns.name(), values).await.unwrap();
        let kinds: BTreeSet<&str> = objects.iter().map(kind_of).collect();
        let expected_here = expected
            .iter()
            .copied()
            .filter(|k| *k != "CustomResourceDefinition" || values.contains(&"--include-crds"))
            .collect();
        assert_eq!(kinds, expected_here, "with {values:?}");

        let applied = helm::apply(&ns.client(), &objects, ns.name(), &params)
            .await
            .unwrap_or_else(|e| panic!("with {values:?}: {e:#}"));
        assert_eq!(applied.len(), objects.len());
        // Namespaced objects name the release namespace themselves, as `helm template | kubectl
        // apply` needs; cluster-scoped names carry it so releases in two namespaces never collide.
        for object in &applied {
            match object.namespace() {
                Some(namespace) => assert_eq!(namespace, ns.name(), "{}", object.name_any()),
                None if kind_of(object) == "CustomResourceDefinition" => {}
                None => assert!(
                    object.name_any().starts_with(ns.name()),
                    "{} {} does not carry the release namespace",
                    kind_of(object),
                    object.name_any()
                ),
            }
        }
    }
}

/// Reflectors list, then watch: a resource listed but not watched fills its cache once and then
/// goes stale, which no start-up check would notice.
#[tokio::test]
async fn every_resource_the_operator_may_list_it_may_also_watch() {
    let helm = Helm::new().unwrap();
    let objects = as_json(&helm.template(RELEASE, "ops", &[]).await.unwrap());
    let mut unwatched = Vec::new();
    for role in objects
        .iter()
        .filter(|o| o["kind"] == "ClusterRole" || o["kind"] == "Role")
    {
        for rule in role["rules"].as_array().unwrap() {
            let verbs = rule["verbs"].as_array().unwrap();
            if verbs.contains(&json!("list")) && !verbs.contains(&json!("watch")) {
                unwatched.push(format!("{}: {}", role["kind"], rule["resources"]));
            }
        }
    }
    assert!(
        unwatched.is_empty(),
        "listed but not watched: {unwatched:?}"
    );
}

/// The operator's client, after installing the chart's RBAC into the test namespace.
async fn operator_client(ns: &TestNamespace) -> (helm::ServiceAccountKubeconfig, Client) {
    let env = TestEnv::shared().await.unwrap();
    let access = helm::install_rbac(env, RELEASE, ns.name()).await.unwrap();
    let client = kubeconfig::client(access.path()).await.unwrap();
    (access, client)
}

#[tokio::test]
async fn the_operator_account_lists_aimservices_everywhere_but_cannot_list_secrets_or_create_cluster_roles()
 {
    let ns = namespace().await;
    let (_access, operator) = operator_client(&ns).await;

    let services = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "aim.silogen.ai",
        "v1alpha1",
        "AIMService",
    ));
    Api::<DynamicObject>::all_with(operator.clone(), &services)
        .list(&ListParams::default())
        .await
        .expect("listing AIMServices in all namespaces");
    let secrets = Api::<Secret>::namespaced(operator.clone(), "kube-system")
        .list(&ListParams::default())
        .await;
    assert!(
        matches!(&secrets, Err(kube::Error::Api(s)) if s.code == 403),
        "listing secrets in kube-system: {secrets:?}"
    );

    let can = async |verb, group, resource, namespace| {
        helm::allowed(&operator, verb, group, resource, namespace)
            .await
            .unwrap()
    };
    assert!(can("list", "aim.silogen.ai", "aimservices", None).await);
    assert!(can("watch", "aim.silogen.ai", "aimservices", None).await);
    assert!(!can("list", "", "secrets", Some("kube-system")).await);
    assert!(!can("create", "rbac.authorization.k8s.io", "clusterroles", None).await);
    let bindings = "clusterrolebindings";
    assert!(!can("create", "rbac.authorization.k8s.io", bindings, None).await);
}

/// What the controllers do, by verb, API group and resource, and where (`None`: cluster-wide;
/// `Some("")`: the release namespace). Derived from host/src; the chart's RBAC must allow each.
const NEEDED: &[(&str, &str, &str, Option<&str>)] = &[
    // Plans apply (create or patch) and delete these (controller/apply.rs, policy/checks.rs).
    ("create", "aim.silogen.ai", "aimmodels", None),
    ("patch", "aim.silogen.ai", "aimclustermodels", None),
    ("delete", "aim.silogen.ai", "aimservicetemplates", None),
    (
        "create",
        "aim.silogen.ai",
        "aimclusterservicetemplates",
        None,
    ),
    ("patch", "aim.silogen.ai", "aimtemplatecaches", None),
    ("delete", "aim.silogen.ai", "aimmodelcaches", None),
    ("create", "serving.kserve.io", "inferenceservices", None),
    ("patch", "serving.kserve.io", "servingruntimes", None),
    (
        "delete",
        "serving.kserve.io",
        "clusterservingruntimes",
        None,
    ),
    ("create", "gateway.networking.k8s.io", "httproutes", None),
    ("patch", "", "persistentvolumeclaims", None),
    ("delete", "batch", "jobs", None),
    // Owner lookups (controller/apply.rs).
    ("get", "aim.silogen.ai", "aimservicetemplates", None),
    // Finalizers on services (controller/apply.rs sync_finalizers), and status everywhere.
    ("patch", "aim.silogen.ai", "aimservices", None),
    ("patch", "aim.silogen.ai", "aimservices/status", None),
    (
        "patch",
        "aim.silogen.ai",
        "aimclusterservicetemplates/status",
        None,
    ),
    ("patch", "aim.silogen.ai", "aimpolicies/status", None),
    ("update", "aim.silogen.ai", "aimservices/finalizers", None),
    // Custom policies, and their cleanup finalizer (controller/policy.rs).
    ("watch", "aim.silogen.ai", "aimpolicies", None),
    ("patch", "aim.silogen.ai", "aimpolicies", None),
    ("list", "", "configmaps", Some("")),
    // Namespace labels: which namespaces may select an AIMPolicy (controller/context.rs).
    ("watch", "", "namespaces", None),
    // Discovery results, pull secrets, storage classes, Events.
    ("get", "", "pods/log", None),
    ("list", "", "pods", None),
    ("get", "", "secrets", None),
    ("get", "storage.k8s.io", "storageclasses", None),
    ("create", "events.k8s.io", "events", None),
    ("patch", "events.k8s.io", "events", None),
    // Leader election (operator/leader.rs).
    ("create", "coordination.k8s.io", "leases", Some("")),
];

/// Beyond what the controllers do.
const NOT_NEEDED: &[(&str, &str, &str, Option<&str>)] = &[
    ("create", "aim.silogen.ai", "aimservices", None),
    ("delete", "aim.silogen.ai", "aimservices", None),
    ("update", "aim.silogen.ai", "aimservices", None),
    ("patch", "aim.silogen.ai", "aimruntimeconfigs", None),
    ("delete", "aim.silogen.ai", "aimpolicies", None),
    ("watch", "", "secrets", None),
    ("create", "", "pods", None),
    ("delete", "", "nodes", None),
    ("patch", "", "namespaces", None),
    ("list", "", "configmaps", Some("kube-system")),
    (
        "create",
        "coordination.k8s.io",
        "leases",
        Some("kube-system"),
    ),
    ("create", "rbac.authorization.k8s.io", "roles", Some("")),
];

#[tokio::test]
async fn the_operator_account_may_do_what_the_controllers_do_and_not_more() {
    let ns = namespace().await;
    let (_access, operator) = operator_client(&ns).await;
    let mut wrong = Vec::new();
    for (expected, table) in [(true, NEEDED), (false, NOT_NEEDED)] {
        for (verb, group, resource, namespace) in table {
            let namespace = namespace.map(|n| if n.is_empty() { ns.name() } else { n });
            let allowed = helm::allowed(&operator, verb, group, resource, namespace)
                .await
                .unwrap();
            if allowed != expected {
                wrong.push(format!(
                    "{verb} {group}/{resource} in {}: allowed={allowed}",
                    namespace.unwrap_or("all namespaces")
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "unexpected permissions:\n{}",
        wrong.join("\n")
    );

    // Server-side apply of an object that does not exist yet, as a plan's first apply is.
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "model-cache"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    }))
    .unwrap();
    Api::<PersistentVolumeClaim>::namespaced(operator, ns.name())
        .patch(
            "model-cache",
            &PatchParams::apply("aim-service-controller").force(),
            &Patch::Apply(&claim),
        )
        .await
        .expect("the operator creates a PVC by server-side apply");
}

#[tokio::test]
async fn the_operator_account_fills_every_watch_cache_and_takes_the_lease() {
    let ns = namespace().await;
    let (_access, operator) = operator_client(&ns).await;

    // The reflectors log refused requests as warnings; shown with the failure. They run on this
    // test's single-threaded runtime, so a subscriber for this thread sees them.
    let subscriber = tracing_subscriber::fmt()
        .with_test_writer()
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    // A refused list makes its reflector retry for ever, so the caches never fill. (Watches start
    // after the first list; `every_resource_the_operator_may_list_it_may_also_watch` covers them.)
    let stores = Stores::start(&operator, NamespaceScope::default());
    let filled = tokio::time::timeout(TIMEOUT, stores.wait_until_ready()).await;
    assert!(
        matches!(filled, Ok(true)),
        "the watch caches did not fill in {TIMEOUT:?} with the chart's RBAC: a list is refused \
         (see the warnings logged above)"
    );

    let mut leadership = Leadership::campaign(operator, ns.name(), "helm-chart-test")
        .await
        .expect("setting up the Lease with the chart's RBAC");
    tokio::time::timeout(TIMEOUT, leadership.acquired())
        .await
        .expect("the lease was not acquired in time")
        .expect("acquiring the lease");
    leadership.release().await;
}

/// Why the ClusterRole grants `create` wherever the operator applies: the apiserver authorizes a
/// server-side apply that creates an object as a create, so `patch` alone is refused.
#[tokio::test]
async fn server_side_apply_of_a_new_object_needs_create_as_well_as_patch() {
    let ns = namespace().await;
    let env = TestEnv::shared().await.unwrap();
    let admin = ns.client();
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "patcher"}})).unwrap();
    ns.api::<ServiceAccount>()
        .create(&PostParams::default(), &account)
        .await
        .unwrap();
    let role = |verbs: &[&str]| -> Role {
        Role {
            metadata: kube::api::ObjectMeta {
                name: Some("patcher".into()),
                ..Default::default()
            },
            rules: Some(vec![PolicyRule {
                api_groups: Some(vec![String::new()]),
                resources: Some(vec!["configmaps".into()]),
                verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
                ..Default::default()
            }]),
        }
    };
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "patcher"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "patcher"},
        "subjects": [{"kind": "ServiceAccount", "name": "patcher", "namespace": ns.name()}]
    }))
    .unwrap();
    let roles: Api<Role> = Api::namespaced(admin.clone(), ns.name());
    let params = PatchParams::apply("aim-tests").force();
    roles
        .patch("patcher", &params, &Patch::Apply(role(&["get", "patch"])))
        .await
        .unwrap();
    Api::<RoleBinding>::namespaced(admin, ns.name())
        .patch("patcher", &params, &Patch::Apply(&binding))
        .await
        .unwrap();
    let access = helm::service_account_kubeconfig(env, ns.name(), "patcher")
        .await
        .unwrap();
    let patcher = kubeconfig::client(access.path()).await.unwrap();
    let config_maps: Api<DynamicObject> = Api::namespaced_with(
        patcher,
        ns.name(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap")),
    );
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "1"}
    }))
    .unwrap();
    let patch = Patch::Apply(&object);
    let apply = || config_maps.patch("applied", &params, &patch);

    let refused = apply().await;
    assert!(
        matches!(&refused, Err(kube::Error::Api(s)) if s.code == 403),
        "apply-create with only get and patch: {refused:?}"
    );
    roles
        .patch(
            "patcher",
            &params,
            &Patch::Apply(role(&["get", "patch", "create"])),
        )
        .await
        .unwrap();
    // RBAC changes reach the authorizer through its informer: allow it a moment.
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        match apply().await {
            Ok(_) => break,
            Err(kube::Error::Api(s)) if s.code == 403 && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("apply-create with create and patch: {e}"),
        }
    }
}

#[tokio::test]
async fn the_pod_check_allowlists_reach_the_operators_flags() {
    let helm = Helm::new().unwrap();
    let objects = helm
        .template(
            RELEASE,
            "ops",
            &[
                "--set",
                "policyChecks.allowedServiceAccounts={default,ml-*/aim-runtime}",
                "--set",
                "policyChecks.allowedImageRegistries={ghcr.io,*.corp.example}",
                "--set",
                "policyChecks.admissionPolicy.enabled=false",
            ],
        )
        .await
        .unwrap();
    let kinds: BTreeSet<&str> = objects.iter().map(kind_of).collect();
    assert!(!kinds.contains("ValidatingAdmissionPolicy"), "{kinds:?}");
    let objects = as_json(&objects);
    let args =
        only(&objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"].clone();
    let args: Vec<&str> = args
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        args.contains(&"--allowed-service-accounts=default,ml-*/aim-runtime"),
        "{args:?}"
    );
    assert!(
        args.contains(&"--allowed-image-registries=ghcr.io,*.corp.example"),
        "{args:?}"
    );
    let refused = helm
        .lint(&["--set", "policyChecks.allowedServiceAccounts={a/b/c}"])
        .await
        .unwrap();
    assert!(
        !refused.status.success(),
        "a malformed pattern passes the schema"
    );
}

/// Defence in depth: whatever the operator's own checks let through, the apiserver refuses a
/// privileged or host-reaching pod spec, or one running as the operator's ServiceAccount, when
/// that account writes it; others' objects are not its business.
#[tokio::test]
async fn the_admission_policy_refuses_unsafe_pod_specs_from_the_operator_account_only() {
    let ns = namespace().await;
    let (access, operator) = operator_client(&ns).await;
    let helm = Helm::new().unwrap();
    let admission: Vec<DynamicObject> = helm
        .template(RELEASE, ns.name(), &[])
        .await
        .unwrap()
        .into_iter()
        .filter(|o| kind_of(o).starts_with("ValidatingAdmissionPolicy"))
        .collect();
    assert_eq!(admission.len(), 2);
    let admin = ns.client();
    helm::apply(
        &admin,
        &admission,
        ns.name(),
        &PatchParams::apply("aim-tests-helm").force(),
    )
    .await
    .unwrap();
    let account = only(
        &as_json(&helm.template(RELEASE, ns.name(), &[]).await.unwrap()),
        "ServiceAccount",
    )["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_owned();

    let restricted = json!({"name": "c", "image": "busybox", "securityContext": {
        "allowPrivilegeEscalation": false, "runAsNonRoot": true,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}});
    let job = |pod: Value| -> k8s_openapi::api::batch::v1::Job {
        serde_json::from_value(json!({"metadata": {"generateName": "vap-"},
            "spec": {"template": {"spec": pod}}}))
        .unwrap()
    };
    let mut privileged = restricted.clone();
    privileged["securityContext"] = json!({"privileged": true, "capabilities": {"drop": ["ALL"]}});
    let unsafe_jobs = [
        (
            "privileged",
            job(json!({"restartPolicy": "Never", "containers": [privileged]})),
        ),
        (
            "hostPID",
            job(json!({"restartPolicy": "Never", "hostPID": true, "containers": [restricted]})),
        ),
        (
            "hostPath",
            job(json!({"restartPolicy": "Never", "containers": [restricted],
            "volumes": [{"name": "root", "hostPath": {"path": "/"}}]})),
        ),
        (
            "operator account",
            job(
                json!({"restartPolicy": "Never", "serviceAccountName": account,
            "containers": [restricted]}),
            ),
        ),
    ];
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let as_operator: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(operator, ns.name());
    let as_admin: Api<k8s_openapi::api::batch::v1::Job> = ns.api();
    // The apiserver learns of the policy through an informer: wait until it refuses.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        match as_operator.create(&dry_run, &unsafe_jobs[0].1).await {
            Err(kube::Error::Api(status))
                if status.message.contains("ValidatingAdmissionPolicy") =>
            {
                break;
            }
            other => assert!(
                tokio::time::Instant::now() < deadline,
                "the admission policy never refused: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (what, job) in &unsafe_jobs {
        let refused = as_operator.create(&dry_run, job).await;
        assert!(
            matches!(&refused, Err(kube::Error::Api(s)) if s.message.contains("ValidatingAdmissionPolicy")),
            "{what}: {refused:?}"
        );
        as_admin
            .create(&dry_run, job)
            .await
            .unwrap_or_else(|e| panic!("{what}, by someone else: {e}"));
    }
    as_operator
        .create(
            &dry_run,
            &job(json!({"restartPolicy": "Never", "containers": [restricted]})),
        )
        .await
        .expect("a restricted Job is the operator's to create");

    let isvc = |predictor: Value| -> DynamicObject {
        serde_json::from_value(json!({"apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService", "metadata": {"name": "vap"}, "spec": {"predictor": predictor}}))
        .unwrap()
    };
    let isvcs = aim_tests::fixtures::inference_service_api(
        kubeconfig::client(access.path()).await.unwrap(),
        ns.name(),
    );
    let model = json!({"modelFormat": {"name": "aim"}, "runtime": "r",
        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}});
    let host_path = isvc(json!({"model": model,
        "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}));
    let refused = isvcs.create(&dry_run, &host_path).await;
    assert!(
        matches!(&refused, Err(kube::Error::Api(s)) if s.message.contains("host paths")),
        "{refused:?}"
    );
    isvcs
        .create(&dry_run, &isvc(json!({"model": model})))
        .await
        .expect("the default policy's kind of InferenceService is admitted");

    for object in &admission {
        let types = object.types.as_ref().unwrap();
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
            "admissionregistration.k8s.io",
            "v1",
            &types.kind,
        ));
        Api::<DynamicObject>::all_with(admin.clone(), &resource)
            .delete(&object.name_any(), &Default::default())
            .await
            .unwrap();
    }
}
