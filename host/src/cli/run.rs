//! `aim-engine run`: the operator. Connects with the in-cluster service account or the kubeconfig,
//! loads the embedded default policy and runs every controller until SIGTERM or Ctrl-C.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use crate::controller::{self, Settings};
use crate::policy::{OutputRules, PolicyRegistry, PolicyRuntime, RuntimeConfig};

/// Arguments of `aim-engine run`.
#[derive(clap::Args)]
pub struct Args {
    /// Namespace of the operator: cluster-scoped models and templates keep discovery Jobs and read
    /// pull secrets here.
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
}

/// Runs the operator.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    init_logging(args.log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let client = kube::Client::try_default()
            .await
            .context("connecting to the Kubernetes API")?;
        let policies = PolicyRuntime::new(RuntimeConfig::default())?;
        let registry =
            PolicyRegistry::new(policies, OutputRules::new(args.operator_namespace.clone()))
                .context("loading the embedded default policy")?;
        let settings = Settings {
            operator_namespace: args.operator_namespace.clone(),
            resync_seconds: args.resync_seconds,
        };
        tracing::info!(operator_namespace = %settings.operator_namespace, "aim-engine starting");
        controller::run(client, Arc::new(registry), settings, args.concurrency).await;
        tracing::info!("aim-engine stopped");
        Ok(ExitCode::SUCCESS)
    })
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
