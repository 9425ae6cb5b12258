//! `aim-engine policy diff --policy NEW.wasm`: before a rollout, plans every AIMService of a live
//! cluster twice, with the policy in force for it (the AIMPolicy its runtime config selects, or
//! the embedded default) and with the candidate, and prints what would change per service.
//! Nothing is written to the cluster. Exit 0 when nothing would change, 1 when something would,
//! 2 when a service could not be compared.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use aim_api::v1alpha1::{AIMPolicy, AIMService};
use anyhow::{Context, bail};
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};

use crate::cluster::policy_source::{SourceRules, fetch_component, limits_of};
use crate::cluster::registry::RegistryAccess;
use crate::controller::{NamespaceScope, Stores};
use crate::observe::Observe;
use crate::policy::{
    CacheLocation, Digest, LoadedPolicy, OutputRules, PolicyLimits, PolicyRuntime, PolicySet,
    RuntimeConfig, load_default_policy,
};
use crate::render::diff::compare;
use crate::render::plan_service;

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The candidate policy component.
    #[arg(long, value_name = "NEW.wasm")]
    policy: PathBuf,
    /// Compare only the services whose runtime config selects this AIMPolicy, with the candidate
    /// as its next version; without it, every service is compared as if it selected the candidate.
    #[arg(long, value_name = "AIMPOLICY")]
    replaces: Option<String>,
    /// Only services in these namespaces (repeat the flag or separate with commas).
    #[arg(short = 'n', long = "namespace", value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Namespace of the operator, where AIMPolicy ConfigMaps live.
    #[arg(long, env = "AIM_OPERATOR_NAMESPACE", default_value = "aim-system")]
    operator_namespace: String,
}

pub fn run_diff(args: &DiffArgs, limits: PolicyLimits) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(diff(args, limits))
}

async fn diff(args: &DiffArgs, limits: PolicyLimits) -> anyhow::Result<ExitCode> {
    let wasm = std::fs::read(&args.policy)
        .with_context(|| format!("reading {}", args.policy.display()))?;
    let policies = PolicyRuntime::new(RuntimeConfig::one_shot(CacheLocation::Default))?;
    let default = load_default_policy(&policies)?;
    let rules = Arc::new(OutputRules::new(args.operator_namespace.clone()));
    let candidate = policies
        .load(&wasm, None, limits)
        .with_context(|| format!("loading {}", args.policy.display()))?;
    let candidate = PolicySet::new(Some(Arc::new(candidate)), default.clone(), rules.clone());

    let client = Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let stores = Stores::start(&client, NamespaceScope::new(args.namespaces.clone()));
    if !stores.wait_until_ready().await {
        bail!("could not read the cluster's objects");
    }
    let services = list_services(&client, &args.namespaces).await?;

    let mut in_force = InForce {
        client: &client,
        runtime: &policies,
        default,
        rules,
        operator_namespace: &args.operator_namespace,
        loaded: HashMap::new(),
    };
    let (mut compared, mut changed, mut failed) = (0, 0, 0);
    for service in &services {
        let namespace = service.namespace().unwrap_or_default();
        let observation = stores.service_observation(service);
        let selected = observation.runtime_configs.policy_name().map(str::to_owned);
        if args.replaces.is_some() && selected != args.replaces {
            continue;
        }
        compared += 1;
        let name = format!("{namespace}/{}", service.name_any());
        let before = match in_force.set(selected.as_deref()).await {
            Ok(set) => plan_service(&stores, service, &set),
            Err(error) => {
                failed += 1;
                println!("AIMService {name}: cannot compare: {error}");
                continue;
            }
        };
        let after = plan_service(&stores, service, &candidate);
        let label = selected.as_deref().unwrap_or("default");
        let (text, differs) = compare(&name, (label, "candidate"), &before, &after);
        print!("{text}");
        if differs {
            changed += 1;
        }
    }
    println!(
        "{compared} services compared, {changed} would change, {failed} could not be compared"
    );
    Ok(if failed > 0 {
        ExitCode::from(2)
    } else if changed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The services in `namespaces` (all when empty), by namespace and name. Read directly: the
/// watch caches hold what services depend on, not the services themselves.
async fn list_services(client: &Client, namespaces: &[String]) -> anyhow::Result<Vec<AIMService>> {
    let apis: Vec<Api<AIMService>> = if namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        namespaces
            .iter()
            .map(|n| Api::namespaced(client.clone(), n))
            .collect()
    };
    let mut services = Vec::new();
    for api in apis {
        services.extend(
            api.list(&ListParams::default())
                .await
                .context("listing AIMServices")?
                .items,
        );
    }
    services.sort_by_key(|s| (s.namespace(), s.name_any()));
    Ok(services)
}

/// The policy sets in force, loaded from the cluster's AIMPolicies on first use.
struct InForce<'a> {
    client: &'a Client,
    runtime: &'a PolicyRuntime,
    default: Arc<LoadedPolicy>,
    rules: Arc<OutputRules>,
    operator_namespace: &'a str,
    loaded: HashMap<String, Result<PolicySet, String>>,
}

impl InForce<'_> {
    async fn set(&mut self, policy: Option<&str>) -> Result<PolicySet, String> {
        let Some(name) = policy else {
            return Ok(PolicySet::new(
                None,
                self.default.clone(),
                self.rules.clone(),
            ));
        };
        if !self.loaded.contains_key(name) {
            let loaded = self.load(name).await;
            self.loaded.insert(name.to_owned(), loaded);
        }
        self.loaded
            .get(name)
            .cloned()
            .unwrap_or_else(|| Err(format!("AIMPolicy {name} could not be loaded")))
    }

    /// The active version of AIMPolicy `name`: read from its source and checked against the
    /// digest its status says is active.
    async fn load(&self, name: &str) -> Result<PolicySet, String> {
        let api: Api<AIMPolicy> = Api::all(self.client.clone());
        let policy = api
            .get_opt(name)
            .await
            .map_err(|e| format!("reading AIMPolicy {name}: {e}"))?
            .ok_or_else(|| format!("AIMPolicy {name} does not exist"))?;
        let active = policy
            .status
            .as_ref()
            .and_then(|s| s.active_digest.as_deref())
            .ok_or_else(|| format!("AIMPolicy {name} has no active version"))?
            .parse::<Digest>()
            .map_err(|e| e.to_string())?;
        if policy.spec.source.path.is_some() {
            return Err(format!(
                "AIMPolicy {name} reads a file inside the operator's pod, which cannot be read from here"
            ));
        }
        // Run by the user on their own machine and network: their registries are theirs to reach.
        let registry = RegistryAccess {
            allow_private_networks: true,
            ..RegistryAccess::default()
        };
        let rules = SourceRules {
            registry: &registry,
            roots: &[],
        };
        let wasm = fetch_component(
            self.client,
            self.operator_namespace,
            &policy.spec.source,
            rules,
        )
        .await
        .map_err(|e| e.to_string())?;
        let loaded = self
            .runtime
            .load(&wasm, Some(&active), limits_of(&policy.spec))
            .map_err(|e| {
                format!("the component at AIMPolicy {name}'s source is not its active version: {e}")
            })?;
        Ok(PolicySet::new(
            Some(Arc::new(loaded)),
            self.default.clone(),
            self.rules.clone(),
        ))
    }
}
