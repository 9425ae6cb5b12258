//! `aim-engine policy`: inspect and measure policy components before deploying them.
//!
//! * `check FILE.wasm` loads the policy exactly as the operator would and prints what it is.
//!   Exit 0 when it loads, 1 when it is invalid, 2 on usage errors (including an unreadable file).
//! * `bench [FILE.wasm | --default]` measures fresh-instance and warm calls.
//! * `test FILE.wasm FIXTURES/` runs fixtures with golden output ([`super::policy_test`]).
//! * `diff --policy NEW.wasm` compares plans on a live cluster ([`super::policy_diff`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::policy_diff::{DiffArgs, run_diff};
use super::policy_test::{TestArgs, run_test};
use crate::policy::bench::{BenchCall, BenchReport, bench};
use crate::policy::{
    CacheLocation, DEFAULT_POLICY_WASM, Delegation, Digest, LoadedPolicy, PathRequest, PlanFlow,
    PolicyInterface, PolicyLimits, PolicyRuntime, RuntimeConfig, interface_name,
    load_default_policy,
};

/// Arguments of `aim-engine policy`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(clap::Subcommand)]
enum PolicyCommand {
    /// Load a policy as the operator would and print its metadata, interfaces and limits.
    Check(CheckArgs),
    /// Measure a policy: fresh instance + call, warm call, evaluations per second on one core.
    Bench(BenchArgs),
    /// Run a policy against a directory of fixtures and compare with their golden output.
    Test(TestCommand),
    /// Show what a candidate policy would change for the AIMServices of a live cluster.
    Diff(DiffCommand),
}

/// Options shared by both commands: how the policy is loaded.
#[derive(clap::Args)]
struct LoadOptions {
    /// Refuse the policy unless its sha256 is this (`sha256:<hex>`).
    #[arg(long)]
    digest: Option<Digest>,
    #[command(flatten)]
    limits: LimitOptions,
    /// Compile in memory instead of using the precompile cache.
    #[arg(long)]
    no_cache: bool,
}

/// The limits each call of the policy runs with.
#[derive(clap::Args)]
struct LimitOptions {
    /// Per-call deadline in milliseconds (at most 2000).
    #[arg(long, default_value_t = 250)]
    deadline_ms: u64,
    /// Per-call memory budget in MiB, all memories together.
    #[arg(long, default_value_t = 64)]
    memory_mib: usize,
}

#[derive(clap::Args)]
struct DiffCommand {
    #[command(flatten)]
    diff: DiffArgs,
    #[command(flatten)]
    limits: LimitOptions,
}

#[derive(clap::Args)]
struct TestCommand {
    #[command(flatten)]
    test: TestArgs,
    #[command(flatten)]
    limits: LimitOptions,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The policy component (`.wasm`).
    file: PathBuf,
    #[command(flatten)]
    load: LoadOptions,
}

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("policy").required(true).args(["file", "default"]))]
struct BenchArgs {
    /// The policy component (`.wasm`).
    file: Option<PathBuf>,
    /// Measure the embedded default policy.
    #[arg(long)]
    default: bool,
    /// The call to measure.
    #[arg(long, value_enum, default_value_t = CallName::RenderPath)]
    call: CallName,
    /// Input for the call: the service JSON for render-path, the observation for plan-*.
    #[arg(long)]
    fixture: Option<PathBuf>,
    /// Calls per measurement.
    #[arg(long, default_value_t = 10_000)]
    iterations: usize,
    #[command(flatten)]
    load: LoadOptions,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CallName {
    Info,
    RenderPath,
    PlanService,
}

/// A service for render-path when no fixture is given.
const SAMPLE_SERVICE: &str = r#"{"apiVersion":"aim.silogen.ai/v1alpha1","kind":"AIMService","metadata":{"name":"llama-chat","namespace":"ml-team","labels":{"team":"Research"}},"spec":{"model":{"image":"ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0"}}}"#;
/// An observation for plan-service when no fixture is given: a service naming only its image.
const SAMPLE_OBSERVATION: &str = r#"{"apiVersion":"aim.silogen.ai/observation/v1","service":{"apiVersion":"aim.silogen.ai/v1alpha1","kind":"AIMService","metadata":{"name":"llama-chat","namespace":"ml-team","uid":"0b9d6a0e-6f0c-4a43-9c4e-2f1d3b8a7c55"},"spec":{"model":{"image":"ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0"}}},"runtimeConfigs":{"name":"default"}}"#;

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.command {
        PolicyCommand::Check(check) => run_check(check),
        PolicyCommand::Bench(bench_args) => run_bench(bench_args),
        PolicyCommand::Test(test) => run_test(&test.test, limits(&test.limits)),
        PolicyCommand::Diff(diff) => run_diff(&diff.diff, limits(&diff.limits)),
    }
}

fn runtime(load: &LoadOptions) -> anyhow::Result<std::sync::Arc<PolicyRuntime>> {
    let cache = if load.no_cache {
        CacheLocation::Disabled
    } else {
        CacheLocation::Default
    };
    Ok(PolicyRuntime::new(RuntimeConfig {
        cache,
        ..RuntimeConfig::default()
    })?)
}

fn limits(load: &LimitOptions) -> PolicyLimits {
    PolicyLimits {
        deadline: Duration::from_millis(load.deadline_ms),
        memory_bytes: load.memory_mib.saturating_mul(1 << 20),
        ..PolicyLimits::default()
    }
    .clamped()
}

/// Exit code for a file that cannot be read: the command was given something unusable.
const USAGE: u8 = 2;

fn run_check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let wasm = match std::fs::read(&args.file) {
        Ok(wasm) => wasm,
        Err(error) => {
            eprintln!("error: reading {}: {error}", args.file.display());
            return Ok(ExitCode::from(USAGE));
        }
    };
    let runtime = runtime(&args.load)?;
    match runtime.load(&wasm, args.load.digest.as_ref(), limits(&args.load.limits)) {
        Ok(policy) => {
            print_policy(&policy, &runtime);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            println!("policy:      {}", args.file.display());
            println!("digest:      {}", Digest::of(&wasm));
            println!("invalid:     {} ({})", error, error.reason());
            Ok(ExitCode::from(1))
        }
    }
}

fn print_policy(policy: &LoadedPolicy, runtime: &PolicyRuntime) {
    let info = policy.info();
    let report = policy.load_report();
    let limits = policy.limits();
    println!("name:        {}", info.name);
    println!("version:     {}", info.version);
    println!("digest:      {}", policy.digest());
    println!("interfaces:  {}", exported_interfaces(policy).join(", "));
    let cache = match report.cache {
        Some(outcome) => format!("{outcome:?}").to_lowercase(),
        None => "disabled".to_string(),
    };
    println!(
        "compile:     {:.1} ms (cache: {cache})",
        report.compile_time.as_secs_f64() * 1e3
    );
    println!("deadline:    {} ms", limits.deadline.as_millis());
    println!("memory:      {} MiB", limits.memory_bytes >> 20);
    println!("allocator:   {}", runtime.allocator().name());
}

fn exported_interfaces(policy: &LoadedPolicy) -> Vec<&'static str> {
    let mut names = vec!["aim:policy/metadata@0.1.0"];
    for interface in [
        PolicyInterface::Paths,
        PolicyInterface::Selection,
        PolicyInterface::Planner,
    ] {
        if policy.exports(interface) {
            names.push(interface_name(interface));
        }
    }
    names
}

fn run_bench(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let wasm = match &args.file {
        Some(file) => std::fs::read(file).with_context(|| format!("reading {}", file.display()))?,
        None => DEFAULT_POLICY_WASM.to_vec(),
    };
    let runtime = runtime(&args.load)?;
    let policy = match runtime.load(&wasm, args.load.digest.as_ref(), limits(&args.load.limits)) {
        Ok(policy) => std::sync::Arc::new(policy),
        Err(error) => {
            eprintln!("error: {error} ({})", error.reason());
            return Ok(ExitCode::from(1));
        }
    };
    let fixture = match &args.fixture {
        Some(path) => Some(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        None => None,
    };
    let call = match args.call {
        CallName::Info => BenchCall::Info,
        CallName::RenderPath => BenchCall::RenderPath(PathRequest {
            service_json: fixture.unwrap_or_else(|| SAMPLE_SERVICE.to_string()),
            path_template: None,
        }),
        CallName::PlanService => BenchCall::Plan(
            PlanFlow::Service,
            fixture.unwrap_or_else(|| SAMPLE_OBSERVATION.to_string()),
        ),
    };
    // A custom policy is measured as the operator runs it: able to call the default policy.
    let delegation = match &args.file {
        Some(_) => {
            let default = load_default_policy(&runtime)?;
            let interface = match args.call {
                CallName::Info | CallName::PlanService => PolicyInterface::Planner,
                CallName::RenderPath => PolicyInterface::Paths,
            };
            Delegation::within_set(Some(&policy), &default, Some(interface))
        }
        None => Delegation::none(),
    };
    eprintln!("measuring {} x {} ...", policy.info().name, args.iterations);
    match bench(&policy, &call, args.iterations, &delegation) {
        Ok(report) => {
            print_report(&policy, &runtime, &report);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("error: {error} ({})", error.reason());
            Ok(ExitCode::from(1))
        }
    }
}

fn print_report(policy: &LoadedPolicy, runtime: &PolicyRuntime, report: &BenchReport) {
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "policy:                 {} {} ({})",
        policy.info().name,
        policy.info().version,
        policy.digest()
    );
    println!("allocator:              {}", runtime.allocator().name());
    println!("iterations:             {}", report.iterations);
    println!(
        "fresh instance + call:  p50 {:.1} us, p99 {:.1} us",
        micros(report.fresh.p50),
        micros(report.fresh.p99)
    );
    println!(
        "warm call:              p50 {:.2} us, p99 {:.2} us",
        micros(report.warm.p50),
        micros(report.warm.p99)
    );
    println!(
        "evaluations per second: {:.0} (one core, fresh instance each)",
        report.evaluations_per_second
    );
}
