//! Objects the operator cannot decode (see [`super::tolerant`]), recorded by the watches while
//! they run, standby replicas included, until the leader reports them
//! (`malformed_report.rs`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DynamicObject};
use tokio::sync::Notify;

/// One object that does not decode.
#[derive(Debug, Clone)]
pub struct Entry {
    pub resource: ApiResource,
    pub reference: ObjectReference,
    pub generation: Option<i64>,
    /// `<field path>: <why>`.
    pub message: String,
    /// Who writes its status, if the operator does.
    pub status_manager: Option<&'static str>,
    reported: bool,
}

/// `(apiVersion/kind, namespace, name)`.
type Key = (String, Option<String>, String);

/// Shared by every watch and the reporter.
#[derive(Clone, Default)]
pub struct Malformed {
    entries: Arc<Mutex<BTreeMap<Key, Entry>>>,
    changed: Arc<Notify>,
}

impl Malformed {
    /// Notes that `meta`'s object does not decode (its kind's one watch says who writes its
    /// status, if the operator does). A new object, generation or reason is
    /// reported again; the same one is not, so the reporter's own status write (a new
    /// resourceVersion, same generation) does not loop.
    pub fn record(
        &self,
        resource: &ApiResource,
        meta: &ObjectMeta,
        message: String,
        status_manager: Option<&'static str>,
    ) {
        let mut fresh = Entry {
            resource: resource.clone(),
            reference: reference(resource, meta),
            generation: meta.generation,
            message,
            status_manager,
            reported: false,
        };
        let key = key(resource, meta);
        let mut entries = self.lock();
        if let Some(known) = entries.get(&key) {
            fresh.reported = known.reported
                && known.reference.uid == fresh.reference.uid
                && known.generation == fresh.generation
                && known.message == fresh.message;
        }
        let pending = !fresh.reported;
        entries.insert(key, fresh);
        drop(entries);
        if pending {
            self.changed.notify_one();
        }
    }

    /// The object decodes again (its own controller writes its status from now on).
    pub fn clear(&self, resource: &ApiResource, meta: &ObjectMeta) {
        let mut entries = self.lock();
        // Every decoded watch event clears its object: almost always there is nothing to clear,
        // and then no key is built.
        if entries.is_empty() {
            return;
        }
        if entries.remove(&key(resource, meta)).is_some() {
            tracing::info!(kind = %resource.kind, object = ?meta.name, "a malformed object decodes again");
        }
    }

    /// The object is gone.
    pub fn forget(&self, resource: &ApiResource, object: &DynamicObject) {
        self.lock().remove(&key(resource, &object.metadata));
    }

    /// Every object that does not decode now.
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().values().cloned().collect()
    }

    /// Returns once an entry may be waiting to be reported.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Entries not reported yet, marked as reported.
    pub fn take_unreported(&self) -> Vec<Entry> {
        let mut entries = self.lock();
        entries
            .values_mut()
            .filter(|entry| !entry.reported)
            .map(|entry| {
                entry.reported = true;
                entry.clone()
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Key, Entry>> {
        // A panic while holding the lock cannot leave the map half-updated: recover it.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn key(resource: &ApiResource, meta: &ObjectMeta) -> Key {
    (
        format!("{}/{}", resource.api_version, resource.kind),
        meta.namespace.clone(),
        meta.name.clone().unwrap_or_default(),
    )
}

fn reference(resource: &ApiResource, meta: &ObjectMeta) -> ObjectReference {
    ObjectReference {
        api_version: Some(resource.api_version.clone()),
        kind: Some(resource.kind.clone()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        ..ObjectReference::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aim_api::v1alpha1::AIMService;

    fn meta(uid: &str, generation: i64) -> ObjectMeta {
        ObjectMeta {
            name: Some("chat".into()),
            namespace: Some("ml".into()),
            uid: Some(uid.into()),
            generation: Some(generation),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn the_same_version_and_reason_is_reported_once() {
        let malformed = Malformed::default();
        let resource = ApiResource::erase::<AIMService>(&());
        let record = |uid, generation| {
            malformed.record(
                &resource,
                &meta(uid, generation),
                "spec.replicas: bad".into(),
                Some("m"),
            );
        };
        record("u1", 1);
        assert_eq!(malformed.take_unreported().len(), 1);
        // The reporter's own status write: same generation, same reason.
        record("u1", 1);
        assert!(malformed.take_unreported().is_empty());
        // An edit that is still malformed, and a new object of the same name, are reported.
        record("u1", 2);
        assert_eq!(malformed.take_unreported().len(), 1);
        record("u2", 1);
        assert_eq!(malformed.take_unreported().len(), 1);
        malformed.clear(&resource, &meta("u2", 1));
        assert!(malformed.entries().is_empty());
    }
}
