//! Watches that decode object by object. kube's typed watcher decodes a whole list at once, so a
//! single object that does not match our types (written past validation: raw into etcd, through
//! an older CRD version, or by a tool with another schema) fails every list: the cache never
//! fills, the operator never becomes ready, and every other object waits. Here each object is
//! decoded on its own. One that fails is left out (its last good version is taken out of the
//! cache, so nothing acts on stale data), recorded in [`Malformed`] with the field and the
//! reason, and the others carry on.

use std::fmt::Debug;

use futures::{Stream, TryStreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use super::identity::OPERATOR_MANAGERS;
use super::malformed::Malformed;

/// What a watch needs to report what it cannot decode.
#[derive(Clone)]
pub struct Decoding {
    pub malformed: Malformed,
    /// The field manager that writes this kind's status, when the operator owns it.
    pub status_manager: Option<&'static str>,
}

impl Decoding {
    /// Reports into `malformed`, writing the status of such objects as `manager`.
    pub fn writing_status(malformed: &Malformed, manager: &'static str) -> Self {
        Decoding {
            malformed: malformed.clone(),
            status_manager: Some(manager),
        }
    }

    /// Reports into `malformed`; the status of such objects is not the operator's to write, or
    /// another watch of the same kind writes it.
    pub fn report_only(malformed: &Malformed) -> Self {
        Decoding {
            malformed: malformed.clone(),
            status_manager: None,
        }
    }
}

/// Every `K` matching `config`, decoded one by one. `cache` is the store this stream fills, if
/// any: an object whose new version cannot be decoded is deleted from it.
pub fn watch<K>(
    client: &Client,
    config: watcher::Config,
    cache: Option<Store<K>>,
    decoding: Decoding,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let resource = ApiResource::erase::<K>(&());
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    watcher(api, config)
        .default_backoff()
        .try_filter_map(move |event| {
            let decoded = decode_event(event, &resource, cache.as_ref(), &decoding);
            futures::future::ready(Ok(decoded))
        })
}

/// One watch event with its object decoded as `K`; `None` when there is nothing to pass on.
fn decode_event<K>(
    event: watcher::Event<DynamicObject>,
    resource: &ApiResource,
    cache: Option<&Store<K>>,
    decoding: &Decoding,
) -> Option<watcher::Event<K>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned,
{
    use watcher::Event;
    match event {
        Event::Init => Some(Event::Init),
        Event::InitDone => Some(Event::InitDone),
        Event::InitApply(object) => decode(object, resource, decoding)
            .ok()
            .map(Event::InitApply),
        Event::Apply(object) => match decode(object, resource, decoding) {
            Ok(decoded) => Some(Event::Apply(decoded)),
            Err(key) => last_good(cache, &key).map(Event::Delete),
        },
        Event::Delete(object) => {
            let key = key_of::<K>(&object);
            decoding.malformed.forget(resource, &object);
            match serde_json::from_value::<K>(as_json(object)) {
                Ok(decoded) => Some(Event::Delete(decoded)),
                Err(_) => last_good(cache, &key).map(Event::Delete),
            }
        }
    }
}

/// Decodes `object` as `K`, recording the outcome in [`Malformed`]; the object's key if it fails.
fn decode<K>(
    object: DynamicObject,
    resource: &ApiResource,
    decoding: &Decoding,
) -> Result<K, ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + DeserializeOwned,
{
    let key = key_of::<K>(&object);
    let meta = identity(&object.metadata);
    match serde_path_to_error::deserialize::<_, K>(as_json(object)) {
        Ok(decoded) => {
            decoding.malformed.clear(resource, &meta);
            Ok(decoded)
        }
        Err(error) => {
            let field = error.path().to_string();
            let message = format!("{field}: {}", error.into_inner());
            tracing::warn!(kind = %resource.kind, object = %key, %message, "left out an object that does not decode");
            decoding
                .malformed
                .record(resource, &meta, message, decoding.status_manager);
            Err(key)
        }
    }
}

/// What [`Malformed`] reads of an object: who it is and which version. Copying this rather than
/// the whole metadata (labels, annotations, managed fields) keeps every decoded watch event from
/// copying what nothing reads.
fn identity(meta: &ObjectMeta) -> ObjectMeta {
    ObjectMeta {
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        generation: meta.generation,
        ..ObjectMeta::default()
    }
}

/// The version of `key` the cache holds, if any.
fn last_good<K>(cache: Option<&Store<K>>, key: &ObjectRef<K>) -> Option<K>
where
    K: Resource<DynamicType = ()> + Clone,
{
    cache?.get(key).map(|object| (*object).clone())
}

fn key_of<K: Resource<DynamicType = ()>>(object: &DynamicObject) -> ObjectRef<K> {
    let name = object.metadata.name.clone().unwrap_or_default();
    match object.metadata.namespace.as_deref() {
        Some(namespace) => ObjectRef::new(&name).within(namespace),
        None => ObjectRef::new(&name),
    }
}

/// The object as the apiserver sent it: its fields, `apiVersion`, `kind` and `metadata`, with
/// its managed fields cut to the names of the operator's managers among them and of one other.
/// Those say whether the operator wrote the object and who else did (controller/ownership.rs);
/// the field sets are often larger than the rest of the object, and dropping them here keeps them
/// out of every decode and every cache.
fn as_json(mut object: DynamicObject) -> serde_json::Value {
    object.metadata.managed_fields = object.metadata.managed_fields.map(writers);
    let mut json = match object.data {
        serde_json::Value::Object(fields) => fields,
        _ => serde_json::Map::new(),
    };
    if let Some(types) = object.types {
        json.insert("apiVersion".into(), types.api_version.into());
        json.insert("kind".into(), types.kind.into());
    }
    json.insert(
        "metadata".into(),
        serde_json::to_value(object.metadata).unwrap_or_default(),
    );
    serde_json::Value::Object(json)
}

/// The distinct managers of `entries` the operator needs: its own, and the first other one.
fn writers(entries: Vec<ManagedFieldsEntry>) -> Vec<ManagedFieldsEntry> {
    let mut kept: Vec<ManagedFieldsEntry> = Vec::new();
    let mut other_kept = false;
    for manager in entries.into_iter().filter_map(|entry| entry.manager) {
        if kept.iter().any(|m| m.manager.as_ref() == Some(&manager)) {
            continue;
        }
        let own = OPERATOR_MANAGERS.contains(&manager.as_str());
        if own || !other_kept {
            other_kept |= !own;
            kept.push(ManagedFieldsEntry {
                manager: Some(manager),
                ..ManagedFieldsEntry::default()
            });
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use aim_api::v1alpha1::AIMService;
    use kube::runtime::reflector;
    use serde_json::json;

    fn object(spec: serde_json::Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
            "metadata": {"name": "chat", "namespace": "ml", "uid": "u1", "generation": 2},
            "spec": spec
        }))
        .unwrap()
    }

    fn decoding() -> Decoding {
        Decoding {
            malformed: Malformed::default(),
            status_manager: Some("aim-service-controller"),
        }
    }

    #[test]
    fn only_the_names_of_managed_fields_managers_reach_the_decoded_object() {
        let mut with_fields = object(json!({"model": {"ref": "llama"}}));
        let entry = |manager: &str| ManagedFieldsEntry {
            manager: Some(manager.to_owned()),
            operation: Some("Apply".to_owned()),
            fields_v1: Some(Default::default()),
            ..ManagedFieldsEntry::default()
        };
        with_fields.metadata.managed_fields = Some(vec![
            entry("kubectl"),
            entry("aim-service-controller"),
            entry("kubectl"),
            entry("helm"),
            entry("aim-service-controller"),
        ]);
        let event = decode_event::<AIMService>(
            watcher::Event::Apply(with_fields),
            &ApiResource::erase::<AIMService>(&()),
            None,
            &decoding(),
        );
        let Some(watcher::Event::Apply(service)) = event else {
            panic!("not passed on: {event:?}");
        };
        let managers = |name: &str| ManagedFieldsEntry {
            manager: Some(name.to_owned()),
            ..ManagedFieldsEntry::default()
        };
        assert_eq!(
            service.metadata.managed_fields,
            Some(vec![
                managers("kubectl"),
                managers("aim-service-controller")
            ])
        );
    }

    #[test]
    fn an_object_that_decodes_is_passed_on() {
        let decoding = decoding();
        let event = decode_event::<AIMService>(
            watcher::Event::Apply(object(json!({"model": {"ref": "llama"}}))),
            &ApiResource::erase::<AIMService>(&()),
            None,
            &decoding,
        );
        assert!(matches!(event, Some(watcher::Event::Apply(_))));
        assert!(decoding.malformed.entries().is_empty());
    }

    #[test]
    fn an_object_that_does_not_decode_is_left_out_and_recorded_with_its_field() {
        let decoding = decoding();
        let resource = ApiResource::erase::<AIMService>(&());
        let bad = object(json!({"model": {"ref": "llama"}, "replicas": "lots"}));
        let event = decode_event::<AIMService>(
            watcher::Event::InitApply(bad.clone()),
            &resource,
            None,
            &decoding,
        );
        assert!(event.is_none());
        let entries = decoding.malformed.entries();
        assert_eq!(entries.len(), 1);
        assert!(
            entries[0].message.starts_with("spec.replicas: "),
            "{}",
            entries[0].message
        );

        // Deleted: forgotten, and nothing to take out of a cache that never held it.
        let event =
            decode_event::<AIMService>(watcher::Event::Delete(bad), &resource, None, &decoding);
        assert!(event.is_none());
        assert!(decoding.malformed.entries().is_empty());
    }

    #[test]
    fn a_good_object_whose_new_version_does_not_decode_is_taken_out_of_the_cache() {
        let decoding = decoding();
        let resource = ApiResource::erase::<AIMService>(&());
        let (reader, mut writer) = reflector::store::<AIMService>();
        let good: AIMService =
            serde_json::from_value(as_json(object(json!({"model": {"ref": "llama"}})))).unwrap();
        writer.apply_watcher_event(&watcher::Event::Apply(good));
        let event = decode_event::<AIMService>(
            watcher::Event::Apply(object(
                json!({"model": {"ref": "llama"}, "replicas": "many"}),
            )),
            &resource,
            Some(&reader),
            &decoding,
        );
        assert!(
            matches!(event, Some(watcher::Event::Delete(s)) if s.metadata.name.as_deref() == Some("chat"))
        );

        // Fixed: passed on again, and no longer malformed.
        let event = decode_event::<AIMService>(
            watcher::Event::Apply(object(json!({"model": {"ref": "llama"}, "replicas": 2}))),
            &resource,
            Some(&reader),
            &decoding,
        );
        assert!(matches!(event, Some(watcher::Event::Apply(_))));
        assert!(decoding.malformed.entries().is_empty());
    }
}
