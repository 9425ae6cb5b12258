//! Reading the objects `render` works on from YAML or JSON files and directories. Every error
//! names the file, the document and, for a malformed object, the field at fault.

use std::path::{Path, PathBuf};

use kube::Resource;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::strict;
use crate::snapshot::ClusterSnapshot;

/// How a fixture's golden output is named: `<case>.expected.yaml` beside `<case>.yaml`; never read as
/// input.
pub const EXPECTED_SUFFIX: &str = ".expected.yaml";

/// Why the input could not be read: where (file, document, object) and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {problem}")]
pub struct InputError {
    /// `file`, or `file: document N (Kind namespace/name)`.
    pub location: String,
    /// What is wrong, naming the field when one is at fault.
    pub problem: String,
}

impl InputError {
    fn at(path: &Path, problem: impl std::fmt::Display) -> Self {
        Self {
            location: path.display().to_string(),
            problem: problem.to_string(),
        }
    }
}

/// Loads every `.yaml`, `.yml` and `.json` file given, walking directories in name order (and
/// skipping the `<case>.expected.yaml` goldens of fixture directories).
pub fn load(paths: &[PathBuf]) -> Result<ClusterSnapshot, InputError> {
    let mut snapshot = ClusterSnapshot::default();
    for path in paths {
        let files = files_under(path)?;
        if files.is_empty() {
            return Err(InputError::at(path, "no YAML or JSON files found"));
        }
        for file in files {
            load_file(&file, &mut snapshot)?;
        }
    }
    Ok(snapshot)
}

fn files_under(path: &Path) -> Result<Vec<PathBuf>, InputError> {
    let read_error = |source: std::io::Error| InputError::at(path, source);
    if !path.is_dir() {
        std::fs::metadata(path).map_err(read_error)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(read_error)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        // Golden outputs of fixtures are what render printed, not input.
        let golden = entry
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.ends_with(EXPECTED_SUFFIX));
        if entry.is_dir() {
            files.extend(files_under(&entry)?);
        } else if !golden
            && matches!(
                entry.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        {
            files.push(entry);
        }
    }
    Ok(files)
}

fn load_file(path: &Path, snapshot: &mut ClusterSnapshot) -> Result<(), InputError> {
    let text = std::fs::read_to_string(path).map_err(|source| InputError::at(path, source))?;
    load_text(path, &text, snapshot)
}

/// Adds the objects of one YAML or JSON text to `snapshot`; `source` names it in errors.
pub fn load_text(
    source: &Path,
    text: &str,
    snapshot: &mut ClusterSnapshot,
) -> Result<(), InputError> {
    let path = source;
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let number = index + 1;
        let value = serde_yaml::Value::deserialize(document).map_err(|source| InputError {
            location: format!("{}: document {number}", path.display()),
            problem: format!("not valid YAML: {source}"),
        })?;
        if value.is_null() {
            continue;
        }
        let json = serde_json::to_value(&value).map_err(|error| InputError {
            location: format!("{}: document {number}", path.display()),
            problem: error.to_string(),
        })?;
        add(Document { path, number, json }, snapshot)?;
    }
    Ok(())
}

struct Document<'a> {
    path: &'a Path,
    number: usize,
    json: serde_json::Value,
}

impl Document<'_> {
    fn shape(&self, detail: impl Into<String>) -> InputError {
        InputError {
            location: format!("{}: document {}", self.path.display(), self.number),
            problem: detail.into(),
        }
    }

    /// `file: document N (Kind namespace/name)`.
    fn object_location(&self, kind: &str) -> String {
        let meta = &self.json["metadata"];
        let name = match (meta["namespace"].as_str(), meta["name"].as_str()) {
            (Some(ns), Some(name)) => format!("{ns}/{name}"),
            (None, Some(name)) => name.to_owned(),
            _ => "<unnamed>".to_owned(),
        };
        format!(
            "{}: document {} ({kind} {name})",
            self.path.display(),
            self.number
        )
    }

    /// Parses the object and adds it to `list`, unless an object of the same name is already
    /// there: identical copies (examples that each carry the cluster's Nodes, rendered together)
    /// are one object; different ones are an error, since a cluster holds each object once.
    fn add_to<T>(&self, list: &mut Vec<T>, kind: &str) -> Result<(), InputError>
    where
        T: DeserializeOwned + Serialize + Resource,
    {
        let object: T = self.parse(kind)?;
        let same = |other: &T| {
            other.meta().name == object.meta().name
                && other.meta().namespace == object.meta().namespace
        };
        match list.iter().find(|other| same(other)) {
            None => {
                list.push(object);
                Ok(())
            }
            Some(earlier)
                if serde_json::to_value(earlier).ok() == serde_json::to_value(&object).ok() =>
            {
                Ok(())
            }
            Some(_) => Err(InputError {
                location: self.object_location(kind),
                problem: "given twice, with different content; a cluster holds each object once"
                    .to_owned(),
            }),
        }
    }

    fn parse<T: DeserializeOwned>(&self, kind: &str) -> Result<T, InputError> {
        let parsed = serde_path_to_error::deserialize(&self.json).map_err(|error| InputError {
            location: self.object_location(kind),
            problem: format!("field `{}`: {}", error.path(), error.inner()),
        })?;
        // Only AIM kinds: Nodes, Pods and the like are pasted from clusters of any version, whose
        // fields aim-engine's copy of their schema need not know.
        if self.json["apiVersion"] == aim_api::API_VERSION
            && let Some(problem) = strict::unknown_field(kind, &self.json)
        {
            return Err(InputError {
                location: self.object_location(kind),
                problem,
            });
        }
        Ok(parsed)
    }
}

/// Sorts a document into the snapshot by its `apiVersion` and `kind`.
fn add(document: Document<'_>, snapshot: &mut ClusterSnapshot) -> Result<(), InputError> {
    let api_version = document.json["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let kind = document.json["kind"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if api_version.is_empty() || kind.is_empty() {
        return Err(document.shape("every object needs `apiVersion` and `kind`"));
    }
    let s = snapshot;
    match (api_version.as_str(), kind.as_str()) {
        (aim_api::API_VERSION, "AIMService") => document.add_to(&mut s.services, &kind)?,
        (aim_api::API_VERSION, "AIMModel") => document.add_to(&mut s.models, &kind)?,
        (aim_api::API_VERSION, "AIMClusterModel") => {
            document.add_to(&mut s.cluster_models, &kind)?
        }
        (aim_api::API_VERSION, "AIMServiceTemplate") => document.add_to(&mut s.templates, &kind)?,
        (aim_api::API_VERSION, "AIMClusterServiceTemplate") => {
            document.add_to(&mut s.cluster_templates, &kind)?
        }
        (aim_api::API_VERSION, "AIMRuntimeConfig") => {
            document.add_to(&mut s.runtime_configs, &kind)?
        }
        (aim_api::API_VERSION, "AIMClusterRuntimeConfig") => {
            document.add_to(&mut s.cluster_runtime_configs, &kind)?
        }
        (aim_api::API_VERSION, "AIMTemplateCache") => {
            document.add_to(&mut s.template_caches, &kind)?
        }
        (aim_api::API_VERSION, "AIMModelCache") => document.add_to(&mut s.model_caches, &kind)?,
        ("v1", "Node") => document.add_to(&mut s.nodes, &kind)?,
        ("v1", "PersistentVolumeClaim") => {
            document.add_to(&mut s.persistent_volume_claims, &kind)?
        }
        ("v1", "Pod") => document.add_to(&mut s.pods, &kind)?,
        ("serving.kserve.io/v1beta1", "InferenceService") => {
            document.add_to(&mut s.inference_services, &kind)?
        }
        ("gateway.networking.k8s.io/v1", "HTTPRoute") => {
            document.add_to(&mut s.http_routes, &kind)?
        }
        // Secrets, ServiceAccounts and the like carry nothing a policy decides from.
        ("v1", _) => {}
        _ => {
            return Err(document.shape(format!(
                "{api_version} {kind} is not a kind aim-engine reads"
            )));
        }
    }
    Ok(())
}
