//! `aim-engine render`: what the operator would create for each AIMService in the given files,
//! and the status it would report, without a cluster. Each plan names the policy that made it;
//! what a policy printed, and why it failed, is shown on stderr under its service. With
//! `--diff-default`, only what the custom policy changes against the embedded default is shown.
//! Exit 0 when every service was planned, 1 when a policy failed for any of them, 2 when the
//! input or the policy could not be read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow};

use super::policy_output;
use crate::policy::{
    CacheLocation, Digest, OutputRules, PolicyLimits, PolicyRuntime, PolicySet, RuntimeConfig,
    load_default_policy,
};
use crate::render::diff::compare;
use crate::render::output::{Format, format, label, yaml_entry};
use crate::render::{Rendered, input, plan_service, render_service};
use crate::snapshot::ClusterSnapshot;

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
    /// Show only what the custom policy changes against the embedded default, per service.
    #[arg(long, requires = "policy")]
    diff_default: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    output: Format,
    /// Namespace that cluster-scoped objects keep their namespaced children in.
    #[arg(long, env = "AIM_OPERATOR_NAMESPACE", default_value = "aim-system")]
    operator_namespace: String,
    /// Compile the policy in memory instead of using the precompile cache.
    #[arg(long)]
    no_cache: bool,
}

/// The embedded default policy, with `custom` (its bytes, pinned digest and limits) in front,
/// compiled through `cache`.
pub(crate) fn offline_policies(
    custom: Option<(&[u8], Option<&Digest>, PolicyLimits)>,
    operator_namespace: &str,
    cache: CacheLocation,
) -> anyhow::Result<PolicySet> {
    let runtime = PolicyRuntime::new(RuntimeConfig::one_shot(cache))?;
    let default = load_default_policy(&runtime).context("loading the embedded default policy")?;
    let custom = match custom {
        Some((wasm, digest, limits)) => Some(Arc::new(
            runtime
                .load(wasm, digest, limits)
                .map_err(|error| anyhow!("{error} ({})", error.reason()))?,
        )),
        None => None,
    };
    Ok(PolicySet::new(
        custom,
        default,
        Arc::new(OutputRules::new(operator_namespace.to_owned())),
    ))
}

/// Where compiled policies go: the precompile cache (a repeated render of the same component
/// loads it in milliseconds) unless `--no-cache`.
pub(crate) fn cache_location(no_cache: bool) -> CacheLocation {
    if no_cache {
        CacheLocation::Disabled
    } else {
        CacheLocation::Default
    }
}

/// Renders every service and prints the result.
pub fn run(args: &Args, verbose: bool) -> anyhow::Result<ExitCode> {
    policy_output::install(verbose);
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
        Some(path) => match std::fs::read(path) {
            Ok(wasm) => Some(wasm),
            Err(error) => {
                eprintln!("error: reading {}: {error}", path.display());
                return Ok(ExitCode::from(2));
            }
        },
        None => None,
    };
    let custom = custom
        .as_deref()
        .map(|wasm| (wasm, None, PolicyLimits::default()));
    let policies = match offline_policies(
        custom,
        &args.operator_namespace,
        cache_location(args.no_cache),
    ) {
        Ok(policies) => policies,
        Err(error) => {
            let path = args.policy.as_deref().unwrap_or(Path::new(""));
            eprintln!("error: loading policy {}: {error:#}", path.display());
            return Ok(ExitCode::from(2));
        }
    };
    // What the policy printed while it was loaded (its metadata call).
    let loading = policy_output::take();
    if !loading.is_empty() {
        eprintln!("policy output while loading:");
        eprint!("{}", policy_output::describe(&loading, "  "));
    }
    let failed = if args.diff_default {
        diff_default(&snapshot, &policies, &args.operator_namespace)
    } else {
        render_all(&snapshot, &policies, args.output)
    };
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints each service's plan as it is made, with what the policies printed and why one failed
/// on stderr right after it. Returns whether a policy failed.
fn render_all(snapshot: &ClusterSnapshot, policies: &PolicySet, output: Format) -> bool {
    let mut rendered = Vec::new();
    for service in &snapshot.services {
        let entry = render_service(snapshot, service, policies);
        if output == Format::Yaml {
            print!("{}", yaml_entry(&entry));
        }
        report(&entry.service, &entry.plan.as_ref().err());
        rendered.push(entry);
    }
    if output == Format::Json {
        print!("{}", format(&rendered, Format::Json));
    }
    rendered.iter().any(|entry: &Rendered| entry.plan.is_err())
}

/// `render --diff-default`: each service planned by the embedded default alone and with the
/// custom policy in front, and what differs. Returns whether a policy failed.
fn diff_default(
    snapshot: &ClusterSnapshot,
    policies: &PolicySet,
    operator_namespace: &str,
) -> bool {
    let default_only = PolicySet::new(
        None,
        policies.default_policy().clone(),
        Arc::new(OutputRules::new(operator_namespace.to_owned())),
    );
    let custom = policies
        .custom()
        .map(|custom| custom.info().name.clone())
        .unwrap_or_default();
    let (mut changed, mut failed) = (0, false);
    for service in &snapshot.services {
        let before = plan_service(snapshot, service, &default_only);
        let after = render_service(snapshot, service, policies);
        let (text, differs) = compare(
            &after.service,
            ("aim-default", &custom),
            &before,
            &after.plan,
        );
        print!("{text}");
        changed += usize::from(differs);
        report(&after.service, &after.plan.as_ref().err());
        failed |= before.is_err() || after.plan.is_err();
    }
    let label = policies
        .custom()
        .map(|_| label_of(policies))
        .unwrap_or_default();
    println!(
        "{} services, {changed} changed by {label}",
        snapshot.services.len()
    );
    failed
}

fn label_of(policies: &PolicySet) -> String {
    crate::render::PolicyLabel::of(policies)
        .map(|policy| label(&policy))
        .unwrap_or_default()
}

/// On stderr: what the policies printed while planning `service`, and the error if it failed.
fn report(service: &str, error: &Option<&crate::policy::PolicyError>) {
    let output = policy_output::take();
    if !output.is_empty() {
        eprintln!("policy output while planning AIMService {service}:");
        eprint!("{}", policy_output::describe(&output, "  "));
    }
    if let Some(error) = error {
        eprintln!("error: AIMService {service}: {error} ({})", error.reason());
    }
}
