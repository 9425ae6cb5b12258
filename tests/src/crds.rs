//! Installs CustomResourceDefinitions from YAML files and waits until the apiserver serves them.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, ResourceExt as _};
use serde::Deserialize as _;
use tokio::task::JoinSet;

const ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(30);

/// Every CRD document in `files` (multi-document YAML is fine, empty documents are skipped).
pub fn load(files: &[PathBuf]) -> Result<Vec<CustomResourceDefinition>> {
    let mut crds = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = serde_yaml::Value::deserialize(doc)
                .with_context(|| format!("parsing {}", file.display()))?;
            if value.is_null() {
                continue;
            }
            let crd: CustomResourceDefinition = serde_yaml::from_value(value)
                .with_context(|| format!("{} is not a CustomResourceDefinition", file.display()))?;
            crds.push(crd);
        }
    }
    Ok(crds)
}

/// Server-side applies `crds` and waits for each to be `Established`. Returns their names.
///
/// All at once: the apiserver spends most of the time compiling each schema (KServe's is about a
/// megabyte), and it does that for several CRDs in parallel.
pub async fn install(client: &Client, crds: &[CustomResourceDefinition]) -> Result<Vec<String>> {
    let mut tasks = JoinSet::new();
    for crd in crds {
        let api: Api<CustomResourceDefinition> = Api::all(client.clone());
        let crd = crd.clone();
        tasks.spawn(async move { apply_and_wait(api, crd).await });
    }
    let mut names = Vec::with_capacity(crds.len());
    while let Some(done) = tasks.join_next().await {
        names.push(done.context("CRD install task")??);
    }
    names.sort();
    Ok(names)
}

async fn apply_and_wait(
    api: Api<CustomResourceDefinition>,
    crd: CustomResourceDefinition,
) -> Result<String> {
    let name = crd.name_any();
    let params = PatchParams::apply("aim-testenv").force();
    api.patch(&name, &params, &Patch::Apply(&crd))
        .await
        .with_context(|| format!("applying CRD {name}"))?;
    let established = await_condition(api, &name, conditions::is_crd_established());
    match tokio::time::timeout(ESTABLISHED_TIMEOUT, established).await {
        Ok(Ok(_)) => Ok(name),
        Ok(Err(e)) => Err(e).with_context(|| format!("waiting for CRD {name}")),
        Err(_) => bail!("CRD {name} not Established after {ESTABLISHED_TIMEOUT:?}"),
    }
}
