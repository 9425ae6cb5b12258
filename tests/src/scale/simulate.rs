//! The rest of the cluster, played by watches in the benchmark's process: KServe marks
//! InferenceServices Ready, a Gateway controller accepts HTTPRoutes, a storage provisioner binds
//! claims, and the download Jobs' pods finish. Each object is handled once per generation, with
//! the status the [`crate::fixtures`] write, as soon as it appears; and the benchmark's own view
//! of the services, to know when all are Running.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aim_api::conditions::AIMServiceStatusEnum;
use aim_api::v1alpha1::AIMService;
use anyhow::{Context, Result};
use futures::StreamExt;
use futures::future::BoxFuture;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::fixtures;

/// Status writes in flight at once: enough to keep up, few enough not to crowd the operator out
/// of the apiserver.
const IN_FLIGHT: usize = 16;

/// The stand-ins, running until dropped.
pub struct Simulator {
    tasks: Vec<JoinHandle<()>>,
    marked: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Simulator {
    /// Starts following the children of services in `namespaces`.
    pub fn start(client: &Client, namespaces: Arc<BTreeSet<String>>) -> Self {
        let marked = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let follower = Follower {
            client: client.clone(),
            scope: namespaces,
            limit: Arc::new(Semaphore::new(IN_FLIGHT)),
            marked: marked.clone(),
            failed: failed.clone(),
        };
        let isvc = dynamic("serving.kserve.io", "v1beta1", "InferenceService");
        let route = dynamic("gateway.networking.k8s.io", "v1", "HTTPRoute");
        let tasks = vec![
            follower.spawn(
                Api::<DynamicObject>::all_with(client.clone(), &isvc),
                watcher::Config::default(),
                inference_service_pending,
                Arc::new(move |client, object| {
                    let api: Api<DynamicObject> =
                        Api::namespaced_with(client, &namespace(&object), &isvc);
                    let status = fixtures::inference_service_ready_status(&object);
                    Box::pin(async move { write_status(&api, &object.name_any(), status).await })
                }),
            ),
            follower.spawn(
                Api::<DynamicObject>::all_with(client.clone(), &route),
                watcher::Config::default(),
                http_route_pending,
                Arc::new(move |client, object| {
                    let api: Api<DynamicObject> =
                        Api::namespaced_with(client, &namespace(&object), &route);
                    Box::pin(async move {
                        let status = fixtures::http_route_accepted_status(&object)?;
                        write_status(&api, &object.name_any(), status).await
                    })
                }),
            ),
            follower.spawn(
                Api::<PersistentVolumeClaim>::all(client.clone()),
                watcher::Config::default(),
                claim_pending,
                Arc::new(|client, object: PersistentVolumeClaim| {
                    let api: Api<PersistentVolumeClaim> =
                        Api::namespaced(client, &namespace(&object));
                    let status = fixtures::bound_status(&object);
                    Box::pin(async move { write_status(&api, &object.name_any(), status).await })
                }),
            ),
            follower.spawn(
                Api::<Job>::all(client.clone()),
                watcher::Config::default().labels("aim.silogen.ai/modelcache"),
                job_pending,
                Arc::new(|client, object: Job| {
                    let api: Api<Job> = Api::namespaced(client, &namespace(&object));
                    let status = fixtures::job_complete_status(&object);
                    Box::pin(async move { write_status(&api, &object.name_any(), status).await })
                }),
            ),
        ];
        Simulator {
            tasks,
            marked,
            failed,
        }
    }

    /// Status writes made, and failed.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.marked.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

type Mark<K> = Arc<dyn Fn(Client, K) -> BoxFuture<'static, Result<()>> + Send + Sync>;

#[derive(Clone)]
struct Follower {
    client: Client,
    scope: Arc<BTreeSet<String>>,
    limit: Arc<Semaphore>,
    marked: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

impl Follower {
    /// Watches `api`; every object in scope that `pending` says needs its status (by a key naming
    /// the object and its generation) is marked once, by `mark`.
    fn spawn<K>(
        &self,
        api: Api<K>,
        config: watcher::Config,
        pending: fn(&K) -> Option<String>,
        mark: Mark<K>,
    ) -> JoinHandle<()>
    where
        K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let this = self.clone();
        tokio::spawn(async move {
            let seen = Arc::new(Mutex::new(HashSet::new()));
            let mut objects =
                std::pin::pin!(watcher(api, config).default_backoff().applied_objects());
            while let Some(object) = objects.next().await {
                let Ok(object) = object else { continue };
                if !object
                    .meta()
                    .namespace
                    .as_ref()
                    .is_some_and(|ns| this.scope.contains(ns))
                {
                    continue;
                }
                let Some(key) = pending(&object) else {
                    continue;
                };
                if !lock(&seen).insert(key.clone()) {
                    continue;
                }
                let Ok(permit) = this.limit.clone().acquire_owned().await else {
                    return;
                };
                let (client, mark, seen) = (this.client.clone(), mark.clone(), seen.clone());
                let (marked, failed) = (this.marked.clone(), this.failed.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    match mark(client, object).await {
                        Ok(()) => {
                            marked.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(error) => {
                            // Forgotten, so the next event about the object tries again.
                            lock(&seen).remove(&key);
                            failed.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!("simulating {key}: {error:#}");
                        }
                    }
                });
            }
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn dynamic(group: &str, version: &str, kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind))
}

fn namespace<K: Resource>(object: &K) -> String {
    object.meta().namespace.clone().unwrap_or_default()
}

fn key<K: Resource<DynamicType = ()>>(object: &K) -> String {
    format!(
        "{}/{}/{}@{}",
        K::kind(&()),
        namespace(object),
        object.meta().name.as_deref().unwrap_or_default(),
        object.meta().generation.unwrap_or_default()
    )
}

async fn write_status<K>(api: &Api<K>, name: &str, status: Value) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(&json!({ "status": status })),
    )
    .await
    .with_context(|| format!("writing the status of {name}"))?;
    Ok(())
}

fn true_condition<'a>(conditions: Option<&'a Value>, type_: &str) -> Option<&'a Value> {
    conditions?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_ && c["status"] == "True")
}

/// Not Ready at its generation.
fn inference_service_pending(isvc: &DynamicObject) -> Option<String> {
    let status = &isvc.data["status"];
    let ready = true_condition(status.get("conditions"), "Ready").is_some()
        && status["observedGeneration"].as_i64() == isvc.metadata.generation;
    (!ready).then(|| format!("isvc:{}", key_of_dynamic(isvc)))
}

/// Not Accepted at its generation.
fn http_route_pending(route: &DynamicObject) -> Option<String> {
    let accepted = route.data["status"]["parents"]
        .as_array()
        .is_some_and(|parents| {
            !parents.is_empty()
                && parents.iter().all(|parent| {
                    true_condition(parent.get("conditions"), "Accepted").is_some_and(|c| {
                        c["observedGeneration"].as_i64() == route.metadata.generation
                    })
                })
        });
    (!accepted).then(|| format!("route:{}", key_of_dynamic(route)))
}

fn key_of_dynamic(object: &DynamicObject) -> String {
    format!(
        "{}/{}@{}",
        namespace(object),
        object.name_any(),
        object.metadata.generation.unwrap_or_default()
    )
}

/// Not Bound.
fn claim_pending(claim: &PersistentVolumeClaim) -> Option<String> {
    let bound = claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    (!bound).then(|| key(claim))
}

/// Not finished.
fn job_pending(job: &Job) -> Option<String> {
    let finished = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        });
    (!finished).then(|| key(job))
}

/// The benchmark's view of its services' states, from a watch.
pub struct Services {
    task: JoinHandle<()>,
    state: Arc<Mutex<ServiceStates>>,
}

#[derive(Default)]
struct ServiceStates {
    by_service: HashMap<String, String>,
    running: usize,
    /// When the count of Running services last went up.
    last_running: Option<Instant>,
}

impl Drop for Services {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Services {
    /// Follows the AIMServices of `namespaces`.
    pub fn watch(client: &Client, namespaces: Arc<BTreeSet<String>>) -> Self {
        let state = Arc::new(Mutex::new(ServiceStates::default()));
        let api: Api<AIMService> = Api::all(client.clone());
        let writer = state.clone();
        let task = tokio::spawn(async move {
            let mut events =
                std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
            while let Some(event) = events.next().await {
                let Ok(event) = event else { continue };
                let (watcher::Event::Apply(service) | watcher::Event::InitApply(service)) = event
                else {
                    continue;
                };
                if !service
                    .namespace()
                    .is_some_and(|ns| namespaces.contains(&ns))
                {
                    continue;
                }
                let state = service
                    .status
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |s| format!("{:?}", s.status));
                let running = service
                    .status
                    .as_ref()
                    .is_some_and(|s| s.status == AIMServiceStatusEnum::Running);
                let mut states = lock(&writer);
                let name = format!("{}/{}", namespace(&service), service.name_any());
                let was_running = states.by_service.get(&name).is_some_and(|s| s == "Running");
                states.by_service.insert(name, state);
                match (was_running, running) {
                    (false, true) => {
                        states.running += 1;
                        states.last_running = Some(Instant::now());
                    }
                    (true, false) => states.running -= 1,
                    _ => {}
                }
            }
        });
        Services { task, state }
    }

    /// Waits until `count` services are Running and returns when the last one became Running;
    /// on timeout, how many are in each state.
    pub async fn all_running(&self, count: usize, timeout: Duration) -> Result<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let states = lock(&self.state);
                if states.running >= count
                    && let Some(at) = states.last_running
                {
                    return Ok(at);
                }
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "{count} services were not all Running within {timeout:?}; states: {:?}",
                    self.states()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many services are in each state.
    pub fn states(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for state in lock(&self.state).by_service.values() {
            *counts.entry(state.clone()).or_insert(0) += 1;
        }
        counts
    }
}
