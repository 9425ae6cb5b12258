//! Planning: an observation document in, a plan document out, one entry point per reconciled
//! kind. Documents are decoded into the typed observations of `aim_api::policy`, so a malformed
//! one is refused with the field at fault instead of being half-understood.

use aim_api::policy::OBSERVATION_API_VERSION;
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::PolicyFailure;
use crate::advisor::Advisor;

/// The kind of subject a plan is made for; each has its own WIT function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    Service,
    Template,
    Model,
    TemplateCache,
    ModelCache,
}

/// Plans a subject of `kind` from the observation JSON and returns the plan JSON; `advisor` is
/// the custom policy's say in it. The document is decoded
/// straight into the flow's typed observation, without building a `serde_json::Value` of it first:
/// a first pass reads only `apiVersion` (skipping everything else without allocating), so a
/// document of another version is refused as such before its fields are looked at.
pub fn plan_json(
    kind: SubjectKind,
    observation_json: &str,
    advisor: &dyn Advisor,
) -> Result<String, PolicyFailure> {
    let probe: VersionProbe = serde_json::from_str(observation_json).map_err(|error| {
        PolicyFailure::InvalidInput(format!("observation is not valid JSON: {error}"))
    })?;
    check_version(probe.0.as_deref())?;
    let plan = match kind {
        SubjectKind::Service => {
            crate::service::plan_service(&decode_str(observation_json)?, advisor)
        }
        SubjectKind::Template => crate::flows::plan_template(&decode_str(observation_json)?),
        SubjectKind::Model => crate::flows::plan_model(&decode_str(observation_json)?),
        SubjectKind::TemplateCache => {
            crate::flows::plan_template_cache(&decode_str(observation_json)?)
        }
        SubjectKind::ModelCache => crate::flows::plan_model_cache(&decode_str(observation_json)?),
    }?;
    serde_json::to_string(&plan)
        .map_err(|error| PolicyFailure::InvalidInput(format!("plan could not be encoded: {error}")))
}

fn check_version(version: Option<&str>) -> Result<(), PolicyFailure> {
    if version == Some(OBSERVATION_API_VERSION) {
        return Ok(());
    }
    Err(PolicyFailure::InvalidInput(format!(
        "observation apiVersion {version:?} is not supported; expected {OBSERVATION_API_VERSION:?}"
    )))
}

/// The `apiVersion` of a JSON document when it is an object with a string there; the rest of the
/// document is only checked to be JSON.
struct VersionProbe(Option<String>);

impl<'de> Deserialize<'de> for VersionProbe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(VersionProbeVisitor)
    }
}

struct VersionProbeVisitor;

impl<'de> Visitor<'de> for VersionProbeVisitor {
    type Value = VersionProbe;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VersionProbe, A::Error> {
        let mut version = None;
        while let Some(IsVersionKey(is_version)) = map.next_key()? {
            if is_version {
                // The last one counts, as when the document is read whole.
                version = map.next_value::<Value>()?.as_str().map(str::to_owned);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(VersionProbe(version))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<VersionProbe, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(VersionProbe(None))
    }

    fn visit_bool<E>(self, _: bool) -> Result<VersionProbe, E> {
        Ok(VersionProbe(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<VersionProbe, E> {
        Ok(VersionProbe(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<VersionProbe, E> {
        Ok(VersionProbe(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<VersionProbe, E> {
        Ok(VersionProbe(None))
    }

    fn visit_str<E>(self, _: &str) -> Result<VersionProbe, E> {
        Ok(VersionProbe(None))
    }

    fn visit_unit<E>(self) -> Result<VersionProbe, E> {
        Ok(VersionProbe(None))
    }
}

/// Whether a key is `apiVersion`, read without copying it.
struct IsVersionKey(bool);

impl<'de> Deserialize<'de> for IsVersionKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = IsVersionKey;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a key")
            }

            fn visit_str<E>(self, key: &str) -> Result<IsVersionKey, E> {
                Ok(IsVersionKey(key == "apiVersion"))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Decodes the whole document into `T`, naming the field at fault. The message is the one a
/// decode from a `Value` gives: without the line and column serde_json adds when it reads text
/// (an observation is one line, so they say nothing the path does not).
fn decode_str<T: DeserializeOwned>(observation_json: &str) -> Result<T, PolicyFailure> {
    let mut deserializer = serde_json::Deserializer::from_str(observation_json);
    let decoded: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    decoded.map_err(|error| {
        let inner = error.inner();
        let message = inner.to_string();
        let position = format!(" at line {} column {}", inner.line(), inner.column());
        PolicyFailure::InvalidInput(format!(
            "observation field `{}`: {}",
            error.path(),
            message.strip_suffix(&position).unwrap_or(&message)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisor::NoAdvice;

    #[test]
    fn malformed_or_foreign_observations_are_invalid_input() {
        for document in ["not json", "[]", r#"{"apiVersion":"v9"}"#] {
            assert!(
                matches!(
                    plan_json(SubjectKind::Model, document, &NoAdvice),
                    Err(PolicyFailure::InvalidInput(_))
                ),
                "{document}"
            );
        }
    }

    #[test]
    fn a_malformed_observation_names_the_field_at_fault() {
        let document = r#"{"apiVersion":"aim.silogen.ai/observation/v1","service":{"metadata":{"name":"x"},"spec":{"model":{},"replicas":"three"}}}"#;
        let Err(PolicyFailure::InvalidInput(message)) =
            plan_json(SubjectKind::Service, document, &NoAdvice)
        else {
            panic!("expected invalid input");
        };
        assert!(message.contains("service.spec.replicas"), "{message}");
    }
}
