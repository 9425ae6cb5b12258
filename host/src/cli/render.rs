//! `aim-engine render`: what the operator would create for each AIMService in the given files,
//! and the status it would report, without a cluster. Exit 0 when every service was planned,
//! 1 when a policy failed for any of them, 2 when the input could not be read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::policy::{
    CacheLocation, Digest, OutputRules, PolicyLimits, PolicyRuntime, PolicySet, RuntimeConfig,
    load_default_policy,
};
use crate::render::output::Format;
use crate::render::{input, output, render};

/// Arguments of `aim-engine render`.
#[derive(clap::Args)]
pub struct Args {
    /// A YAML or JSON file, or a directory of them: AIMServices plus the cluster state they need
    /// (models, templates with status, runtime configs, nodes). Repeatable.
    #[arg(
        short = 'f',
        long = "filename",
        required = true,
        value_name = "FILE_OR_DIR"
    )]
    files: Vec<PathBuf>,
    /// A custom policy component to use in front of the embedded default.
    #[arg(long, value_name = "POLICY.wasm")]
    policy: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    output: Format,
    /// Namespace that cluster-scoped objects keep their namespaced children in.
    #[arg(long, env = "AIM_OPERATOR_NAMESPACE", default_value = "aim-system")]
    operator_namespace: String,
}

/// The embedded default policy, with `custom` (its bytes, pinned digest and limits) in front,
/// compiled through `cache`.
pub(crate) fn offline_policies(
    custom: Option<(&[u8], Option<&Digest>, PolicyLimits)>,
    operator_namespace: &str,
    cache: CacheLocation,
) -> anyhow::Result<PolicySet> {
    let runtime = PolicyRuntime::new(RuntimeConfig {
        cache,
        ..RuntimeConfig::default()
    })?;
    let default = load_default_policy(&runtime).context("loading the embedded default policy")?;
    let custom = match custom {
        Some((wasm, digest, limits)) => Some(Arc::new(runtime.load(wasm, digest, limits)?)),
        None => None,
    };
    Ok(PolicySet::new(
        custom,
        default,
        Arc::new(OutputRules::new(operator_namespace.to_owned())),
    ))
}

/// Renders every service and prints the result.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let snapshot = match input::load(&args.files) {
        Ok(snapshot) => snapshot,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(2));
        }
    };
    if snapshot.services.is_empty() {
        eprintln!("error: no AIMService found in the input");
        return Ok(ExitCode::from(2));
    }
    let custom = match &args.policy {
        Some(path) => {
            Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        }
        None => None,
    };
    let custom = custom
        .as_deref()
        .map(|wasm| (wasm, None, PolicyLimits::default()));
    // One-off renders compile in memory and leave nothing behind.
    let policies = offline_policies(custom, &args.operator_namespace, CacheLocation::Disabled)
        .with_context(|| {
            format!(
                "loading policy {}",
                args.policy.as_deref().unwrap_or(Path::new("")).display()
            )
        })?;
    let rendered = render(&snapshot, &policies);
    print!("{}", output::format(&rendered, args.output));
    let mut failed = false;
    for entry in &rendered {
        if let Err(error) = &entry.plan {
            eprintln!(
                "error: AIMService {}: {} ({})",
                entry.service,
                error,
                error.reason()
            );
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
