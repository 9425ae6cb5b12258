//! Policy fixtures: a render input and the output expected for it with a given policy. Shared by
//! `aim-engine policy test` (files) and the AIMPolicy controller (a ConfigMap), so a policy
//! passes the same checks on a laptop and in the cluster.
//!
//! A case is one file, `<case>.yaml` (or `.yml`, `.json`), holding the AIMServices and all the
//! cluster state they need; its golden is `<case>.expected.yaml`. One file, because a ConfigMap
//! holds flat keys: the same directory runs in the cluster unchanged. Every example under
//! `examples/` is such a file too. A golden without its input, and an input without an
//! AIMService, are errors rather than cases that pass without testing anything.

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

/// The fixture files among `names` (file names or ConfigMap keys): each case with the name of its
/// input, and the goldens that have no input. Other names (a README) are not fixtures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixtureFiles {
    /// `(case, input name)`, sorted by case.
    pub cases: Vec<(String, String)>,
    /// `<case>.expected.yaml` names without a `<case>.yaml` beside them.
    pub orphaned_goldens: Vec<String>,
}

pub fn fixture_files<'a>(names: impl IntoIterator<Item = &'a str>) -> FixtureFiles {
    let names: Vec<&str> = names.into_iter().collect();
    let mut files = FixtureFiles::default();
    for name in &names {
        if name.ends_with(EXPECTED_SUFFIX) {
            continue;
        }
        if let Some(case) = [".yaml", ".yml", ".json"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
        {
            files.cases.push((case.to_owned(), (*name).to_owned()));
        }
    }
    files.orphaned_goldens = names
        .iter()
        .filter_map(|name| name.strip_suffix(EXPECTED_SUFFIX).map(|case| (case, name)))
        .filter(|(case, _)| !files.cases.iter().any(|(known, _)| known == case))
        .map(|(_, name)| (*name).to_owned())
        .collect();
    files.cases.sort();
    files.orphaned_goldens.sort();
    files
}

/// Renders the case `input` (named `source` in errors) with `policies`: the text a golden holds.
pub fn rendered_case(
    source: &Path,
    input: &str,
    policies: &PolicySet,
) -> Result<String, InputError> {
    let mut snapshot = ClusterSnapshot::default();
    load_text(source, input, &mut snapshot)?;
    if snapshot.services.is_empty() {
        return Err(InputError {
            location: source.display().to_string(),
            problem: "no AIMService: a case renders the AIMServices in it, so the file needs at \
                      least one, with the cluster state it depends on"
                .to_owned(),
        });
    }
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
    fn goldens_pair_with_their_inputs_and_orphans_are_named() {
        let files = fixture_files([
            "b.yaml",
            "b.expected.yaml",
            "a.json",
            "gone.expected.yaml",
            "README.md",
        ]);
        assert_eq!(
            files.cases,
            [
                ("a".to_owned(), "a.json".to_owned()),
                ("b".to_owned(), "b.yaml".to_owned())
            ]
        );
        assert_eq!(files.orphaned_goldens, ["gone.expected.yaml"]);
    }

    #[test]
    fn a_difference_is_shown_from_its_first_line() {
        let shown = first_difference("a\nb\nc\n", "a\nx\nc\n");
        assert!(shown.contains("line 2"), "{shown}");
        assert!(shown.contains("- b") && shown.contains("+ x"), "{shown}");
    }
}
