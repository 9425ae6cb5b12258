//! Property tests of observation decoding and planning (`planner::plan_json`) for every flow:
//! arbitrary text, arbitrary JSON, and the valid observations in `corpus/plan/valid/<flow>/` with
//! fields replaced, removed, added and spliced. Planning never panics; it answers with a plan or a
//! `PolicyFailure`, and a plan is JSON the host can decode, the same for the same observation.
//! `corpus/plan/regressions/<flow>/` holds observations that once broke planning; each run
//! replays them.

#![allow(clippy::unwrap_used)]

mod support;

use aim_api::policy::plan::Plan;
use aim_api::policy::{OBSERVATION_API_VERSION, PLAN_API_VERSION};
use aim_policy_default::PolicyFailure;
use aim_policy_default::advisor::NoAdvice;
use aim_policy_default::planner::{SubjectKind, plan_json};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value};

use support::{FIELD_NAMES, TRICKY_STRINGS, config, corpus_dir, corpus_files, json, key, text};

/// Corpus directory name of each flow.
const FLOWS: [(&str, SubjectKind); 5] = [
    ("service", SubjectKind::Service),
    ("template", SubjectKind::Template),
    ("model", SubjectKind::Model),
    ("template-cache", SubjectKind::TemplateCache),
    ("model-cache", SubjectKind::ModelCache),
];

/// Plans `document` and checks what every answer must satisfy; returns the plan when there is one.
fn check_plan(flow: SubjectKind, document: &str) -> Option<Value> {
    let result = plan_json(flow, document, &NoAdvice);
    match &result {
        Ok(plan) => {
            let value: Value = serde_json::from_str(plan)
                .unwrap_or_else(|error| panic!("{flow:?}: the plan is not JSON ({error}): {plan}"));
            assert_eq!(value["apiVersion"], PLAN_API_VERSION, "{flow:?}: {plan}");
            if let Err(error) = serde_json::from_value::<Plan>(value.clone()) {
                panic!("{flow:?}: the host cannot decode the plan ({error}): {plan}");
            }
            assert_eq!(
                plan_json(flow, document, &NoAdvice),
                result,
                "{flow:?}: the same observation planned differently"
            );
            Some(value)
        }
        Err(PolicyFailure::InvalidInput(message)) => {
            assert!(!message.is_empty(), "{flow:?}: an empty failure message");
            None
        }
        Err(PolicyFailure::Rejected { reason, message }) => {
            assert!(
                !reason.is_empty() && !message.is_empty(),
                "{flow:?}: a rejection without reason or message"
            );
            None
        }
    }
}

/// The valid observations of each flow, parsed.
fn valid_observations() -> Vec<(SubjectKind, String, Value)> {
    FLOWS
        .iter()
        .flat_map(|(dir, flow)| {
            corpus_files(&corpus_dir(&["plan", "valid", dir]))
                .into_iter()
                .map(move |(name, text)| {
                    let value = serde_json::from_str(&text)
                        .unwrap_or_else(|error| panic!("valid/{dir}/{name}: {error}"));
                    (*flow, format!("{dir}/{name}"), value)
                })
        })
        .collect()
}

/// One change to an observation, applied at a node chosen among all of its nodes.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the node with this value.
    Replace(Value),
    /// Keep the node's type: a text becomes `text` (`quantity` when it starts with a digit, as
    /// sizes do), a number `number`, a boolean its opposite.
    Similar {
        text: String,
        quantity: String,
        number: Value,
    },
    /// Replace the node with a node of any valid observation: a realistic value, often of the right
    /// shape.
    Splice(Index, Index),
    /// Replace the node with a node that any valid observation has under the same field name.
    SpliceSameField(Index),
    /// Pick a field name the observation uses, and set one field of that name to the value.
    Field(Index, Index, Value),
    /// Remove the node from its object or array.
    Remove,
    /// Add or overwrite a field, when the node is an object; append, when it is an array.
    Insert(String, Value),
    /// Replace a text with a prefix of itself plus a suffix (a truncated or extended value).
    Edit(Index, String),
    /// Duplicate an array element.
    Duplicate,
    /// Empty an object or array.
    Clear,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let value = prop_oneof![
        3 => prop::sample::select(TRICKY_STRINGS).prop_map(Value::from),
        2 => support::quantity().prop_map(Value::from),
        2 => support::number(),
        3 => json(),
    ];
    let field = prop_oneof![
        3 => prop::sample::select(FIELD_NAMES).prop_map(str::to_owned),
        1 => key(),
    ];
    prop_oneof![
        2 => value.clone().prop_map(Mutation::Replace),
        4 => (text(), support::quantity(), support::number())
            .prop_map(|(text, quantity, number)| Mutation::Similar { text, quantity, number }),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(source, node)| Mutation::Splice(source, node)),
        3 => any::<Index>().prop_map(Mutation::SpliceSameField),
        4 => (any::<Index>(), any::<Index>(), value.clone())
            .prop_map(|(field, at, value)| Mutation::Field(field, at, value)),
        2 => Just(Mutation::Remove),
        3 => (field, value).prop_map(|(key, value)| Mutation::Insert(key, value)),
        3 => (any::<Index>(), text()).prop_map(|(at, suffix)| Mutation::Edit(at, suffix)),
        1 => Just(Mutation::Duplicate),
        1 => Just(Mutation::Clear),
    ]
}

/// JSON pointers of every node of `value`, the root included.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                pointers(child, format!("{at}/{escaped}"), out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{index}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

fn all_pointers(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    pointers(value, String::new(), &mut out);
    out
}

fn last_segment(pointer: &str) -> &str {
    pointer.rsplit_once('/').map_or("", |(_, last)| last)
}

fn apply(
    document: &mut Value,
    node: &Index,
    change: &Mutation,
    valid: &[(SubjectKind, String, Value)],
) {
    // The root itself is only a target for new fields: replacing it loses the whole observation.
    let targets = all_pointers(document);
    if let Mutation::Field(field, choice, value) = change {
        let mut fields: Vec<&str> = targets
            .iter()
            .map(|at| last_segment(at))
            .filter(|field| field.parse::<usize>().is_err())
            .collect();
        fields.sort_unstable();
        fields.dedup();
        if fields.is_empty() {
            return;
        }
        let field = *field.get(&fields);
        let named: Vec<&String> = targets
            .iter()
            .filter(|at| last_segment(at) == field)
            .collect();
        let at = (*choice.get(&named)).clone();
        *document.pointer_mut(&at).unwrap() = value.clone();
        return;
    }
    let pointer = node.get(&targets).clone();
    if pointer.is_empty() && !matches!(change, Mutation::Insert(..)) {
        return;
    }
    let target = document.pointer_mut(&pointer).unwrap();
    match change {
        Mutation::Replace(value) => *target = value.clone(),
        Mutation::Similar {
            text,
            quantity,
            number,
        } => match target {
            Value::String(old) if old.starts_with(|c: char| c.is_ascii_digit()) => {
                *target = Value::from(quantity.clone());
            }
            Value::String(_) => *target = Value::from(text.clone()),
            Value::Number(_) => *target = number.clone(),
            Value::Bool(flag) => *flag = !*flag,
            _ => {}
        },
        Mutation::Splice(source, node) => {
            let donor = &source.get(valid).2;
            let donor_nodes = all_pointers(donor);
            let at: &String = node.get(&donor_nodes);
            *target = donor.pointer(at).unwrap().clone();
        }
        Mutation::SpliceSameField(choice) => {
            let field = last_segment(&pointer);
            let donors: Vec<&Value> = valid
                .iter()
                .flat_map(|(_, _, donor)| {
                    all_pointers(donor)
                        .into_iter()
                        .filter(|at| last_segment(at) == field)
                        .map(move |at| donor.pointer(&at).unwrap())
                })
                .collect();
            if !donors.is_empty() {
                *target = (*choice.get(&donors)).clone();
            }
        }
        Mutation::Field(..) => unreachable!("applied above"),
        Mutation::Remove => {
            let (parent, last) = pointer.rsplit_once('/').unwrap();
            let key = last.replace("~1", "/").replace("~0", "~");
            match document.pointer_mut(parent).unwrap() {
                Value::Object(map) => {
                    map.remove(&key);
                }
                Value::Array(items) => {
                    items.remove(key.parse::<usize>().unwrap());
                }
                _ => unreachable!("a parent is a container"),
            }
        }
        Mutation::Insert(key, value) => match target {
            Value::Object(map) => {
                map.insert(key.clone(), value.clone());
            }
            Value::Array(items) => items.push(value.clone()),
            _ => {}
        },
        Mutation::Edit(at, suffix) => {
            if let Value::String(text) = target {
                let boundaries: Vec<usize> = text
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain([text.len()])
                    .collect();
                text.truncate(*at.get(&boundaries));
                text.push_str(suffix);
            }
        }
        Mutation::Duplicate => {
            if let Value::Array(items) = target
                && let Some(first) = items.first().cloned()
            {
                items.push(first);
            }
        }
        Mutation::Clear => match target {
            Value::Object(map) => map.clear(),
            Value::Array(items) => items.clear(),
            _ => {}
        },
    }
}

/// An observation-shaped object: the right `apiVersion` (mostly) and arbitrary top-level fields.
fn observation_like() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            4 => Just(Value::from(OBSERVATION_API_VERSION)),
            1 => json(),
        ],
        prop::collection::vec(
            (
                prop::sample::select(FIELD_NAMES).prop_map(str::to_owned),
                json(),
            ),
            0..6,
        ),
    )
        .prop_map(|(version, fields)| {
            let mut map: Map<String, Value> = fields.into_iter().collect();
            map.insert("apiVersion".to_owned(), version);
            Value::Object(map)
        })
}

/// What a discovery Job may print: arbitrary text, or a profile array whose fields hold anything.
fn discovery_log() -> impl Strategy<Value = String> {
    let field = || prop_oneof![2 => text().prop_map(Value::from), 1 => json()];
    let model = (field(), field(), prop_oneof![support::number(), json()]).prop_map(
        |(name, source, size)| serde_json::json!({"name": name, "source": source, "size_gb": size}),
    );
    let profile = (
        (field(), field(), prop_oneof![support::number(), json()], field(), field()),
        prop::collection::btree_map(text(), field(), 0..3),
        prop::collection::vec(model, 0..4),
    )
        .prop_map(|((engine, gpu, gpu_count, metric, precision), env, models)| {
            serde_json::json!([{"profile": {
                "metadata": {"engine": engine, "gpu": gpu, "gpu_count": gpu_count, "metric": metric, "precision": precision},
                "engine_args": {"tensor-parallel-size": 1},
                "env_vars": env,
            }, "models": models}])
            .to_string()
        });
    prop_oneof![3 => profile, 1 => text()]
}

fn flow() -> impl Strategy<Value = SubjectKind> {
    prop::sample::select(FLOWS.map(|(_, flow)| flow).to_vec())
}

#[test]
fn every_valid_observation_plans_successfully() {
    for (flow, name, observation) in valid_observations() {
        assert!(
            check_plan(flow, &observation.to_string()).is_some(),
            "valid/{name} does not plan: {:?}",
            plan_json(flow, &observation.to_string(), &NoAdvice)
        );
    }
}

#[test]
fn every_corpus_regression_plans_or_fails_without_panicking() {
    for (dir, flow) in FLOWS {
        let path = corpus_dir(&["plan", "regressions", dir]);
        if !path.is_dir() {
            continue;
        }
        for (_, text) in corpus_files(&path) {
            check_plan(flow, &text);
        }
    }
}

proptest! {
    #![proptest_config(config("proptest-regressions/fuzz_plan.txt", 1000))]

    #[test]
    fn arbitrary_text_is_refused_as_invalid_input(flow in flow(), document in text()) {
        let result = plan_json(flow, &document, &NoAdvice);
        prop_assert!(matches!(result, Err(PolicyFailure::InvalidInput(_))), "{result:?}");
    }

    #[test]
    fn arbitrary_json_observations_plan_or_fail_without_panicking(
        flow in flow(),
        document in prop_oneof![json(), observation_like()],
    ) {
        check_plan(flow, &document.to_string());
    }

    #[test]
    fn mutated_valid_observations_plan_or_fail_without_panicking(
        pick in any::<Index>(),
        changes in prop::collection::vec((any::<Index>(), mutation()), 1..5),
    ) {
        let valid = valid_observations_cached();
        let (flow, _, base) = pick.get(valid);
        let mut document = base.clone();
        for (node, change) in &changes {
            apply(&mut document, node, change, valid);
        }
        check_plan(*flow, &document.to_string());
    }

    #[test]
    fn any_discovery_log_of_a_succeeded_job_plans_or_fails_without_panicking(
        log in discovery_log(),
        cached in any::<bool>(),
    ) {
        let (_, _, succeeded) = valid_observations_cached()
            .iter()
            .find(|(_, name, _)| name == "template/discovery-succeeded.json")
            .unwrap();
        let mut document = succeeded.clone();
        document["discoveryLog"] = Value::from(log);
        if !cached {
            document.as_object_mut().unwrap().remove("templateCaches");
        }
        check_plan(SubjectKind::Template, &document.to_string());
    }

    #[test]
    fn a_valid_observation_planned_for_another_flow_fails_without_panicking(
        pick in any::<Index>(),
        flow in flow(),
    ) {
        let (_, _, document) = pick.get(valid_observations_cached());
        check_plan(flow, &document.to_string());
    }
}

fn valid_observations_cached() -> &'static [(SubjectKind, String, Value)] {
    static VALID: std::sync::OnceLock<Vec<(SubjectKind, String, Value)>> =
        std::sync::OnceLock::new();
    VALID.get_or_init(valid_observations)
}
