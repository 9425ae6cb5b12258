//! The Helm chart in `deploy/helm/aim-engine`, driven by the Helm CLI that `tests/k8s/build-helm.sh`
//! builds: lint and render it, server-side apply what it renders (for real or as a dry run), and
//! install its RBAC to act in a test as the operator's ServiceAccount would in a cluster.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let env = aim_tests::TestEnv::shared().await?;
//! let ns = aim_tests::TestNamespace::create(env).await?;
//! // The chart's ServiceAccount, roles and bindings, and a kubeconfig that acts as that account.
//! let operator = aim_tests::helm::install_rbac(env, "aim-engine", ns.name()).await?;
//! let client = aim_tests::kubeconfig::client(operator.path()).await?;
//! # let _ = client; Ok(()) }
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::config::Kubeconfig;
use kube::discovery::{self, Scope};
use kube::{Client, ResourceExt as _};
use serde::Deserialize as _;
use tempfile::TempDir;

use crate::{TestEnv, kubeconfig, paths};

const VERSIONS_ENV: &str = include_str!("../k8s/versions.env");

/// The kinds that make up the operator's identity and permissions in the chart.
pub const RBAC_KINDS: [&str; 5] = [
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
];

/// Field manager of everything this module applies.
const MANAGER: &str = "aim-tests-helm";

/// How long new roles and bindings may take to be in force, and how often to look.
const GRANT_TIMEOUT: Duration = Duration::from_secs(30);
const GRANT_POLL: Duration = Duration::from_millis(50);

/// Lifetime of minted tokens: longer than any test, short enough not to matter if one leaks.
const TOKEN_SECONDS: i64 = 3600;

/// The chart's directory.
pub fn chart_dir() -> PathBuf {
    repo_root().join("deploy/helm/aim-engine")
}

/// The chart's copy of the CRDs, which must stay identical to [`paths::aim_crd_dir`].
pub fn chart_crd_dir() -> PathBuf {
    chart_dir().join("crds")
}

fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The Helm CLI: `$AIM_TESTENV_HELM` (exported by `scripts/testenv.sh`), else where
/// `tests/k8s/build-helm.sh` puts it for the `HELM_VERSION` in `versions.env`.
pub fn binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("AIM_TESTENV_HELM").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let version = VERSIONS_ENV
        .lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "HELM_VERSION")
        .map(|(_, v)| v.trim())
        .context("HELM_VERSION missing from tests/k8s/versions.env")?;
    let path = paths::cache_root()?
        .join(format!("helm-{version}"))
        .join("bin/helm");
    if !path.is_file() {
        bail!(
            "{} not found: run tests/k8s/build-helm.sh (needs Go; builds Helm once into the cache, \
             set AIM_TESTENV_CACHE to move it)",
            path.display()
        );
    }
    Ok(path)
}

/// The Helm CLI with a private home, so a developer's repositories, plugins and registry logins never
/// change what a test sees, and tests never write into the developer's Helm config.
#[derive(Debug)]
pub struct Helm {
    binary: PathBuf,
    home: TempDir,
}

impl Helm {
    pub fn new() -> Result<Self> {
        Ok(Self {
            binary: binary()?,
            home: tempfile::Builder::new().prefix("aim-helm-").tempdir()?,
        })
    }

    /// Runs `helm args...`; the caller decides what a failure means.
    pub async fn run(&self, args: &[&str]) -> Result<Output> {
        let home = self.home.path();
        tokio::process::Command::new(&self.binary)
            .args(args)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            // Rendering and linting never talk to a cluster; this keeps it that way.
            .env("KUBECONFIG", home.join("no-kubeconfig"))
            .kill_on_drop(true)
            .output()
            .await
            .with_context(|| format!("running {}", self.binary.display()))
    }

    /// `helm lint` of the chart with extra arguments (`--set`, `--strict`, ...).
    pub async fn lint(&self, args: &[&str]) -> Result<Output> {
        let chart = chart_dir();
        let chart = chart.to_str().context("the chart path is not UTF-8")?;
        self.run(&[&["lint", chart], args].concat()).await
    }

    /// `helm template` of the chart as release `release` in `namespace`, parsed into objects. Extra
    /// arguments (`--set`, `--include-crds`, ...) follow.
    pub async fn template(
        &self,
        release: &str,
        namespace: &str,
        args: &[&str],
    ) -> Result<Vec<DynamicObject>> {
        let chart = chart_dir();
        let chart = chart.to_str().context("the chart path is not UTF-8")?;
        let base = ["template", release, chart, "--namespace", namespace];
        let output = self.run(&[&base[..], args].concat()).await?;
        ensure!(
            output.status.success(),
            "helm template failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        parse_manifests(&String::from_utf8_lossy(&output.stdout))
    }
}

/// Every object in a multi-document YAML stream (empty documents skipped).
pub fn parse_manifests(yaml: &str) -> Result<Vec<DynamicObject>> {
    let mut objects = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let value = serde_json::Value::deserialize(doc).context("parsing rendered YAML")?;
        if value.is_null() {
            continue;
        }
        let object: DynamicObject = serde_json::from_value(value)
            .context("a rendered document is not a Kubernetes object")?;
        ensure!(
            object.types.is_some(),
            "rendered object {} has no apiVersion/kind",
            object.name_any()
        );
        objects.push(object);
    }
    Ok(objects)
}

/// The kind of a rendered object (empty if it has none, which [`parse_manifests`] rules out).
pub fn kind_of(object: &DynamicObject) -> &str {
    object.types.as_ref().map_or("", |t| t.kind.as_str())
}

/// Server-side applies `objects` with `params` (e.g. `PatchParams::apply(..).dry_run()`), finding
/// each kind's resource and scope by discovery. Namespaced objects without a namespace go to
/// `namespace`, as `helm install` would put them. Returns what the apiserver answered.
pub async fn apply(
    client: &Client,
    objects: &[DynamicObject],
    namespace: &str,
    params: &PatchParams,
) -> Result<Vec<DynamicObject>> {
    let mut resources: HashMap<GroupVersionKind, (ApiResource, Scope)> = HashMap::new();
    let mut applied = Vec::with_capacity(objects.len());
    for object in objects {
        let types = object
            .types
            .as_ref()
            .with_context(|| format!("{} has no apiVersion/kind", object.name_any()))?;
        let (group, version) = types
            .api_version
            .rsplit_once('/')
            .unwrap_or(("", types.api_version.as_str()));
        let gvk = GroupVersionKind::gvk(group, version, &types.kind);
        let (resource, scope) = match resources.get(&gvk) {
            Some(found) => found.clone(),
            None => {
                let (resource, capabilities) = discovery::pinned_kind(client, &gvk)
                    .await
                    .with_context(|| format!("discovering {}/{}", types.api_version, types.kind))?;
                let found = (resource, capabilities.scope);
                resources.insert(gvk, found.clone());
                found
            }
        };
        let api: Api<DynamicObject> = match scope {
            Scope::Namespaced => Api::namespaced_with(
                client.clone(),
                object.metadata.namespace.as_deref().unwrap_or(namespace),
                &resource,
            ),
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        let name = object.name_any();
        let answer = api
            .patch(&name, params, &Patch::Apply(object))
            .await
            .with_context(|| format!("applying {} {name}", types.kind))?;
        applied.push(answer);
    }
    Ok(applied)
}

/// A kubeconfig that authenticates as a ServiceAccount, with the chart's cluster-scoped RBAC objects
/// it was made for (if any), deleted on drop: namespace deletion does not take them along.
#[derive(Debug)]
pub struct ServiceAccountKubeconfig {
    path: PathBuf,
    admin_kubeconfig: PathBuf,
    cluster_roles: Vec<String>,
    cluster_role_bindings: Vec<String>,
    // Last, so the file is removed after everything else is done with it.
    _dir: TempDir,
}

impl ServiceAccountKubeconfig {
    /// The chart's ClusterRoles this account is bound to.
    pub fn cluster_roles(&self) -> &[String] {
        &self.cluster_roles
    }

    /// The kubeconfig file; valid while this value lives (and the token has not expired).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ServiceAccountKubeconfig {
    fn drop(&mut self) {
        if self.cluster_roles.is_empty() && self.cluster_role_bindings.is_empty() {
            return;
        }
        // As in TestNamespace: the test's runtime is ending, so a thread of its own with a client
        // made there.
        let admin = self.admin_kubeconfig.clone();
        let roles = std::mem::take(&mut self.cluster_roles);
        let bindings = std::mem::take(&mut self.cluster_role_bindings);
        let cleanup = std::thread::spawn(move || -> Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let client = kubeconfig::client(&admin).await?;
                let dp = DeleteParams::default();
                let role_api: Api<ClusterRole> = Api::all(client.clone());
                for name in &roles {
                    role_api.delete(name, &dp).await?;
                }
                let binding_api: Api<ClusterRoleBinding> = Api::all(client);
                for name in &bindings {
                    binding_api.delete(name, &dp).await?;
                }
                Ok(())
            })
        });
        if let Ok(Err(e)) = cleanup.join() {
            tracing::warn!("deleting the chart's cluster RBAC objects: {e:#}");
        }
    }
}

/// Installs, for real, the chart's ServiceAccount, ClusterRole, ClusterRoleBinding, Role and
/// RoleBinding as rendered for release `release` in `namespace`, and returns a kubeconfig that acts
/// as that ServiceAccount. The chart puts the release namespace into its cluster-scoped names, so
/// tests in different namespaces never share a ClusterRole.
pub async fn install_rbac(
    env: &TestEnv,
    release: &str,
    namespace: &str,
) -> Result<ServiceAccountKubeconfig> {
    let helm = Helm::new()?;
    let rbac: Vec<DynamicObject> = helm
        .template(release, namespace, &[])
        .await?
        .into_iter()
        .filter(|o| RBAC_KINDS.contains(&kind_of(o)))
        .collect();
    let names_of = |kind: &str| -> Vec<String> {
        rbac.iter()
            .filter(|o| kind_of(o) == kind)
            .map(|o| o.name_any())
            .collect()
    };
    let accounts = names_of("ServiceAccount");
    let [account] = accounts.as_slice() else {
        bail!(
            "the chart renders {} ServiceAccounts, not one",
            accounts.len()
        );
    };
    let client = env.client().await?;
    apply(
        &client,
        &rbac,
        namespace,
        &PatchParams::apply(MANAGER).force(),
    )
    .await?;
    let mut access = service_account_kubeconfig(env, namespace, account).await?;
    access.cluster_roles = names_of("ClusterRole");
    access.cluster_role_bindings = names_of("ClusterRoleBinding");
    let operator = kubeconfig::client(access.path()).await?;
    for role in rbac
        .iter()
        .filter(|o| matches!(kind_of(o), "ClusterRole" | "Role"))
    {
        let scope = (kind_of(role) == "Role").then_some(namespace);
        wait_until_granted(&operator, role, scope).await?;
    }
    Ok(access)
}

/// Waits until the authorizer grants the first rule of `role` to the client's user. The RBAC
/// authorizer learns of new roles and bindings through informers, so right after they are written a
/// request may still be refused; a role's rules arrive together, so one rule stands for all.
async fn wait_until_granted(
    client: &Client,
    role: &DynamicObject,
    namespace: Option<&str>,
) -> Result<()> {
    let rules: Vec<PolicyRule> = serde_json::from_value(role.data["rules"].clone())
        .with_context(|| format!("the rules of {} {}", kind_of(role), role.name_any()))?;
    let Some(rule) = rules.first() else {
        return Ok(());
    };
    let first = |list: &Option<Vec<String>>| list.as_ref().and_then(|l| l.first()).cloned();
    let attributes = ResourceAttributes {
        verb: rule.verbs.first().cloned(),
        group: first(&rule.api_groups),
        resource: first(&rule.resources),
        name: first(&rule.resource_names),
        namespace: namespace.map(str::to_owned),
        ..ResourceAttributes::default()
    };
    let deadline = Instant::now() + GRANT_TIMEOUT;
    while !review(client, attributes.clone()).await? {
        if Instant::now() >= deadline {
            bail!(
                "{} {} was not in force after {GRANT_TIMEOUT:?}: {attributes:?} is still refused",
                kind_of(role),
                role.name_any()
            );
        }
        tokio::time::sleep(GRANT_POLL).await;
    }
    Ok(())
}

/// A kubeconfig that authenticates as ServiceAccount `namespace/name` (which must exist), with a
/// token minted by the TokenRequest API: the test control plane signs them with its
/// service-account key, as a real cluster does for a pod's projected token.
pub async fn service_account_kubeconfig(
    env: &TestEnv,
    namespace: &str,
    name: &str,
) -> Result<ServiceAccountKubeconfig> {
    let client = env.client().await?;
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(TOKEN_SECONDS),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    let minted = Api::<ServiceAccount>::namespaced(client, namespace)
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .with_context(|| format!("requesting a token for ServiceAccount {namespace}/{name}"))?;
    let token = minted
        .status
        .and_then(|s| s.token)
        .filter(|t| !t.is_empty())
        .with_context(|| format!("the TokenRequest for {namespace}/{name} returned no token"))?;

    let admin = Kubeconfig::read_from(env.kubeconfig())
        .with_context(|| format!("reading {}", env.kubeconfig().display()))?;
    let cluster = admin
        .clusters
        .first()
        .and_then(|c| c.cluster.as_ref())
        .context("the admin kubeconfig names no cluster")?;
    let server = cluster
        .server
        .as_deref()
        .context("the admin kubeconfig names no server")?;
    let ca = cluster
        .certificate_authority
        .as_deref()
        .context("the admin kubeconfig names no CA file")?;
    // JSON is YAML, and quotes whatever the token and paths contain.
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "aim-testenv", "cluster": {"server": server, "certificate-authority": ca}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": "aim-testenv", "user": name, "namespace": namespace}}],
        "current-context": name,
    });
    let dir = tempfile::Builder::new().prefix("aim-sa-").tempdir()?;
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, serde_json::to_vec_pretty(&config)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(ServiceAccountKubeconfig {
        path,
        admin_kubeconfig: env.kubeconfig().to_path_buf(),
        cluster_roles: Vec::new(),
        cluster_role_bindings: Vec::new(),
        _dir: dir,
    })
}

/// Whether the client's user may do `verb` on `resource` (`resource/subresource` for a
/// subresource) of API group `group`, in `namespace` or cluster-wide, by SelfSubjectAccessReview.
pub async fn allowed(
    client: &Client,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
) -> Result<bool> {
    let (resource, subresource) = match resource.split_once('/') {
        Some((resource, sub)) => (resource, Some(sub.to_owned())),
        None => (resource, None),
    };
    let attributes = ResourceAttributes {
        verb: Some(verb.to_owned()),
        group: Some(group.to_owned()),
        resource: Some(resource.to_owned()),
        subresource,
        namespace: namespace.map(str::to_owned),
        ..ResourceAttributes::default()
    };
    review(client, attributes).await
}

async fn review(client: &Client, attributes: ResourceAttributes) -> Result<bool> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(attributes),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let answer = Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .context("SelfSubjectAccessReview")?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}
