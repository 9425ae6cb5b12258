//! One watch cache: a reflector's store, filled by a watch that decodes object by object, and the
//! changes made to it, passed on only once the store holds them. Every kind is watched once: each
//! controller runs on its kind's cache and triggers on the changes of the caches of related kinds,
//! so a reconcile never starts before the caches it reads have the change that started it.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::dependency_index::{DependencyIndex, Dependent};
use super::tolerant::{self, Decoding};

/// What happened to one object of the cache.
enum Change<K: Resource<DynamicType = ()>> {
    /// Added or changed: the store has its current version.
    Stored(ObjectRef<K>),
    /// Gone from the store; its last version, for the owners and mappers it triggers.
    Deleted(Arc<K>),
}

type Subscribers<K> = Arc<Mutex<Vec<mpsc::UnboundedSender<Change<K>>>>>;

/// A watch cache of `K`; reads go to its [`Store`].
pub struct WatchCache<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    subscribers: Subscribers<K>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Clone for WatchCache<K> {
    fn clone(&self) -> Self {
        WatchCache {
            store: self.store.clone(),
            subscribers: self.subscribers.clone(),
        }
    }
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Deref for WatchCache<K> {
    type Target = Store<K>;

    fn deref(&self) -> &Store<K> {
        &self.store
    }
}

impl<K> WatchCache<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    /// Starts the watch of every `K` in the cluster as `watch` says, on the current runtime.
    pub fn start(client: &Client, watch: Watch<K>) -> Self {
        let Watch {
            config,
            decoding,
            trim,
            observer,
        } = watch;
        let (store, writer) = reflector::store::<K>();
        let subscribers: Subscribers<K> = Arc::default();
        let events = tolerant::watch(client, config, Some(store.clone()), decoding)
            .modify(trim)
            .map_ok(move |event| {
                if let Some(observe) = &observer {
                    observe(&event);
                }
                event
            })
            .reflect(writer);
        let (reader, fan_out) = (store.clone(), subscribers.clone());
        tokio::spawn(async move {
            let mut events = std::pin::pin!(events);
            while let Some(event) = events.next().await {
                match event {
                    Ok(event) => notify(&fan_out, changes_of(event, &reader)),
                    Err(error) => {
                        tracing::warn!(kind = %K::kind(&()), %error, "watch error; retrying");
                    }
                }
            }
        });
        WatchCache { store, subscribers }
    }
}

/// How a [`WatchCache`] watches its kind.
pub struct Watch<K> {
    config: watcher::Config,
    decoding: Decoding,
    trim: fn(&mut K),
    observer: Option<Observer<K>>,
}

/// Sees every watch event before the store applies it (a dependency index).
type Observer<K> = Box<dyn Fn(&watcher::Event<K>) + Send + Sync>;

impl<K> Watch<K> {
    /// Every object matching `config`; what does not decode is reported as `decoding` says.
    pub fn of(config: watcher::Config, decoding: Decoding) -> Self {
        Watch {
            config,
            decoding,
            trim: |_| {},
            observer: None,
        }
    }

    /// Takes out of each object what nobody reads before the cache keeps it.
    pub fn trimmed(self, trim: fn(&mut K)) -> Self {
        Watch { trim, ..self }
    }

    /// Keeps `index` up to date with the cache.
    pub fn indexed(self, index: Arc<DependencyIndex<K>>) -> Self
    where
        K: Dependent + 'static,
    {
        Watch {
            observer: Some(Box::new(move |event| index.observe(event))),
            ..self
        }
    }
}

impl<K> WatchCache<K>
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    /// Every object added, changed or deleted from now on, after the store has it; every
    /// object again after a re-list. For `Controller::owns_shared_stream` and
    /// `Controller::watches_shared_stream`. Nothing is dropped: a slow subscriber's backlog
    /// waits for it.
    pub fn changes(&self) -> impl Stream<Item = Arc<K>> + Send + 'static {
        self.subscribe(true)
    }

    /// A controller of the cached objects, triggered by every object the cache holds when it
    /// starts, then by each one added, or changed in what it asks for ([`Intent`]): a write of
    /// its status, by the controller itself, or its finalizers, is no reason to plan it again.
    pub fn controller(&self) -> Controller<K>
    where
        K: DeserializeOwned + std::fmt::Debug,
    {
        Controller::for_shared_stream(self.subscribe(false), self.store.clone())
    }

    /// Changes as [`Self::changes`]; for a controller (`with_deleted` false), every object held
    /// now first, as its own watch's first list would have, and then only changes of intent.
    fn subscribe(&self, with_deleted: bool) -> impl Stream<Item = Arc<K>> + Send + 'static {
        let (sender, receiver) = mpsc::unbounded_channel();
        {
            // Under the lock, so no change is missed between the replay and the subscription
            // (one may come twice, which only triggers a reconcile twice).
            let mut subscribers = lock(&self.subscribers);
            if !with_deleted {
                for object in self.store.state() {
                    let _ = sender.send(Change::Stored(ObjectRef::from_obj(object.as_ref())));
                }
            }
            subscribers.push(sender);
        }
        let store = self.store.clone();
        let intents = Intents::<K>::default();
        futures::stream::unfold((receiver, intents), move |(mut receiver, mut intents)| {
            let store = store.clone();
            async move {
                loop {
                    match receiver.recv().await? {
                        Change::Deleted(object) if with_deleted => {
                            return Some((object, (receiver, intents)));
                        }
                        Change::Deleted(object) => intents.forget(&object),
                        // Gone again since: its deletion follows.
                        Change::Stored(key) => {
                            let Some(object) = store.get(&key) else {
                                continue;
                            };
                            if with_deleted || intents.changed(key, &object) {
                                return Some((object, (receiver, intents)));
                            }
                        }
                    }
                }
            }
        })
    }

    /// A cache holding what `store` holds, with no watch behind it.
    #[cfg(test)]
    pub fn of(store: Store<K>) -> Self {
        WatchCache {
            store,
            subscribers: Arc::default(),
        }
    }
}

/// The last intent seen of each object a controller runs on.
struct Intents<K: Resource<DynamicType = ()>> {
    seen: HashMap<ObjectRef<K>, u64>,
}

impl<K: Resource<DynamicType = ()>> Default for Intents<K> {
    fn default() -> Self {
        Intents {
            seen: HashMap::new(),
        }
    }
}

impl<K: Resource<DynamicType = ()>> Intents<K> {
    /// Notes the intent of `object`, stored under `key`; whether it differs from the last one seen.
    fn changed(&mut self, key: ObjectRef<K>, object: &K) -> bool {
        let intent = intent(object.meta());
        self.seen.insert(key, intent) != Some(intent)
    }

    fn forget(&mut self, object: &K) {
        self.seen.remove(&ObjectRef::from_obj(object));
    }
}

/// A digest of what an object asks of its controller: its identity, its spec (through
/// `generation`, which the apiserver bumps on every spec change and when deletion starts), whether
/// it is being deleted, and its labels and annotations (which policies read). Status, finalizers
/// and managed fields are left out: the controller writes those itself.
fn intent(meta: &ObjectMeta) -> u64 {
    let mut hasher = DefaultHasher::new();
    meta.uid.hash(&mut hasher);
    meta.generation.hash(&mut hasher);
    meta.deletion_timestamp.is_some().hash(&mut hasher);
    meta.labels.hash(&mut hasher);
    meta.annotations.hash(&mut hasher);
    hasher.finish()
}

/// What one watch event, already applied to the store, changed.
fn changes_of<K>(event: watcher::Event<K>, store: &Store<K>) -> Vec<Change<K>>
where
    K: Resource<DynamicType = ()> + Clone,
{
    match event {
        watcher::Event::Apply(object) => vec![Change::Stored(ObjectRef::from_obj(&object))],
        watcher::Event::Delete(object) => vec![Change::Deleted(Arc::new(object))],
        // The store is replaced whole when a (re-)list is done.
        watcher::Event::InitDone => store
            .state()
            .iter()
            .map(|object| Change::Stored(ObjectRef::from_obj(object.as_ref())))
            .collect(),
        watcher::Event::Init | watcher::Event::InitApply(_) => Vec::new(),
    }
}

/// Sends every change to every subscriber still listening.
fn notify<K: Resource<DynamicType = ()>>(subscribers: &Subscribers<K>, changes: Vec<Change<K>>) {
    if changes.is_empty() {
        return;
    }
    let mut subscribers = lock(subscribers);
    for change in changes {
        subscribers.retain(|subscriber| subscriber.send(change.clone_ref()).is_ok());
    }
}

impl<K: Resource<DynamicType = ()>> Change<K> {
    fn clone_ref(&self) -> Self {
        match self {
            Change::Stored(key) => Change::Stored(key.clone()),
            Change::Deleted(object) => Change::Deleted(object.clone()),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the list half-updated.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aim_api::v1alpha1::AIMModel;
    use futures::FutureExt;
    use serde_json::json;

    fn model(name: &str, image: &str) -> AIMModel {
        serde_json::from_value(json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModel",
            "metadata": {"name": name, "namespace": "ml"}, "spec": {"image": image}
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn subscribers_get_each_change_after_the_store_has_it() {
        let (store, mut writer) = reflector::store::<AIMModel>();
        let cache = WatchCache::of(store.clone());
        let mut changes = Box::pin(cache.changes());

        let first = watcher::Event::Apply(model("llama", "a:1"));
        writer.apply_watcher_event(&first);
        let second = watcher::Event::Apply(model("llama", "a:2"));
        writer.apply_watcher_event(&second);
        // Both changes name the object; each is read from the store, so both see the latest.
        notify(&cache.subscribers, changes_of(first, &store));
        notify(&cache.subscribers, changes_of(second, &store));
        for _ in 0..2 {
            let seen = changes.next().await.unwrap();
            assert_eq!(seen.spec.common.image, "a:2");
        }

        let gone = watcher::Event::Delete(model("llama", "a:2"));
        writer.apply_watcher_event(&gone);
        notify(&cache.subscribers, changes_of(gone, &store));
        let seen = changes.next().await.unwrap();
        assert_eq!(seen.metadata.name.as_deref(), Some("llama"));
    }

    #[tokio::test]
    async fn a_controller_is_triggered_by_changes_of_intent_not_by_status_or_finalizers() {
        let (store, mut writer) = reflector::store::<AIMModel>();
        let cache = WatchCache::of(store.clone());
        let mut triggers = Box::pin(cache.subscribe(false));
        let status = |m: &mut AIMModel| m.status = Some(Default::default());
        let finalizer = |m: &mut AIMModel| m.metadata.finalizers = Some(vec!["x/y".into()]);
        let spec = |m: &mut AIMModel| m.metadata.generation = Some(2);
        let labels = |m: &mut AIMModel| {
            m.metadata.labels = Some([("team".to_owned(), "a".to_owned())].into());
        };
        let deleting = |m: &mut AIMModel| {
            m.metadata.deletion_timestamp =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
                ));
        };
        type Edit<'a> = &'a dyn Fn(&mut AIMModel);
        let steps: [(&str, Edit<'_>, bool); 6] = [
            ("first seen", &|_| {}, true),
            ("status written", &status, false),
            ("finalizer added", &finalizer, false),
            ("spec changed", &spec, true),
            ("labels changed", &labels, true),
            ("deletion started", &deleting, true),
        ];
        let mut object = model("llama", "a:1");
        object.metadata.generation = Some(1);
        for (step, change, triggers_a_reconcile) in steps {
            change(&mut object);
            let event = watcher::Event::Apply(object.clone());
            writer.apply_watcher_event(&event);
            notify(&cache.subscribers, changes_of(event, &store));
            let triggered = triggers.next().now_or_never().is_some();
            assert_eq!(triggered, triggers_a_reconcile, "{step}");
        }
    }

    #[test]
    fn a_finished_list_changes_every_object_of_the_store() {
        let (store, mut writer) = reflector::store::<AIMModel>();
        for event in [
            watcher::Event::Init,
            watcher::Event::InitApply(model("a", "x:1")),
            watcher::Event::InitApply(model("b", "x:1")),
            watcher::Event::InitDone,
        ] {
            writer.apply_watcher_event(&event);
            let changes = changes_of(event, &store);
            let done = store.state().len() == 2;
            assert_eq!(changes.len(), if done { 2 } else { 0 });
        }
    }
}
