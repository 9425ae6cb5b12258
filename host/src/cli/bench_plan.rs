//! `aim-engine bench-plan`: the cost of one full AIMService plan, compiled natively and through the
//! embedded wasm component, in one run, with their ratio. The observation is built from render
//! input, so any example (or a user's own files) can be measured.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use aim_policy_default::advisor::NoAdvice;
use aim_policy_default::planner::{self, plan_json};
use anyhow::Context;

use crate::observe::Observe;
use crate::policy::bench::{BenchCall, bench};
use crate::policy::{
    CacheLocation, Delegation, PolicyRuntime, RuntimeConfig, SubjectKind, load_default_policy,
};
use crate::render::input;

/// Arguments of `aim-engine bench-plan`.
#[derive(clap::Args)]
pub struct Args {
    /// Render input with exactly the AIMService to plan and its cluster state.
    #[arg(
        short = 'f',
        long = "filename",
        required = true,
        value_name = "FILE_OR_DIR"
    )]
    files: Vec<PathBuf>,
    /// Plans per measurement.
    #[arg(long, default_value_t = 2_000)]
    iterations: usize,
}

/// Measures and prints.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let snapshot = input::load(&args.files)?;
    let service = snapshot
        .services
        .first()
        .context("the input has no AIMService")?;
    let observation = serde_json::to_string(&snapshot.service_observation(service))?;

    let native = median(args.iterations, || {
        plan_json(planner::SubjectKind::Service, &observation, &NoAdvice)
            .map(drop)
            .map_err(|e| format!("{e:?}"))
    })?;

    let runtime = PolicyRuntime::new(RuntimeConfig {
        cache: CacheLocation::Disabled,
        ..RuntimeConfig::default()
    })?;
    let policy = load_default_policy(&runtime)?;
    let report = bench(
        &policy,
        &BenchCall::Plan(SubjectKind::Service, observation.clone()),
        args.iterations,
        &Delegation::none(),
    )?;

    println!("observation:           {} bytes", observation.len());
    println!("native plan:           p50 {}", micros(native));
    println!(
        "wasm plan (fresh):     p50 {}  p99 {}",
        micros(report.fresh.p50),
        micros(report.fresh.p99)
    );
    println!(
        "wasm plan (warm):      p50 {}  p99 {}",
        micros(report.warm.p50),
        micros(report.warm.p99)
    );
    let ratio = |wasm: Duration| wasm.as_secs_f64() / native.as_secs_f64().max(f64::MIN_POSITIVE);
    println!(
        "ratio wasm/native:     fresh {:.2}x  warm {:.2}x",
        ratio(report.fresh.p50),
        ratio(report.warm.p50)
    );
    println!(
        "wasm plans per second: {:.0} on one core (fresh instance each)",
        report.evaluations_per_second
    );
    Ok(ExitCode::SUCCESS)
}

fn median(
    iterations: usize,
    mut call: impl FnMut() -> Result<(), String>,
) -> anyhow::Result<Duration> {
    let mut samples = Vec::with_capacity(iterations.max(1));
    for _ in 0..iterations.max(1) {
        let started = Instant::now();
        call().map_err(anyhow::Error::msg)?;
        samples.push(started.elapsed());
    }
    samples.sort_unstable();
    Ok(samples[samples.len() / 2])
}

fn micros(duration: Duration) -> String {
    format!("{:.1} us", duration.as_secs_f64() * 1e6)
}
