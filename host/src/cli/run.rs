//! `aim-engine run`: the operator. Connects with the in-cluster service account or the kubeconfig,
//! serves health and metrics, fills the watch caches, runs every controller while it holds the
//! leader lease, and on SIGTERM or Ctrl-C lets running reconciles finish and gives the lease up.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use super::pod_rules::PodRulesArgs;
use crate::cluster::registry::RegistryAccess;
use crate::controller::{self, NamespaceScope, Settings, Stores};
use crate::operator::leader::{self, Leadership};
use crate::operator::{Metrics, Readiness, api_requests, health, memory_limit, signal};
use crate::policy::{
    DEFAULT_CACHE_MAX_BYTES, OutputRules, PolicyEngine, PolicyRegistry, PolicyRuntime,
    RuntimeConfig,
};

/// How long running reconciles may finish after the lease is lost: another replica may already be
/// acting, so this is short, unlike the drain after a signal.
const LOST_LEASE_DRAIN: Duration = Duration::from_secs(5);
/// How long running reconciles may finish after a signal: within the chart's 30 s grace period,
/// with time left to release the lease. Each reconcile is bounded on its own; this bounds them all.
const SIGNAL_DRAIN: Duration = Duration::from_secs(20);
/// How long the process waits, on its way out, for threads still running a policy call or a
/// compilation; every policy call ends at its deadline (at most 2 s), so this only matters for a
/// compilation, which need not finish.
const BLOCKING_THREADS_GRACE: Duration = Duration::from_secs(3);

/// Arguments of `aim-engine run`.
#[derive(clap::Args)]
pub struct Args {
    /// Namespace of the operator: cluster-scoped models and templates an admin created keep
    /// discovery Jobs and read pull secrets here, and the leader Lease lives here.
    #[arg(long, env = "AIM_OPERATOR_NAMESPACE", default_value = "aim-system")]
    operator_namespace: String,
    /// Objects of one kind reconciled at the same time.
    #[arg(long, env = "AIM_CONCURRENCY", default_value_t = 8)]
    concurrency: u16,
    /// Seconds after which a converged object is looked at again anyway.
    #[arg(long, env = "AIM_RESYNC_SECONDS", default_value_t = 600)]
    resync_seconds: u64,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "AIM_LOG_JSON")]
    log_json: bool,
    /// Address of the `/livez`, `/readyz` and `/metrics` listener.
    #[arg(long, env = "AIM_METRICS_BIND", default_value = "0.0.0.0:8080")]
    metrics_bind: SocketAddr,
    /// Run the controllers only while holding the `aim-engine` Lease (`--leader-elect=false` for a
    /// single replica outside a Deployment).
    #[arg(long, env = "AIM_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    leader_elect: bool,
    /// Reconcile AIMServices, models, templates and caches only in these namespaces (repeat the
    /// flag or separate with commas); all namespaces when absent. Cluster-scoped models,
    /// templates and runtime configs are reconciled either way.
    #[arg(
        long = "namespace",
        env = "AIM_WATCH_NAMESPACES",
        value_delimiter = ','
    )]
    namespaces: Vec<String>,
    /// How the embedded default policy runs: `wasm`, in its sandbox, as always in production; or
    /// `native`, the same policy compiled into this binary and called without the sandbox, which
    /// exists only to measure the sandbox's cost (in binaries built with the `native-policy`
    /// feature). `native` ignores AIMPolicies: every object is planned by the default policy,
    /// whatever policy its runtime config names.
    #[arg(long, env = "AIM_POLICY_ENGINE", value_enum, default_value_t = PolicyEngine::Wasm)]
    policy_engine: PolicyEngine,
    /// MiB of memory all policy calls running at the same time may use together; no AIMPolicy's
    /// `memoryMib` is granted more. Default: half the container's memory limit (cgroup v2
    /// `memory.max`, or v1 `memory.limit_in_bytes`), or 1024 when it has none.
    #[arg(long, env = "AIM_POLICY_MEMORY_BUDGET_MIB")]
    policy_memory_budget_mib: Option<u64>,
    /// MiB the precompile cache of compiled policies keeps at most; the least recently used are
    /// removed beyond it. Keep it below the size of the cache's volume.
    #[arg(long, env = "AIM_POLICY_CACHE_MAX_MIB", default_value_t = DEFAULT_CACHE_MAX_BYTES >> 20)]
    policy_cache_max_mib: u64,
    /// Directories an AIMPolicy's `source.path` may name files under (repeat the flag or separate
    /// with commas); other paths are refused.
    #[arg(
        long = "policy-root",
        env = "AIM_POLICY_ROOTS",
        value_delimiter = ',',
        default_value = "/policies"
    )]
    policy_roots: Vec<PathBuf>,
    /// Let image inspection and policy images reach registries on loopback, link-local and private
    /// addresses (in-cluster registries, local development). Off by default: image references
    /// are written by namespace users, and would otherwise reach into the cluster's network.
    #[arg(long, env = "AIM_REGISTRY_ALLOW_PRIVATE_NETWORKS", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    registry_allow_private_networks: bool,
    /// Seconds one registry read (an image inspection, a policy image pull) may take in all.
    #[arg(long, env = "AIM_REGISTRY_TIMEOUT_SECONDS", default_value_t = 60)]
    registry_timeout_seconds: u64,
    #[command(flatten)]
    pod_rules: PodRulesArgs,
}

/// Runs the operator. Exits 0 after a signal, non-zero when the lease was lost (so the pod
/// restarts and competes again) or start-up failed.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.policy_engine.is_built_in(),
        "--policy-engine native needs aim-engine built with the native-policy feature \
         (cargo build --release --features native-policy)"
    );
    init_logging(args.log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime.block_on(operate(args));
    // Dropping the runtime would wait for every blocking thread, however long it runs.
    runtime.shutdown_timeout(BLOCKING_THREADS_GRACE);
    outcome
}

async fn operate(args: &Args) -> anyhow::Result<ExitCode> {
    let signalled = CancellationToken::new();
    let on_signal = signalled.clone();
    tokio::spawn(async move {
        signal::terminated().await;
        on_signal.cancel();
    });

    let metrics = Metrics::default();
    let readiness = Readiness::default();
    let routes = health::router(readiness.clone(), metrics.clone());
    let bound = health::spawn(args.metrics_bind, routes)
        .await
        .with_context(|| format!("listening on {}", args.metrics_bind))?;
    tracing::info!(%bound, "serving /livez, /readyz and /metrics");

    let config = kube::Config::infer()
        .await
        .context("reading the Kubernetes client configuration")?;
    // Every request is counted (aim_api_requests_total), so the API cost of reconciling shows.
    let client = kube::client::ClientBuilder::try_from(config)
        .context("connecting to the Kubernetes API")?
        .with_layer(&api_requests::counting_layer(metrics.clone()))
        .build();
    let container_limit = memory_limit::container_limit();
    let memory_budget = memory_limit::policy_budget(args.policy_memory_budget_mib, container_limit);
    tracing::info!(
        container_limit_bytes = container_limit,
        policy_memory_budget_bytes = memory_budget,
        "policy memory budget"
    );
    let policies = PolicyRuntime::new(RuntimeConfig {
        memory_budget,
        cache_max_bytes: args.policy_cache_max_mib.saturating_mul(1 << 20),
        ..RuntimeConfig::default()
    })?;
    let rules = OutputRules::new(args.operator_namespace.clone()).with_pods(args.pod_rules.rules());
    let registry = PolicyRegistry::new(policies, rules)
        .context("loading the embedded default policy")?
        .with_engine(args.policy_engine);
    if args.policy_engine == PolicyEngine::Native {
        tracing::warn!(
            "--policy-engine native: the default policy runs compiled into the binary, without \
             the sandbox, and AIMPolicies are ignored; for measuring the sandbox's cost only"
        );
    }
    metrics.policy_compiled("default", registry.active().default_policy().load_report());
    let settings = Settings {
        operator_namespace: args.operator_namespace.clone(),
        resync_seconds: args.resync_seconds,
        registry: RegistryAccess {
            allow_private_networks: args.registry_allow_private_networks,
            timeout: Duration::from_secs(args.registry_timeout_seconds.max(1)),
        },
        policy_roots: args.policy_roots.clone(),
    };
    let scope = NamespaceScope::new(args.namespaces.iter().cloned());
    let services_in = if scope.is_all() {
        "all namespaces".to_owned()
    } else {
        scope.namespaces().collect::<Vec<_>>().join(",")
    };
    tracing::info!(operator_namespace = %settings.operator_namespace, %services_in, "aim-engine starting");

    let stores = Stores::start(&client, scope);
    tokio::select! {
        filled = stores.wait_until_ready() => {
            anyhow::ensure!(filled, "the watch caches stopped before they were filled");
        }
        () = signalled.cancelled() => return Ok(ExitCode::SUCCESS),
    }
    readiness.set_ready();
    tracing::info!("watch caches filled");

    let mut leadership = None;
    if args.leader_elect {
        let identity = leader::identity();
        let mut campaign =
            Leadership::campaign(client.clone(), &args.operator_namespace, &identity).await?;
        tracing::info!(%identity, lease = leader::LEASE_NAME, "waiting for the leader lease");
        tokio::select! {
            acquired = campaign.acquired() => acquired?,
            () = signalled.cancelled() => {
                campaign.release().await;
                return Ok(ExitCode::SUCCESS);
            }
        }
        tracing::info!(%identity, "leading; starting the controllers");
        leadership = Some(campaign);
    }

    // Cancelled by a signal, or on its own when the lease is lost.
    let stop = signalled.child_token();
    let controllers = controller::run(
        client,
        stores,
        Arc::new(registry),
        settings,
        args.concurrency,
        metrics,
        stop.clone(),
    );
    let mut controllers = std::pin::pin!(controllers);
    let lost = tokio::select! {
        () = &mut controllers => false,
        () = lease_lost(leadership.as_mut()) => true,
        () = drained_too_long(&signalled) => {
            tracing::warn!(grace = ?SIGNAL_DRAIN, "reconciles still running after the signal; stopping anyway");
            false
        }
    };
    if lost {
        // Another replica may already be acting: stop quickly and restart to compete again.
        tracing::error!("lost the leader lease; stopping the controllers");
        stop.cancel();
        if tokio::time::timeout(LOST_LEASE_DRAIN, controllers)
            .await
            .is_err()
        {
            tracing::warn!("reconciles still running after losing the lease; exiting anyway");
        }
        return Ok(ExitCode::FAILURE);
    }
    if let Some(leadership) = leadership {
        leadership.release().await;
    }
    tracing::info!("aim-engine stopped");
    Ok(if signalled.is_cancelled() {
        ExitCode::SUCCESS
    } else {
        // The controllers only return on a stop; anything else is unexpected.
        ExitCode::FAILURE
    })
}

/// Resolves [`SIGNAL_DRAIN`] after a signal.
async fn drained_too_long(signalled: &CancellationToken) {
    signalled.cancelled().await;
    tokio::time::sleep(SIGNAL_DRAIN).await;
}

/// Resolves when the lease is lost; never without leader election.
async fn lease_lost(leadership: Option<&mut Leadership>) {
    match leadership {
        Some(leadership) => leadership.lost().await,
        None => std::future::pending().await,
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,kube=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
