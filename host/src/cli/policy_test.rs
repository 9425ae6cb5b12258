//! `aim-engine policy test POLICY.wasm FIXTURES/`: runs a policy against fixtures with golden
//! output, the way a platform team checks a policy before shipping it.
//!
//! Each `<case>.yaml` (or `.yml`, `.json`) in the directory is one render input (AIMServices and
//! all the cluster state they need, in that one file); `<case>.expected.yaml` beside it is what
//! `aim-engine render` prints for it with the policy, followed by one `# AIMService ... failed`
//! line per service the policy failed. `--update` rewrites the expected files. What the policy
//! printed is shown under a failed case (under every case with `-v`). Exit 0 when every case
//! matches, 1 when any differs or a golden is missing or orphaned, 2 when the policy or a fixture
//! cannot be read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::policy_output;
use super::render::offline_policies;
use crate::policy::{CacheLocation, Digest, PolicyLimits};
use crate::render::fixtures::{
    CaseOutcome, EXPECTED_SUFFIX, FixtureFiles, check_case, fixture_files, rendered_case,
};

#[derive(clap::Args)]
pub struct TestArgs {
    /// The policy component (`.wasm`).
    policy: PathBuf,
    /// A directory of fixtures: `<case>.yaml` inputs and `<case>.expected.yaml` goldens.
    fixtures: PathBuf,
    /// Write the expected files from this run instead of comparing.
    #[arg(long)]
    update: bool,
    /// Refuse the policy unless its sha256 is this (`sha256:<hex>`).
    #[arg(long)]
    digest: Option<Digest>,
    /// Namespace that cluster-scoped objects keep their namespaced children in.
    #[arg(long, default_value = "aim-system")]
    operator_namespace: String,
}

pub fn run_test(args: &TestArgs, limits: PolicyLimits, verbose: bool) -> anyhow::Result<ExitCode> {
    policy_output::install(verbose);
    let wasm = match std::fs::read(&args.policy) {
        Ok(wasm) => wasm,
        Err(error) => {
            eprintln!("error: reading {}: {error}", args.policy.display());
            return Ok(ExitCode::from(2));
        }
    };
    let policies = match offline_policies(
        Some((&wasm, args.digest.as_ref(), limits)),
        &args.operator_namespace,
        // Test runs repeat, and usually follow a `policy check` of the same component.
        CacheLocation::Default,
    ) {
        Ok(policies) => policies,
        Err(error) => {
            eprintln!("error: loading {}: {error:#}", args.policy.display());
            return Ok(ExitCode::from(2));
        }
    };
    let files = fixture_files_in(&args.fixtures)?;
    if files.cases.is_empty() && files.orphaned_goldens.is_empty() {
        eprintln!(
            "error: no fixtures in {}: a case is a <case>.yaml render input with AIMServices",
            args.fixtures.display()
        );
        return Ok(ExitCode::from(2));
    }
    let (mut failed, mut unreadable) = (0, 0);
    for orphan in &files.orphaned_goldens {
        failed += 1;
        println!("FAILED  {orphan}: no input beside it (the case was renamed or removed?)");
    }
    for (name, file) in &files.cases {
        let case = args.fixtures.join(file);
        let expected_path = expected_path(&case);
        let input = std::fs::read_to_string(&case)
            .with_context(|| format!("reading {}", case.display()))?;
        if args.update {
            let outcome = rendered_case(&case, &input, &policies);
            let output = policy_output::take();
            match outcome {
                Ok(actual) => {
                    std::fs::write(&expected_path, &actual)
                        .with_context(|| format!("writing {}", expected_path.display()))?;
                    println!("updated {name}");
                    show_output(&output, verbose);
                }
                Err(error) => {
                    unreadable += 1;
                    println!("ERROR   {name}: {error}");
                    show_output(&output, true);
                }
            }
            continue;
        }
        let expected = match std::fs::read_to_string(&expected_path) {
            Ok(expected) => expected,
            Err(error) => {
                failed += 1;
                println!(
                    "FAILED  {name}: {}: {error} (run with --update to create it)",
                    expected_path.display()
                );
                continue;
            }
        };
        let outcome = check_case(&case, &input, &expected, &policies);
        let output = policy_output::take();
        match outcome {
            Ok(CaseOutcome::Passed) => {
                println!("ok      {name}");
                show_output(&output, verbose);
            }
            Ok(CaseOutcome::Differs(difference)) => {
                failed += 1;
                println!("FAILED  {name}");
                for line in difference.lines() {
                    println!("  {line}");
                }
                show_output(&output, true);
            }
            Err(error) => {
                unreadable += 1;
                println!("ERROR   {name}: {error}");
                show_output(&output, true);
            }
        }
    }
    if !args.update {
        let passed = files.cases.len() - failed.min(files.cases.len()) - unreadable;
        println!("{passed} passed, {failed} failed, {unreadable} unreadable");
    }
    Ok(if unreadable > 0 {
        ExitCode::from(2)
    } else if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// What the policy printed for a case, indented under it.
fn show_output(output: &[policy_output::OutputLine], shown: bool) {
    if shown && !output.is_empty() {
        println!("  policy output:");
        print!("{}", policy_output::describe(output, "    "));
    }
}

/// The fixture files of a directory.
fn fixture_files_in(dir: &Path) -> anyhow::Result<FixtureFiles> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file()
            && let Some(name) = path.file_name().and_then(|n| n.to_str())
        {
            names.push(name.to_owned());
        }
    }
    Ok(fixture_files(names.iter().map(String::as_str)))
}

fn expected_path(case: &Path) -> PathBuf {
    let name = case
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    case.with_file_name(format!("{name}{EXPECTED_SUFFIX}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_golden_of_a_case_sits_beside_it() {
        assert_eq!(
            expected_path(Path::new("fixtures/team.yaml")),
            Path::new("fixtures/team.expected.yaml")
        );
    }
}
