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

pub use super::input::EXPECTED_SUFFIX;
use super::input::{InputError, load_text};
use super::output::{self, Format};
use super::{Rendered, render};
use crate::policy::PolicySet;
use crate::snapshot::ClusterSnapshot;

/// How one case went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseOutcome {
    Passed,
    /// The output differs; the text shows every differing line.
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
        CaseOutcome::Differs(differences(expected, &actual))
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
/// Differing lines shown at most; a golden file that is all wrong needs `--update`, not reading.
const MAX_SHOWN_LINES: usize = 60;

/// Every difference between the golden output and the actual one, as a line diff: changed lines
/// only (`-` golden, `+` actual), each group headed by its line in the golden file and the object
/// it is in, so that a change deep in a file shows as itself rather than as everything after it.
fn differences(expected: &str, actual: &str) -> String {
    let expected: Vec<&str> = expected.lines().collect();
    let actual: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    let mut shown = 0;
    let mut hidden = 0;
    for hunk in hunks(&expected, &actual) {
        if shown < MAX_SHOWN_LINES {
            let place = object_at(&expected, hunk.at);
            let _ = writeln!(out, "at line {}{place}:", hunk.at + 1);
        }
        let lines = hunk.removed.iter().map(|line| ('-', line));
        for (sign, line) in lines.chain(hunk.added.iter().map(|line| ('+', line))) {
            if shown < MAX_SHOWN_LINES {
                let _ = writeln!(out, "{sign} {line}");
                shown += 1;
            } else {
                hidden += 1;
            }
        }
    }
    if hidden > 0 {
        let _ = writeln!(out, "... and {hidden} more differing lines");
    }
    out
}

/// A run of golden lines replaced by actual ones, starting at golden line `at` (0-based).
struct Hunk<'a> {
    at: usize,
    removed: Vec<&'a str>,
    added: Vec<&'a str>,
}

/// The hunks of a longest-common-subsequence line diff. Golden files are a few hundred lines, so
/// the quadratic table is small; past that, everything after the common start is one hunk.
fn hunks<'a>(expected: &[&'a str], actual: &[&'a str]) -> Vec<Hunk<'a>> {
    const MAX_CELLS: usize = 16 << 20;
    let (n, m) = (expected.len(), actual.len());
    if n.saturating_mul(m) > MAX_CELLS {
        let at = expected
            .iter()
            .zip(actual)
            .position(|(e, a)| e != a)
            .unwrap_or(n.min(m));
        return vec![Hunk {
            at,
            removed: expected[at..].to_vec(),
            added: actual[at..].to_vec(),
        }];
    }
    // common[i][j]: length of the longest common subsequence of expected[i..] and actual[j..].
    let mut common = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] = if expected[i] == actual[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut hunks: Vec<Hunk<'a>> = Vec::new();
    let (mut i, mut j) = (0, 0);
    let mut open: Option<Hunk<'a>> = None;
    while i < n || j < m {
        if i < n && j < m && expected[i] == actual[j] {
            hunks.extend(open.take());
            i += 1;
            j += 1;
        } else if j < m && (i == n || common[i][j + 1] >= common[i + 1][j]) {
            open.get_or_insert_with(|| Hunk {
                at: i,
                removed: Vec::new(),
                added: Vec::new(),
            })
            .added
            .push(actual[j]);
            j += 1;
        } else {
            open.get_or_insert_with(|| Hunk {
                at: i,
                removed: Vec::new(),
                added: Vec::new(),
            })
            .removed
            .push(expected[i]);
            i += 1;
        }
    }
    hunks.extend(open);
    hunks
}

/// ` (in Kind name)` for the golden line `at`: the last `kind:` and `metadata.name` before it in
/// the same YAML document, or the document's header comment; empty when there is none.
fn object_at(lines: &[&str], at: usize) -> String {
    let document = &lines[..at.min(lines.len())];
    let start = document
        .iter()
        .rposition(|line| *line == "---")
        .map_or(0, |separator| separator + 1);
    let this = &lines[start..];
    let field = |key: &str| {
        this.iter()
            .find_map(|line| line.strip_prefix(key).map(str::trim))
            .filter(|value| !value.is_empty())
    };
    match (field("kind:"), field("  name:")) {
        (Some(kind), Some(name)) => format!(" (in {kind} {name})"),
        (Some(kind), None) => format!(" (in {kind})"),
        _ => document
            .get(start)
            .and_then(|line| line.strip_prefix("# "))
            .map(|header| format!(" (in {header})"))
            .unwrap_or_default(),
    }
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
    fn only_the_lines_that_differ_are_shown_with_the_object_they_are_in() {
        let golden = "# AIMService ns/chat\n---\nkind: HTTPRoute\nmetadata:\n  name: chat-route\nspec:\n  path: /a\n  port: 80\n";
        let actual = "# AIMService ns/chat\n---\nkind: HTTPRoute\nmetadata:\n  annotations:\n    hash: x\n  name: chat-route\nspec:\n  path: /b\n  port: 80\n";
        let shown = differences(golden, actual);
        assert_eq!(
            shown,
            "at line 5 (in HTTPRoute chat-route):\n+   annotations:\n+     hash: x\n\
             at line 7 (in HTTPRoute chat-route):\n-   path: /a\n+   path: /b\n"
        );
    }

    #[test]
    fn a_long_list_of_differences_is_cut_with_a_count() {
        let golden: String = (0..100).map(|i| format!("a{i}\n")).collect();
        let actual: String = (0..100).map(|i| format!("b{i}\n")).collect();
        let shown = differences(&golden, &actual);
        assert!(shown.ends_with("more differing lines\n"), "{shown}");
        assert!(shown.lines().count() < 2 * MAX_SHOWN_LINES, "{shown}");
    }
}
