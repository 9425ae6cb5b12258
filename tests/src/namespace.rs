//! `TestNamespace`: a fresh, randomly named namespace per test, deleted when the test ends.
//!
//! Deletion happens in `Drop` so that it also runs when the test panics. It is best-effort (the run
//! may be ending) and does not wait for the namespace to finish terminating.

use std::hash::{BuildHasher as _, RandomState};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{Namespace, Node};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, PostParams,
};
use kube::{Client, Resource};
use serde_json::json;

use crate::TestEnv;
use crate::kubeconfig;

/// Label put on cluster-scoped objects a test creates (Nodes, StorageClasses, cluster templates
/// and models), so they go with its namespace.
pub const OWNER_LABEL: &str = "testenv.aim.silogen.ai/namespace";

/// Cluster-scoped AIM kinds deleted with the namespace when they carry [`OWNER_LABEL`].
const CLUSTER_AIM_KINDS: [&str; 2] = ["AIMClusterServiceTemplate", "AIMClusterModel"];

pub struct TestNamespace {
    name: String,
    client: Client,
    kubeconfig: PathBuf,
}

impl std::fmt::Debug for TestNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNamespace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TestNamespace {
    /// Creates `test-<random>` with a new client for the caller's runtime.
    pub async fn create(env: &TestEnv) -> Result<Self> {
        let client = env.client().await?;
        let name = format!("test-{}", random_suffix());
        let ns: Namespace = serde_json::from_value(json!({ "metadata": { "name": name } }))?;
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .with_context(|| format!("creating namespace {name}"))?;
        Ok(Self {
            name,
            client,
            kubeconfig: env.kubeconfig().to_path_buf(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// An `Api` for a namespaced kind in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// A name for a cluster-scoped object that cannot clash with other tests' objects.
    pub fn unique(&self, name: &str) -> String {
        format!("{}-{name}", self.name)
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        // The test's runtime is finishing, so the requests run on a thread of their own, with a
        // client made there (a client only works on the runtime it was created on).
        let name = self.name.clone();
        let kubeconfig = self.kubeconfig.clone();
        let cleanup = std::thread::spawn(move || -> Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let client = kubeconfig::client(&kubeconfig).await?;
                let nodes: Api<Node> = Api::all(client.clone());
                let owned = ListParams::default().labels(&format!("{OWNER_LABEL}={name}"));
                nodes
                    .delete_collection(&DeleteParams::default(), &owned)
                    .await?;
                Api::<StorageClass>::all(client.clone())
                    .delete_collection(&DeleteParams::default(), &owned)
                    .await?;
                for kind in CLUSTER_AIM_KINDS {
                    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
                        "aim.silogen.ai",
                        "v1alpha1",
                        kind,
                    ));
                    let api = Api::<DynamicObject>::all_with(client.clone(), &resource);
                    match api
                        .delete_collection(&DeleteParams::default(), &owned)
                        .await
                    {
                        // Control planes without the AIM CRDs have nothing to delete.
                        Err(kube::Error::Api(status)) if status.code == 404 => {}
                        other => {
                            other?;
                        }
                    }
                }
                match Api::<Namespace>::all(client)
                    .delete(&name, &DeleteParams::background())
                    .await
                {
                    // Deleted already, by the test itself.
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
                    Err(error) => Err(error.into()),
                }
            })
        });
        if let Ok(Err(e)) = cleanup.join() {
            tracing::warn!("cleaning up test namespace {}: {e:#}", self.name);
        }
    }
}

/// Eight lowercase base-36 characters, unique within the process and random across processes.
fn random_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded randomly per process; hashing a counter gives distinct values in it.
    let mut n = RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut s = String::with_capacity(8);
    for _ in 0..8 {
        s.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
        n /= 36;
    }
    s
}
