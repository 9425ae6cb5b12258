//! Policy fixtures: a render input and the output expected for it with a given policy. Shared by
//! `aim-engine policy test` (files) and the AIMPolicy controller (a ConfigMap), so a policy
//! passes the same checks on a laptop and in the cluster.

use std::fmt::Write as _;
use std::path::Path;

use super::input::{InputError, load_text};
use super::output::{self, Format};
use super::{Rendered, render};
use crate::policy::PolicySet;
use crate::snapshot::ClusterSnapshot;

/// Suffix of the golden output of a case: `<case>.expected.yaml` beside `<case>.yaml`.
pub const EXPECTED_SUFFIX: &str = ".expected.yaml";

/// How one case went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseOutcome {
    Passed,
    /// The output differs; the text shows the first difference.
    Differs(String),
}

/// Renders the case `input` (named `source` in errors) with `policies`: the text a golden holds.
pub fn rendered_case(
    source: &Path,
    input: &str,
    policies: &PolicySet,
) -> Result<String, InputError> {
    let mut snapshot = ClusterSnapshot::default();
    load_text(source, input, &mut snapshot)?;
    Ok(rendered_text(&render(&snapshot, policies)))
}

/// Compares a case's output with its golden.
pub fn check_case(
    source: &Path,
    input: &str,
    expected: &str,
    policies: &PolicySet,
) -> Result<CaseOutcome, InputError> {
    let actual = rendered_case(source, input, policies)?;
    Ok(if actual == expected {
        CaseOutcome::Passed
    } else {
        CaseOutcome::Differs(first_difference(expected, &actual))
    })
}

/// The render output, with one `# AIMService ... failed` line per service the policy failed.
fn rendered_text(rendered: &[Rendered]) -> String {
    let mut text = output::format(rendered, Format::Yaml);
    for entry in rendered {
        if let Err(error) = &entry.plan {
            let _ = writeln!(
                text,
                "# AIMService {} failed: {} ({})",
                entry.service,
                error,
                error.reason()
            );
        }
    }
    text
}

/// The first differing line with a little context, enough to see what changed.
fn first_difference(expected: &str, actual: &str) -> String {
    let expected: Vec<&str> = expected.lines().collect();
    let actual: Vec<&str> = actual.lines().collect();
    let at = expected
        .iter()
        .zip(&actual)
        .position(|(e, a)| e != a)
        .unwrap_or(expected.len().min(actual.len()));
    let mut out = String::new();
    let _ = writeln!(out, "first difference at line {}:", at + 1);
    for line in expected.iter().skip(at).take(3) {
        let _ = writeln!(out, "- {line}");
    }
    for line in actual.iter().skip(at).take(3) {
        let _ = writeln!(out, "+ {line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_is_shown_from_its_first_line() {
        let shown = first_difference("a\nb\nc\n", "a\nx\nc\n");
        assert!(shown.contains("line 2"), "{shown}");
        assert!(shown.contains("- b") && shown.contains("+ x"), "{shown}");
    }
}
