//! Whether what KServe or the Gateway reports is about what the plan asks for now. The plan is made
//! before it is applied, so the observed InferenceService or HTTPRoute may still be the previous
//! one: every planned object carries a hash of its spec in an annotation, and readiness counts only
//! when the observed object carries the planned hash and its controller reported at its current
//! generation.

use aim_api::conditions::annotations::SPEC_HASH;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::hash::sha256_hex;

/// Annotates `metadata` with the hash of `spec`, and returns the hash.
pub fn stamp(metadata: &mut ObjectMeta, spec: &impl Serialize) -> String {
    let hash = spec_hash(spec);
    metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(SPEC_HASH.to_owned(), hash.clone());
    hash
}

/// The hash of a spec: of its JSON, whose keys serde writes in a fixed order.
pub fn spec_hash(spec: &impl Serialize) -> String {
    let json = serde_json::to_string(spec).unwrap_or_default();
    let mut hash = sha256_hex(json);
    hash.truncate(16);
    hash
}

/// Whether the observed object is the one the plan applies: it carries the planned hash. When the
/// plan does not apply the object this time (`planned` is `None`), whatever exists is current.
pub fn is_planned(metadata: &ObjectMeta, planned: Option<&str>) -> bool {
    let Some(planned) = planned else {
        return true;
    };
    metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SPEC_HASH))
        .is_some_and(|hash| hash == planned)
}

/// Whether a report made at `observed` is about generation `generation`. A report that does not
/// say which generation it saw is taken as current: only one known to be older is stale.
pub fn reported_at_current(generation: Option<i64>, observed: Option<i64>) -> bool {
    match (generation, observed) {
        (Some(generation), Some(observed)) => observed >= generation,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    #[test]
    fn the_hash_is_sixteen_hex_of_the_specs_json_and_stamped_on_the_object() {
        let mut metadata = ObjectMeta::default();
        let hash = stamp(&mut metadata, &json!({"replicas": 2}));
        // sha256 of `{"replicas":2}`.
        assert_eq!(hash, "7beb3ba39c1d7ed5");
        assert_eq!(
            metadata.annotations,
            Some(BTreeMap::from([(
                "aim.silogen.ai/spec-hash".to_owned(),
                "7beb3ba39c1d7ed5".to_owned()
            )]))
        );
        assert_ne!(spec_hash(&json!({"replicas": 3})), hash);
    }

    #[test]
    fn only_an_object_with_the_planned_hash_is_the_planned_one() {
        let mut metadata = ObjectMeta::default();
        assert!(!is_planned(&metadata, Some("a")), "no hash yet");
        assert!(is_planned(&metadata, None), "nothing planned this time");
        stamp(&mut metadata, &json!({"replicas": 2}));
        assert!(is_planned(&metadata, Some("7beb3ba39c1d7ed5")));
        assert!(!is_planned(&metadata, Some("0000000000000000")));
    }

    #[test]
    fn a_report_at_an_older_generation_is_stale() {
        assert!(reported_at_current(Some(2), Some(2)));
        assert!(!reported_at_current(Some(2), Some(1)));
        assert!(reported_at_current(Some(2), None));
        assert!(reported_at_current(None, Some(1)));
    }
}
