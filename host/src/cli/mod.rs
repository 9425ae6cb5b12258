//! Command-line interface: one module per subcommand, dispatched from [`main`].

#[cfg(feature = "native-policy")]
mod bench_plan;
pub mod crds;
mod pod_rules;
mod policy;
mod policy_diff;
mod policy_new;
mod policy_output;
mod policy_test;
mod render;
mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Kubernetes operator for AIM inference services on AMD GPUs.
#[derive(Parser)]
#[command(name = "aim-engine", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Show more: the wasm backtrace of a policy that trapped, and what policies printed for
    /// cases that passed.
    #[arg(short, long, global = true)]
    verbose: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions of every AIM kind as YAML.
    Crds(crds::Args),
    /// Create, check, test, benchmark and compare policy components.
    Policy(policy::Args),
    /// Show offline what the operator would create for AIMServices in files, and their status.
    Render(render::Args),
    /// Measure one full AIMService plan natively and through the wasm policy, and their ratio.
    #[cfg(feature = "native-policy")]
    BenchPlan(bench_plan::Args),
    /// Run the operator against the cluster of the current kubeconfig or service account.
    Run(run::Args),
}

/// Parses the command line, runs the chosen subcommand and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Crds(args) => crds::run(&args),
        Command::Policy(args) => policy::run(&args, cli.verbose),
        Command::Render(args) => render::run(&args, cli.verbose),
        Command::Run(args) => run::run(&args),
        #[cfg(feature = "native-policy")]
        Command::BenchPlan(args) => bench_plan::run(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
