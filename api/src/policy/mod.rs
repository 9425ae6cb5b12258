//! The documents exchanged with policies: what the host observed (an [`observation`]) and what the
//! policy wants done (a [`plan`]). Both are versioned JSON; their JSON Schema is generated from
//! these types and committed under `wit/schema/`, so policies in any language share one contract.

pub mod observation;
pub mod plan;

/// `apiVersion` of every observation document this host writes.
pub const OBSERVATION_API_VERSION: &str = "aim.silogen.ai/observation/v1";
/// `apiVersion` of every plan document a policy must return.
pub const PLAN_API_VERSION: &str = "aim.silogen.ai/plan/v1";

/// The JSON Schema of every policy document, as `(file name, schema)`, for authors of policies in
/// other languages. The committed copies live in `wit/schema/`.
pub fn json_schemas() -> Vec<(&'static str, serde_json::Value)> {
    use schemars::schema_for;
    let schemas = [
        (
            "service-observation",
            schema_for!(observation::ServiceObservation),
        ),
        (
            "template-observation",
            schema_for!(observation::TemplateObservation),
        ),
        (
            "model-observation",
            schema_for!(observation::ModelObservation),
        ),
        (
            "template-cache-observation",
            schema_for!(observation::TemplateCacheObservation),
        ),
        (
            "model-cache-observation",
            schema_for!(observation::ModelCacheObservation),
        ),
        ("plan", schema_for!(plan::Plan)),
    ];
    schemas
        .into_iter()
        .map(|(name, schema)| (name, schema.to_value()))
        .collect()
}
