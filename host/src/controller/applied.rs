//! What the operator last wrote to each child, so a reconcile that plans the same object again
//! sends nothing. An apply is skipped only when the body is the one last sent *and* the object in
//! the watch cache is still the one that write left behind: same UID, same `generation` (or, for
//! kinds without one, the same resourceVersion), same labels, annotations and owner references.
//! Another writer's change to the spec bumps the generation and a change to the metadata shows in
//! it, so either is taken back by the next reconcile, as an apply every time would.
//!
//! Kept in memory only: after a restart every child is applied once more.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, PoisonError};

use aim_api::policy::plan::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// Records kept before the first pruning; pruning again waits until twice as many are kept as
/// survived the last one, so its cost stays a small share of the applies.
const FIRST_PRUNE_AT: usize = 1024;

/// The operator's last write of each child it applied.
#[derive(Default)]
pub struct AppliedRecords {
    inner: Mutex<Records>,
}

#[derive(Default)]
struct Records {
    by_child: HashMap<ChildKey, Written>,
    prune_at: usize,
}

/// `kind`, namespace and name: how a child is found again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ChildKey {
    kind: String,
    namespace: Option<String>,
    name: String,
}

/// A write: what was sent, and the state of the object it left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Written {
    body: u64,
    left: u64,
}

impl AppliedRecords {
    /// Whether sending `body` for `reference` would change nothing: the last write sent this body
    /// and left the object `current` (the watch cache's copy) still is.
    pub fn unchanged(
        &self,
        reference: &ObjectReference,
        body: &Value,
        current: &ObjectMeta,
    ) -> bool {
        let expected = Written {
            body: body_hash(body),
            left: state_hash(current),
        };
        self.lock().by_child.get(&key(reference)) == Some(&expected)
    }

    /// Notes that `body` was written for `reference` and the apiserver answered with `result`.
    /// `still_there` says whether a child is still in the watch cache; records of children that are
    /// gone are dropped now and then, so the book stays as large as the operator's children.
    pub fn record(
        &self,
        reference: &ObjectReference,
        body: &Value,
        result: &ObjectMeta,
        still_there: impl Fn(&ObjectReference) -> bool,
    ) {
        let written = Written {
            body: body_hash(body),
            left: state_hash(result),
        };
        let mut records = self.lock();
        records.by_child.insert(key(reference), written);
        if records.by_child.len() >= records.prune_at.max(FIRST_PRUNE_AT) {
            records.by_child.retain(|child, _| {
                still_there(&ObjectReference {
                    api_version: String::new(),
                    kind: child.kind.clone(),
                    name: child.name.clone(),
                    namespace: child.namespace.clone(),
                })
            });
            records.prune_at = records.by_child.len() * 2;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn key(reference: &ObjectReference) -> ChildKey {
    ChildKey {
        kind: reference.kind.clone(),
        namespace: reference.namespace.clone(),
        name: reference.name.clone(),
    }
}

/// A digest of the body sent (its JSON text; serde_json keeps map keys sorted).
fn body_hash(body: &Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    body.to_string().hash(&mut hasher);
    hasher.finish()
}

/// A digest of what another writer's change would alter: identity, spec generation (or, without
/// one, the resourceVersion), labels, annotations and owners. Status and managed fields are left
/// out: others write status, and that is no reason to apply again.
fn state_hash(meta: &ObjectMeta) -> u64 {
    let mut hasher = DefaultHasher::new();
    meta.uid.hash(&mut hasher);
    match meta.generation {
        Some(generation) => generation.hash(&mut hasher),
        None => meta.resource_version.hash(&mut hasher),
    }
    meta.labels.hash(&mut hasher);
    meta.annotations.hash(&mut hasher);
    for owner in meta.owner_references.iter().flatten() {
        (&owner.uid, &owner.kind, &owner.name, owner.controller).hash(&mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reference() -> ObjectReference {
        ObjectReference {
            api_version: "serving.kserve.io/v1beta1".into(),
            kind: "InferenceService".into(),
            name: "llama".into(),
            namespace: Some("ml".into()),
        }
    }

    fn written(generation: i64) -> ObjectMeta {
        ObjectMeta {
            uid: Some("uid-1".into()),
            generation: Some(generation),
            resource_version: Some("10".into()),
            labels: Some([("app".to_owned(), "llama".to_owned())].into()),
            ..ObjectMeta::default()
        }
    }

    fn body() -> Value {
        json!({"kind": "InferenceService", "spec": {"predictor": {"minReplicas": 1}}})
    }

    fn recorded() -> AppliedRecords {
        let records = AppliedRecords::default();
        records.record(&reference(), &body(), &written(1), |_| true);
        records
    }

    #[test]
    fn the_same_body_over_the_object_the_last_write_left_is_not_sent_again() {
        assert!(recorded().unchanged(&reference(), &body(), &written(1)));
    }

    #[test]
    fn a_status_written_by_someone_else_is_no_reason_to_apply_again() {
        let mut current = written(1);
        current.resource_version = Some("11".into());
        assert!(recorded().unchanged(&reference(), &body(), &current));
    }

    #[test]
    fn a_changed_plan_is_applied() {
        let changed =
            json!({"kind": "InferenceService", "spec": {"predictor": {"minReplicas": 2}}});
        assert!(!recorded().unchanged(&reference(), &changed, &written(1)));
    }

    #[test]
    fn another_writers_spec_edit_is_taken_back() {
        assert!(!recorded().unchanged(&reference(), &body(), &written(2)));
    }

    #[test]
    fn another_writers_label_edit_is_taken_back() {
        let mut current = written(1);
        current.labels = Some([("app".to_owned(), "other".to_owned())].into());
        assert!(!recorded().unchanged(&reference(), &body(), &current));
    }

    #[test]
    fn a_recreated_object_of_the_same_name_is_applied() {
        let mut current = written(1);
        current.uid = Some("uid-2".into());
        assert!(!recorded().unchanged(&reference(), &body(), &current));
    }

    #[test]
    fn without_a_generation_any_new_version_is_applied() {
        let records = AppliedRecords::default();
        let mut left = written(1);
        left.generation = None;
        records.record(&reference(), &body(), &left, |_| true);
        assert!(records.unchanged(&reference(), &body(), &left));
        left.resource_version = Some("11".into());
        assert!(!records.unchanged(&reference(), &body(), &left));
    }

    #[test]
    fn records_of_children_that_are_gone_are_pruned() {
        let records = AppliedRecords::default();
        for index in 1..FIRST_PRUNE_AT {
            let mut child = reference();
            child.name = format!("gone-{index}");
            records.record(&child, &body(), &written(1), |_| true);
        }
        records.record(&reference(), &body(), &written(1), |child| {
            child.name == "llama"
        });
        assert_eq!(records.lock().by_child.len(), 1);
        assert!(records.unchanged(&reference(), &body(), &written(1)));
    }
}
