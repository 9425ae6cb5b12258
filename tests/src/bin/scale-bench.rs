//! `scale-bench`: the scale benchmark (see `aim_tests::scale`). For each size and engine it
//! starts a control plane (or uses the shared one of `scripts/testenv.sh`), runs the
//! `aim-engine run` binary next to this one against it, and prints the figures as a table.
//!
//! ```text
//! cargo build --release -p aim-engine -p aim-tests --bins
//! target/release/scale-bench --services 100,1000 --engine wasm,native
//! target/release/scale-bench --startup 5 --engine wasm
//! ```
//!
//! With `--startup N` it measures instead how the operator starts on a cluster with nothing to
//! reconcile: N starts per engine, each from exec until `/readyz` answers, with its peak RSS.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use aim_tests::TestEnv;
use aim_tests::scale::{self, Engine, Figures, Settings};
use anyhow::{Context, Result};
use clap::Parser;

#[derive(Parser)]
#[command(about = "Many AIMServices against the real apiserver: time, requests, CPU and memory")]
struct Cli {
    /// Numbers of services, one run each (with each engine).
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    services: Vec<usize>,
    /// How the operator runs the default policy: `wasm` (the sandbox), `native` (compiled in).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "wasm,native")]
    engine: Vec<Engine>,
    /// Services per namespace.
    #[arg(long, default_value_t = 100)]
    per_namespace: usize,
    /// The `aim-engine` binary; by default the one next to this binary, so both come from the
    /// same build.
    #[arg(long)]
    operator: Option<PathBuf>,
    /// `aim-engine run --concurrency`; the operator's default when absent.
    #[arg(long)]
    concurrency: Option<u16>,
    /// How long all services of one run may take to reach Running.
    #[arg(long, default_value_t = 1800)]
    timeout_seconds: u64,
    /// Measure start-up instead: this many starts per engine on an empty cluster, each timed
    /// from exec until `/readyz` answers 200, with the peak RSS by then.
    #[arg(long, value_name = "STARTS")]
    startup: Option<usize>,
}

fn main() -> ExitCode {
    aim_tests::logging::to_stderr();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench(&cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(cli: &Cli) -> Result<()> {
    let operator = match &cli.operator {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("the directory of this binary")?
            .join("aim-engine"),
    };
    anyhow::ensure!(
        operator.is_file(),
        "{} does not exist: build it with this binary (cargo build --release -p aim-engine -p \
         aim-tests --bins) or pass --operator",
        operator.display()
    );
    if let Some(starts) = cli.startup {
        return startup(&operator, &cli.engine, starts).await;
    }
    let cache_home = tempfile::tempdir()?;
    scale::warm_policy_cache(&operator, cache_home.path())?;
    let shared = std::env::var("AIM_TESTENV_SHARED").is_ok_and(|v| v == "1");
    println!(
        "aim-engine scale benchmark: operator {}, {} services per namespace, {} control plane",
        operator.display(),
        cli.per_namespace,
        if shared { "the shared" } else { "a fresh" }
    );

    let mut runs: Vec<Figures> = Vec::new();
    for &services in &cli.services {
        for &engine in &cli.engine {
            let settings = Settings {
                services,
                engine,
                per_namespace: cli.per_namespace,
                operator: operator.clone(),
                concurrency: cli.concurrency,
                cache_home: cache_home.path().to_path_buf(),
                timeout: Duration::from_secs(cli.timeout_seconds),
                clean_up: shared,
            };
            eprintln!(
                "running {services} services with the {} engine",
                engine.as_str()
            );
            // A fresh control plane per run, unless one is shared: no run inherits another's
            // objects, and etcd starts empty each time.
            let figures = if shared {
                scale::run(TestEnv::shared().await?, &settings).await?
            } else {
                let env = TestEnv::start().await?;
                scale::run(&env, &settings).await?
            };
            println!("{}", scale::report(std::slice::from_ref(&figures)));
            runs.push(figures);
        }
    }
    println!("all runs:\n\n{}", scale::report(&runs));
    Ok(())
}

/// `--startup`: `starts` starts per engine on one control plane with nothing to reconcile.
async fn startup(operator: &std::path::Path, engines: &[Engine], starts: usize) -> Result<()> {
    let shared = std::env::var("AIM_TESTENV_SHARED").is_ok_and(|v| v == "1");
    let fresh;
    let env = if shared {
        TestEnv::shared().await?
    } else {
        fresh = TestEnv::start().await?;
        &fresh
    };
    for &engine in engines {
        let mut runs = Vec::with_capacity(starts);
        for _ in 0..starts.max(1) {
            runs.push(scale::measure_startup(env, operator, engine).await?);
        }
        println!("{}", scale::startup_report(engine, &runs));
    }
    Ok(())
}
