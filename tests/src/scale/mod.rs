//! The scale benchmark: many AIMServices of a realistic mix against the real apiserver, the
//! `aim-engine run` binary reconciling them in a process of its own, and the rest of the cluster
//! (KServe, a Gateway controller, a storage provisioner, Job pods) played by [`simulate`]. It
//! measures, per run: the time until every service is Running, reconciles per second, the
//! operator's API requests per service (its `aim_api_requests_total`), its CPU time and peak RSS
//! (`/proc`), and the policy's share of reconcile time (its histogram sums).
//!
//! Figures are printed, never asserted: speed depends on the machine. `scale-bench` runs it;
//! `host/tests/scale_bench.rs` runs a small size so it cannot rot.

mod figures;
mod mix;
mod scrape;
mod simulate;
mod startup;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams};
use serde_json::Value;

use crate::operator::{Launch, OperatorProcess};
use crate::{TestEnv, TestNamespace, fixtures};

pub use figures::{Figures, report};
pub use mix::Kind;
pub use scrape::Scrape;
pub use startup::{Startup, measure_startup, startup_report};

use simulate::{Services, Simulator};

/// How the operator runs the default policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Engine {
    Wasm,
    Native,
}

impl Engine {
    /// The value of `aim-engine run --policy-engine`.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Wasm => "wasm",
            Engine::Native => "native",
        }
    }
}

/// One run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// AIMServices to create.
    pub services: usize,
    pub engine: Engine,
    /// Services per namespace (the last namespace may have fewer).
    pub per_namespace: usize,
    /// The `aim-engine` binary.
    pub operator: PathBuf,
    /// `aim-engine run --concurrency`; the operator's default when `None`.
    pub concurrency: Option<u16>,
    /// `XDG_CACHE_HOME` of the operator: keep it across runs so the policy is compiled once.
    pub cache_home: PathBuf,
    /// How long all services may take to reach Running.
    pub timeout: Duration,
    /// Delete everything the run made, and wait for it, before stopping the operator. Needed on a
    /// control plane that outlives the run; pointless on one stopped right after.
    pub clean_up: bool,
}

/// Service creations in flight at once, as a deployment pipeline applying many manifests would.
const CREATING: usize = 16;
/// How long setup objects may take to become Ready.
const SETUP: Duration = Duration::from_secs(120);
/// How long the operator may take to fill its watch caches (a cold start compiles the policy).
const STARTUP: Duration = Duration::from_secs(180);
/// How long it may take to stop on SIGTERM.
const EXIT: Duration = Duration::from_secs(30);

/// Runs the benchmark once on `env`: namespaces, node, models and templates first, then the
/// operator, then the services, measured from the first creation until all are Running.
/// With [`Settings::clean_up`], everything it made is deleted before it returns, while the
/// operator still runs (services and caches have finalizers only it removes).
pub async fn run(env: &TestEnv, settings: &Settings) -> Result<Figures> {
    anyhow::ensure!(settings.services > 0, "no services to run");
    anyhow::ensure!(settings.per_namespace > 0, "no services per namespace");
    let count = settings.services.div_ceil(settings.per_namespace);
    let mut namespaces = Vec::with_capacity(count);
    for _ in 0..count {
        namespaces.push(TestNamespace::create(env).await?);
    }
    let names: Vec<String> = namespaces.iter().map(|ns| ns.name().to_owned()).collect();
    let client = env.client().await?;
    let outcome = measure(env, &client, &namespaces, &names, settings).await;
    // Dropping the namespaces deletes them (and the node) in the background; teardown already
    // waited where it mattered.
    drop(namespaces);
    outcome
}

async fn measure(
    env: &TestEnv,
    client: &Client,
    namespaces: &[TestNamespace],
    names: &[String],
    settings: &Settings,
) -> Result<Figures> {
    let first = namespaces.first().context("no namespace")?;
    fixtures::create_node(
        first,
        "mi300x",
        &[(fixtures::AMD_GPU_DEVICE_ID, fixtures::MI300X_DEVICE_ID)],
        8,
    )
    .await?;
    for ns in namespaces {
        for object in mix::namespace_objects() {
            create(client, ns.name(), object).await?;
        }
    }

    let log_dir = tempfile::tempdir()?;
    let mut args = vec![
        "--leader-elect=false".to_owned(),
        "--policy-engine".to_owned(),
        settings.engine.as_str().to_owned(),
    ];
    if !names.is_empty() {
        args.extend(["--namespace".to_owned(), names.join(",")]);
    }
    if let Some(concurrency) = settings.concurrency {
        args.extend(["--concurrency".to_owned(), concurrency.to_string()]);
    }
    let mut operator = OperatorProcess::spawn(Launch {
        binary: settings.operator.clone(),
        kubeconfig: env.kubeconfig().to_owned(),
        operator_namespace: first.name().to_owned(),
        args,
        cache_home: settings.cache_home.clone(),
        log: log_dir.path().join("operator.log"),
        log_level: "warn".to_owned(),
    })
    .await?;
    operator.ready(STARTUP).await?;
    let scope: Arc<BTreeSet<String>> = Arc::new(names.iter().cloned().collect());
    // Kept until the namespaces are gone: deleting claims needs it too.
    let simulator = Simulator::start(client, scope.clone());
    let result = drive(client, &operator, &simulator, scope, names, settings).await;
    let teardown = if settings.clean_up {
        teardown(client, names).await
    } else {
        Ok(())
    };
    drop(simulator);
    let stopped = operator.terminate(EXIT).await;
    let figures =
        result.map_err(|e| e.context(format!("operator log:\n{}", operator.log_tail(40))))?;
    teardown?;
    stopped?;
    Ok(figures)
}

/// The measured part: settle, create the services, wait for Running, read the figures.
async fn drive(
    client: &Client,
    operator: &OperatorProcess,
    simulator: &Simulator,
    scope: Arc<BTreeSet<String>>,
    names: &[String],
    settings: &Settings,
) -> Result<Figures> {
    templates_ready(client, names).await?;
    let services = Services::watch(client, scope);

    let before = Scrape::parse(&operator.metrics().await?);
    let usage_before = operator.usage()?;
    let started = Instant::now();
    futures::stream::iter(0..settings.services)
        .map(|index| {
            let namespace = &names[index / settings.per_namespace];
            create(client, namespace, mix::service(index))
        })
        .buffer_unordered(CREATING)
        .try_collect::<Vec<()>>()
        .await?;
    let created = started.elapsed();
    let last_running = services
        .all_running(settings.services, settings.timeout)
        .await
        .map_err(|e| {
            let (marked, failed) = simulator.counts();
            e.context(format!(
                "simulated status writes: {marked} made, {failed} failed"
            ))
        })?;
    let until_running = last_running.saturating_duration_since(started);
    let usage = operator.usage()?;
    let after = Scrape::parse(&operator.metrics().await?);
    Ok(Figures::between(
        settings,
        names.len(),
        created,
        until_running,
        &before,
        &after,
        usage_before,
        usage,
    ))
}

/// Waits until every namespace's templates are Ready, so the run measures services, not setup.
async fn templates_ready(client: &Client, names: &[String]) -> Result<()> {
    let resource = aim_resource("AIMServiceTemplate");
    for namespace in names {
        let api = Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource);
        for template in mix::TEMPLATES {
            crate::wait_for(&api, template, SETUP, |t| {
                t.data["status"]["status"] == "Ready"
            })
            .await
            .with_context(|| format!("template {namespace}/{template}"))?;
        }
    }
    Ok(())
}

/// Deletes the namespaces and waits until they are gone.
async fn teardown(client: &Client, names: &[String]) -> Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    for name in names {
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error).with_context(|| format!("deleting {name}")),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    for name in names {
        while api.get_opt(name).await?.is_some() {
            if Instant::now() >= deadline {
                bail!("namespace {name} was not deleted within 10 minutes");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    Ok(())
}

fn aim_resource(kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("aim.silogen.ai", "v1alpha1", kind))
}

async fn create(client: &Client, namespace: &str, object: Value) -> Result<()> {
    let kind = object["kind"].as_str().unwrap_or_default().to_owned();
    let object: DynamicObject = serde_json::from_value(object)?;
    let api =
        Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &aim_resource(&kind));
    api.create(&PostParams::default(), &object)
        .await
        .with_context(|| format!("creating {kind} in {namespace}"))?;
    Ok(())
}

/// Compiles the default policy into the precompile cache under `cache_home` (XDG_CACHE_HOME), so
/// every run's operator starts as a restarted one does, loading it from the cache.
pub fn warm_policy_cache(operator: &std::path::Path, cache_home: &std::path::Path) -> Result<()> {
    let output = std::process::Command::new(operator)
        .args(["policy", "bench", "--default", "--iterations", "1"])
        .env("XDG_CACHE_HOME", cache_home)
        .output()
        .with_context(|| format!("running {}", operator.display()))?;
    if !output.status.success() {
        bail!(
            "compiling the default policy failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
