//! Recording Events (`events.k8s.io/v1`), repeats folded into a series as Kubernetes' own
//! recorders do: the first occurrence creates the Event, a repeat within ten minutes patches its
//! `series` (count and last time seen). kube-runtime's recorder keeps every Event it sent, whole,
//! to do that: about 4 KB each, 9 MB at 1000 services. This keeps a hash of what makes Events
//! the same and the few fields a repeat needs.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::EventType;
use serde_json::json;

/// How long a repeat still joins the series of an earlier Event.
const SERIES_WINDOW: Duration = Duration::from_secs(600);

/// One Event worth recording.
#[derive(Debug, Clone, Copy)]
pub struct Occurrence<'a> {
    pub type_: EventType,
    pub reason: &'a str,
    pub note: &'a str,
    pub action: &'a str,
}

/// What a repeat needs of the Event it joins.
struct Sent {
    namespace: String,
    name: String,
    count: i32,
    last_seen: Instant,
}

/// Records the operator's Events; cheap to share.
pub struct EventRecorder {
    client: Client,
    controller: String,
    instance: String,
    sent: Mutex<HashMap<u64, Sent>>,
    hasher: std::collections::hash_map::RandomState,
}

impl EventRecorder {
    pub fn new(client: Client, controller: &str, instance: Option<String>) -> Self {
        EventRecorder {
            client,
            controller: controller.to_owned(),
            instance: instance.unwrap_or_else(|| controller.to_owned()),
            sent: Mutex::default(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// Records `occurrence` on the object `regarding` names: a new Event, or the next count of
    /// the series of the same Event sent within the window.
    pub async fn publish(
        &self,
        occurrence: Occurrence<'_>,
        regarding: &ObjectReference,
    ) -> Result<(), kube::Error> {
        let key = self.key_of(&occurrence, regarding);
        let now = Instant::now();
        let repeat = {
            let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
            sent.retain(|_, s| now.duration_since(s.last_seen) < SERIES_WINDOW);
            sent.get_mut(&key).map(|s| {
                s.count += 1;
                s.last_seen = now;
                (s.namespace.clone(), s.name.clone(), s.count)
            })
        };
        if let Some((namespace, name, count)) = repeat {
            let series = EventSeries {
                count,
                last_observed_time: MicroTime(Timestamp::now()),
            };
            let events: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
            let patch = json!({"series": series});
            let patched = events
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await;
            if patched.is_err() {
                // Gone (Events expire) or unreachable: the next occurrence starts a new Event.
                let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
                sent.remove(&key);
            }
            return patched.map(|_| ());
        }
        let event = self.event(&occurrence, regarding);
        let namespace = event.metadata.namespace.clone().unwrap_or_default();
        let name = event.metadata.name.clone().unwrap_or_default();
        let events: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        events.create(&PostParams::default(), &event).await?;
        let sent = Sent {
            namespace,
            name,
            count: 1,
            last_seen: now,
        };
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, sent);
        Ok(())
    }

    /// What makes two Events the same: who reports, what about, and what happened.
    fn key_of(&self, occurrence: &Occurrence<'_>, regarding: &ObjectReference) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        (matches!(occurrence.type_, EventType::Warning)).hash(&mut hasher);
        occurrence.reason.hash(&mut hasher);
        occurrence.note.hash(&mut hasher);
        occurrence.action.hash(&mut hasher);
        (&regarding.api_version, &regarding.kind).hash(&mut hasher);
        (&regarding.namespace, &regarding.name, &regarding.uid).hash(&mut hasher);
        hasher.finish()
    }

    fn event(&self, occurrence: &Occurrence<'_>, regarding: &ObjectReference) -> Event {
        let now = Timestamp::now();
        // Cluster-scoped objects' Events go to `default`, as kubectl looks for them there.
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let about = regarding.name.as_deref().unwrap_or(&self.controller);
        Event {
            metadata: ObjectMeta {
                name: Some(format!("{about}.{:x}", now.as_nanosecond())),
                namespace: Some(namespace),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(now)),
            type_: Some(
                match occurrence.type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .to_owned(),
            ),
            reason: Some(occurrence.reason.to_owned()),
            note: Some(occurrence.note.to_owned()),
            action: Some(occurrence.action.to_owned()),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Event::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str, uid: &str) -> ObjectReference {
        ObjectReference {
            api_version: Some("aim.silogen.ai/v1alpha1".into()),
            kind: Some("AIMService".into()),
            name: Some(name.into()),
            namespace: Some("ml".into()),
            uid: Some(uid.into()),
            ..ObjectReference::default()
        }
    }

    fn occurrence(note: &str) -> Occurrence<'_> {
        Occurrence {
            type_: EventType::Warning,
            reason: "PolicyTimeout",
            note,
            action: "Reconcile",
        }
    }

    async fn recorder() -> EventRecorder {
        // Never contacted: these tests only build keys and Events.
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        EventRecorder::new(Client::try_from(config).unwrap(), "aim-engine", None)
    }

    #[tokio::test]
    async fn the_same_occurrence_on_the_same_object_is_one_series() {
        let recorder = recorder().await;
        let chat = reference("chat", "u1");
        let key = recorder.key_of(&occurrence("slow"), &chat);
        assert_eq!(key, recorder.key_of(&occurrence("slow"), &chat));
        assert_ne!(key, recorder.key_of(&occurrence("slower"), &chat));
        assert_ne!(
            key,
            recorder.key_of(&occurrence("slow"), &reference("chat", "u2"))
        );
    }

    #[tokio::test]
    async fn an_event_names_its_object_reporter_and_namespace() {
        let recorder = recorder().await;
        let event = recorder.event(&occurrence("slow"), &reference("chat", "u1"));
        assert!(event.metadata.name.unwrap().starts_with("chat."));
        assert_eq!(event.metadata.namespace.as_deref(), Some("ml"));
        assert_eq!(event.type_.as_deref(), Some("Warning"));
        assert_eq!(event.reporting_controller.as_deref(), Some("aim-engine"));
        assert_eq!(event.reporting_instance.as_deref(), Some("aim-engine"));
        let mut cluster_scoped = reference("llama", "u3");
        cluster_scoped.namespace = None;
        let event = recorder.event(&occurrence("slow"), &cluster_scoped);
        assert_eq!(event.metadata.namespace.as_deref(), Some("default"));
    }
}
