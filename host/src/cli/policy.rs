//! `aim-engine policy`: inspect and measure policy components before deploying them.
//!
//! * `new --lang L --world W DIR` writes a ready policy project ([`super::policy_new`]); `wit DIR`
//!   writes the `aim:policy` WIT package this binary speaks.
//! * `check FILE.wasm` loads the policy exactly as the operator would and prints what it is.
//!   Exit 0 when it loads, 1 when it is invalid, 2 on usage errors (including an unreadable file).
//! * `bench [FILE.wasm | --default]` measures fresh-instance and warm calls of one call the
//!   policy implements, on an input it prints.
//! * `test FILE.wasm FIXTURES/` runs fixtures with golden output ([`super::policy_test`]).
//! * `diff --policy NEW.wasm` compares plans on a live cluster ([`super::policy_diff`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::policy_diff::{DiffArgs, run_diff};
use super::policy_new::{NewArgs, WitArgs, run_new, run_wit};
use super::policy_output;
use super::policy_test::{TestArgs, run_test};
use crate::observe::Observe;
use crate::policy::bench::{BenchCall, BenchReport, bench};
use crate::policy::{
    CacheLocation, Candidate, DEFAULT_POLICY_WASM, Delegation, Digest, LoadedPolicy, PathRequest,
    PolicyInterface, PolicyLimits, PolicyRuntime, RuntimeConfig, SelectionRequest, SubjectKind,
    TemplateScope, interface_name, load_default_policy,
};
use crate::render::input;

/// Arguments of `aim-engine policy`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(clap::Subcommand)]
enum PolicyCommand {
    /// Create a policy project: sources, WIT, pinned toolchain, build script, a fixture and its golden output.
    New(NewArgs),
    /// Write the aim:policy WIT package this aim-engine speaks into a directory.
    Wit(WitArgs),
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
    /// The call to measure; by default the first the policy implements (planner, paths,
    /// selection, in that order).
    #[arg(long, value_enum)]
    call: Option<CallName>,
    /// Input for the call: a render input with an AIMService (a fixture), or the call's own JSON
    /// (the service for render-path, the observation for plan-service). A built-in sample
    /// otherwise; the input used is printed either way.
    #[arg(long)]
    fixture: Option<PathBuf>,
    /// Calls per measurement.
    #[arg(long, default_value_t = 10_000)]
    iterations: usize,
    /// Name the policy's compiled functions in `/tmp/perf-<pid>.map`, for `perf record` and
    /// `perf report` (the component needs its name section: build it without `strip`).
    #[arg(long)]
    perf_map: bool,
    #[command(flatten)]
    load: LoadOptions,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CallName {
    Info,
    RenderPath,
    SelectTemplate,
    PlanService,
}

impl CallName {
    fn interface(self) -> Option<PolicyInterface> {
        match self {
            CallName::Info => None,
            CallName::RenderPath => Some(PolicyInterface::Paths),
            CallName::SelectTemplate => Some(PolicyInterface::Selection),
            CallName::PlanService => Some(PolicyInterface::Planner),
        }
    }

    fn name(self) -> &'static str {
        match self {
            CallName::Info => "info",
            CallName::RenderPath => "render-path",
            CallName::SelectTemplate => "select-template",
            CallName::PlanService => "plan-service",
        }
    }

    /// The first call `policy` implements.
    fn first_implemented(policy: &LoadedPolicy) -> Self {
        [
            CallName::PlanService,
            CallName::RenderPath,
            CallName::SelectTemplate,
        ]
        .into_iter()
        .find(|call| call.interface().is_some_and(|i| policy.exports(i)))
        .unwrap_or(CallName::Info)
    }
}

/// A service for render-path when no fixture is given.
const SAMPLE_SERVICE: &str = r#"{"apiVersion":"aim.silogen.ai/v1alpha1","kind":"AIMService","metadata":{"name":"llama-chat","namespace":"ml-team","labels":{"team":"Research"}},"spec":{"model":{"image":"ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0"}}}"#;
/// An observation for plan-service when no fixture is given: a service naming only its image.
const SAMPLE_OBSERVATION: &str = r#"{"apiVersion":"aim.silogen.ai/observation/v1","service":{"apiVersion":"aim.silogen.ai/v1alpha1","kind":"AIMService","metadata":{"name":"llama-chat","namespace":"ml-team","uid":"0b9d6a0e-6f0c-4a43-9c4e-2f1d3b8a7c55"},"spec":{"model":{"image":"ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0"}}},"runtimeConfigs":{"name":"default"}}"#;

/// A selection between two Ready MI300X templates, for select-template.
fn sample_selection() -> SelectionRequest {
    let candidate = |name: &str, metric: &str, gpus: u32| Candidate {
        name: name.to_owned(),
        namespace: Some("ml-team".to_owned()),
        scope: TemplateScope::Namespace,
        status: "Ready".to_owned(),
        metric: Some(metric.to_owned()),
        precision: Some("fp8".to_owned()),
        gpu_model: Some("MI300X".to_owned()),
        gpu_count: Some(gpus),
        derived: false,
    };
    SelectionRequest {
        candidates: vec![
            candidate("llama-8b-1x-mi300x-latency", "latency", 1),
            candidate("llama-8b-8x-mi300x-throughput", "throughput", 8),
        ],
        available_gpu_models: vec!["MI300X".to_owned()],
        overrides: None,
    }
}

pub fn run(args: &Args, verbose: bool) -> anyhow::Result<ExitCode> {
    match &args.command {
        PolicyCommand::New(new) => run_new(new),
        PolicyCommand::Wit(wit) => run_wit(wit),
        PolicyCommand::Check(check) => run_check(check),
        PolicyCommand::Bench(bench_args) => run_bench(bench_args, verbose),
        PolicyCommand::Test(test) => run_test(&test.test, limits(&test.limits), verbose),
        PolicyCommand::Diff(diff) => run_diff(&diff.diff, limits(&diff.limits)),
    }
}

fn runtime(load: &LoadOptions) -> anyhow::Result<std::sync::Arc<PolicyRuntime>> {
    runtime_with(load, RuntimeConfig::default())
}

/// The runtime of `config`, with the precompile cache `load` asks for.
fn runtime_with(
    load: &LoadOptions,
    config: RuntimeConfig,
) -> anyhow::Result<std::sync::Arc<PolicyRuntime>> {
    let cache = if load.no_cache {
        CacheLocation::Disabled
    } else {
        CacheLocation::Default
    };
    Ok(PolicyRuntime::new(RuntimeConfig { cache, ..config })?)
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

fn run_bench(args: &BenchArgs, verbose: bool) -> anyhow::Result<ExitCode> {
    policy_output::install(verbose);
    let wasm = match &args.file {
        Some(file) => match std::fs::read(file) {
            Ok(wasm) => wasm,
            Err(error) => {
                eprintln!("error: reading {}: {error}", file.display());
                return Ok(ExitCode::from(USAGE));
            }
        },
        None => DEFAULT_POLICY_WASM.to_vec(),
    };
    let runtime = runtime_with(
        &args.load,
        RuntimeConfig {
            perf_map: args.perf_map,
            ..RuntimeConfig::default()
        },
    )?;
    let policy = match runtime.load(&wasm, args.load.digest.as_ref(), limits(&args.load.limits)) {
        Ok(policy) => std::sync::Arc::new(policy),
        Err(error) => {
            eprintln!("error: {error} ({})", error.reason());
            return Ok(ExitCode::from(1));
        }
    };
    let call_name = args
        .call
        .unwrap_or_else(|| CallName::first_implemented(&policy));
    if let Some(interface) = call_name.interface().filter(|i| !policy.exports(*i)) {
        eprintln!(
            "error: {} does not implement {} (it implements: {}), so it has no {} to measure; \
             choose one of its calls with --call",
            policy.info().name,
            interface_name(interface),
            implemented(&policy),
            call_name.name()
        );
        return Ok(ExitCode::from(USAGE));
    }
    let (call, input) = match bench_input(call_name, args.fixture.as_deref()) {
        Ok(input) => input,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Ok(ExitCode::from(USAGE));
        }
    };
    // A custom policy is measured as the operator runs it: able to call the default policy.
    let delegation = match &args.file {
        Some(_) => {
            let default = load_default_policy(&runtime)?;
            Delegation::within_set(Some(&policy), &default, call_name.interface())
        }
        None => Delegation::none(),
    };
    println!("call:                   {}", call_name.name());
    println!("input:                  {input}");
    eprintln!("measuring {} x {} ...", policy.info().name, args.iterations);
    let outcome = bench(&policy, &call, args.iterations, &delegation);
    let output = policy_output::take();
    match outcome {
        Ok(report) => {
            print_report(&policy, &runtime, &report);
            if verbose && !output.is_empty() {
                eprintln!("policy output (last calls):");
                eprint!("{}", policy_output::describe(last(&output, 20), "  "));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("error: {error} ({})", error.reason());
            if matches!(error, crate::policy::PolicyError::Timeout { .. }) {
                eprintln!(
                    "one of the calls ran past the deadline; on a busy machine, measure with a \
                     longer one (--deadline-ms, at most 2000)"
                );
            }
            if !output.is_empty() {
                eprintln!("policy output:");
                eprint!("{}", policy_output::describe(last(&output, 20), "  "));
            }
            Ok(ExitCode::from(1))
        }
    }
}

fn last<T>(items: &[T], count: usize) -> &[T] {
    &items[items.len().saturating_sub(count)..]
}

/// `paths, planner`, or `nothing`.
fn implemented(policy: &LoadedPolicy) -> String {
    let names: Vec<&str> = [
        (PolicyInterface::Paths, "paths"),
        (PolicyInterface::Selection, "selection"),
        (PolicyInterface::Planner, "planner"),
    ]
    .into_iter()
    .filter(|(interface, _)| policy.exports(*interface))
    .map(|(_, name)| name)
    .collect();
    if names.is_empty() {
        "nothing beyond metadata".to_owned()
    } else {
        names.join(", ")
    }
}

/// The call to measure and a one-line description of its input, from `--fixture` or a sample.
fn bench_input(
    call: CallName,
    fixture: Option<&std::path::Path>,
) -> anyhow::Result<(BenchCall, String)> {
    let Some(path) = fixture else {
        return Ok(match call {
            CallName::Info => (BenchCall::Info, "none".to_owned()),
            CallName::RenderPath => (
                BenchCall::RenderPath(PathRequest {
                    service_json: SAMPLE_SERVICE.to_owned(),
                    path_template: None,
                }),
                format!("built-in sample service, no path template: {SAMPLE_SERVICE}"),
            ),
            CallName::SelectTemplate => {
                let request = sample_selection();
                let names: Vec<String> = request
                    .candidates
                    .iter()
                    .map(|c| format!("{} ({} GPU)", c.name, c.gpu_count.unwrap_or(1)))
                    .collect();
                (
                    BenchCall::SelectTemplate(request),
                    format!(
                        "built-in sample: Ready candidates {} on a cluster with MI300X, no overrides",
                        names.join(", ")
                    ),
                )
            }
            CallName::PlanService => (
                BenchCall::Plan(SubjectKind::Service, SAMPLE_OBSERVATION.to_owned()),
                format!("built-in sample observation: {SAMPLE_OBSERVATION}"),
            ),
        });
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let shown = path.display();
    // The call's own JSON, used as it is.
    if serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| v.get("kind").is_none()) {
        return match call {
            CallName::RenderPath => Ok((
                BenchCall::RenderPath(PathRequest {
                    service_json: text,
                    path_template: None,
                }),
                format!("{shown} (the service JSON), no path template"),
            )),
            CallName::PlanService => Ok((
                BenchCall::Plan(SubjectKind::Service, text),
                format!("{shown} (the observation JSON)"),
            )),
            CallName::Info | CallName::SelectTemplate => anyhow::bail!(
                "--call {} takes no JSON input; give a render input or no --fixture",
                call.name()
            ),
        };
    }
    // A render input: the first AIMService, observed as the operator would.
    let snapshot = input::load(&[path.to_path_buf()]).map_err(anyhow::Error::msg)?;
    let service = snapshot
        .services
        .first()
        .with_context(|| format!("{shown} has no AIMService to measure with"))?;
    let name = format!(
        "{}/{}",
        service.metadata.namespace.as_deref().unwrap_or_default(),
        service.metadata.name.as_deref().unwrap_or_default()
    );
    match call {
        CallName::PlanService => {
            let observation = serde_json::to_string(&snapshot.service_observation(service))?;
            let size = observation.len();
            Ok((
                BenchCall::Plan(SubjectKind::Service, observation),
                format!("the observation of AIMService {name} in {shown} ({size} bytes)"),
            ))
        }
        CallName::RenderPath => {
            let path_template = service
                .spec
                .routing
                .as_ref()
                .and_then(|routing| routing.path_template.clone());
            let template = path_template.as_deref().unwrap_or("none").to_owned();
            Ok((
                BenchCall::RenderPath(PathRequest {
                    service_json: serde_json::to_string(service)?,
                    path_template,
                }),
                format!("AIMService {name} in {shown}, path template {template}"),
            ))
        }
        CallName::Info | CallName::SelectTemplate => anyhow::bail!(
            "--call {} cannot be derived from a render input; leave out --fixture to use the built-in sample",
            call.name()
        ),
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
