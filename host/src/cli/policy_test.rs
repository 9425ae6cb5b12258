//! `aim-engine policy test POLICY.wasm FIXTURES/`: runs a policy against fixtures with golden
//! output, the way a platform team checks a policy before shipping it.
//!
//! Each `<case>.yaml` (or `.yml`, `.json`) in the directory is a render input (AIMServices and
//! the cluster state they need); `<case>.expected.yaml` beside it is what `aim-engine render`
//! prints for it with the policy, followed by one `# AIMService ... failed` line per service the
//! policy failed. `--update` rewrites the expected files. Exit 0 when every case matches, 1 when
//! any differs or is missing, 2 when the policy or a fixture cannot be read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::render::offline_policies;
use crate::policy::{CacheLocation, Digest, PolicyLimits};
use crate::render::fixtures::{CaseOutcome, EXPECTED_SUFFIX, check_case, rendered_case};
use crate::render::input::InputError;

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

pub fn run_test(args: &TestArgs, limits: PolicyLimits) -> anyhow::Result<ExitCode> {
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
    let cases = cases(&args.fixtures)?;
    if cases.is_empty() {
        eprintln!("error: no fixtures in {}", args.fixtures.display());
        return Ok(ExitCode::from(2));
    }
    let mut failed = 0;
    for case in &cases {
        let name = case_name(case);
        let expected_path = expected_path(case);
        let input =
            std::fs::read_to_string(case).with_context(|| format!("reading {}", case.display()))?;
        if args.update {
            let actual = match rendered_case(case, &input, &policies) {
                Ok(actual) => actual,
                Err(error) => return Ok(input_error(&error)),
            };
            std::fs::write(&expected_path, &actual)
                .with_context(|| format!("writing {}", expected_path.display()))?;
            println!("updated {name}");
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
        match check_case(case, &input, &expected, &policies) {
            Ok(CaseOutcome::Passed) => println!("ok      {name}"),
            Ok(CaseOutcome::Differs(difference)) => {
                failed += 1;
                println!("FAILED  {name}");
                for line in difference.lines() {
                    println!("  {line}");
                }
            }
            Err(error) => return Ok(input_error(&error)),
        }
    }
    if !args.update {
        println!("{} passed, {failed} failed", cases.len() - failed);
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn input_error(error: &InputError) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(2)
}

/// Input files of the fixture directory, sorted.
fn cases(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let input = [".yaml", ".yml", ".json"].iter().any(|s| name.ends_with(s));
        if path.is_file() && input && !name.ends_with(EXPECTED_SUFFIX) {
            cases.push(path);
        }
    }
    cases.sort();
    Ok(cases)
}

fn case_name(case: &Path) -> String {
    case.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned()
}

fn expected_path(case: &Path) -> PathBuf {
    case.with_file_name(format!("{}{EXPECTED_SUFFIX}", case_name(case)))
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
