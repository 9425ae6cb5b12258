//! Kubernetes-safe names and label values, derived exactly as the embedded default policy
//! derives them (it uses this module), so a policy's objects are named the way users expect.

/// Longest DNS label (RFC 1123) and label value Kubernetes accepts.
pub const MAX_LABEL_LENGTH: usize = 63;

/// A name Kubernetes accepts: lowercase, replace runs of characters outside `[a-z0-9.-]` with `-`,
/// trim `-`/`.` at both ends, collapse runs of `-`/`.` to `-`, truncate to 63, trim a trailing `-`
/// or `.` (a cut just after a `.` would leave a name Kubernetes refuses). The result is empty or
/// an RFC 1123 subdomain of at most 63 characters.
pub fn make_rfc1123_compliant(input: &str) -> String {
    let lowered = input.to_lowercase();
    let replaced = replace_runs(
        &lowered,
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-',
        '-',
    );
    let trimmed = replaced.trim_matches(|c| c == '-' || c == '.');
    let mut collapsed = String::with_capacity(trimmed.len());
    let mut separators = 0usize;
    let mut pending = String::new();
    for c in trimmed.chars() {
        if c == '-' || c == '.' {
            separators += 1;
            pending.push(c);
            continue;
        }
        flush_separators(&mut collapsed, &mut pending, separators);
        separators = 0;
        collapsed.push(c);
    }
    flush_separators(&mut collapsed, &mut pending, separators);
    let truncated = truncate_chars(&collapsed, MAX_LABEL_LENGTH);
    truncated.trim_end_matches(['-', '.']).to_string()
}

/// A label value Kubernetes accepts: replace runs outside `[a-zA-Z0-9._-]` with `_`, trim `_.-` at both ends,
/// truncate to 63, trim trailing `_.-` again, and use `unknown` when nothing is left. Case is kept.
pub fn sanitize_label_value(input: &str) -> String {
    let is_edge = |c: char| c == '_' || c == '.' || c == '-';
    let replaced = replace_runs(
        input,
        |c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-',
        '_',
    );
    let trimmed = replaced.trim_matches(is_edge);
    let truncated = truncate_chars(trimmed, MAX_LABEL_LENGTH);
    let value = truncated.trim_end_matches(is_edge);
    if value.is_empty() {
        "unknown".to_string()
    } else {
        value.to_string()
    }
}

/// Replaces every maximal run of characters for which `keep` is false with one `replacement`.
fn replace_runs(input: &str, keep: impl Fn(char) -> bool, replacement: char) -> String {
    let mut out = String::with_capacity(input.len());
    let mut in_run = false;
    for c in input.chars() {
        if keep(c) {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push(replacement);
            in_run = true;
        }
    }
    out
}

/// A run of two or more separators becomes one `-`; a single separator is kept as it is.
fn flush_separators(out: &mut String, pending: &mut String, count: usize) {
    if count >= 2 {
        out.push('-');
    } else {
        out.push_str(pending);
    }
    pending.clear();
}

/// Keeps at most `max` characters. Inputs here are ASCII after sanitising, so characters are bytes.
fn truncate_chars(input: &str, max: usize) -> &str {
    match input.char_indices().nth(max) {
        Some((end, _)) => &input[..end],
        None => input,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1123_lowercases_and_replaces_invalid_runs() {
        assert_eq!(make_rfc1123_compliant("Meta/Llama-3-8B"), "meta-llama-3-8b");
        assert_eq!(make_rfc1123_compliant("Team A//B"), "team-a-b");
        assert_eq!(make_rfc1123_compliant("Testing"), "testing");
    }

    #[test]
    fn rfc1123_trims_and_collapses_separators() {
        assert_eq!(make_rfc1123_compliant("--a..b.-c--"), "a-b-c");
        assert_eq!(make_rfc1123_compliant(".a.b."), "a.b");
        assert_eq!(make_rfc1123_compliant("___"), "");
    }

    #[test]
    fn rfc1123_truncates_to_63_and_drops_a_trailing_dash() {
        let long = format!("{}-{}", "a".repeat(62), "b".repeat(10));
        assert_eq!(make_rfc1123_compliant(&long), "a".repeat(62));
        assert_eq!(make_rfc1123_compliant(&"x".repeat(104)).len(), 63);
    }

    #[test]
    fn a_dot_left_last_by_truncation_is_trimmed_like_a_dash() {
        let name = make_rfc1123_compliant(&format!("{}.b", "a".repeat(62)));
        assert_eq!(name, "a".repeat(62));
    }

    #[test]
    fn label_values_keep_case_and_fall_back_to_unknown() {
        assert_eq!(sanitize_label_value("Meta/Llama 3"), "Meta_Llama_3");
        assert_eq!(sanitize_label_value("_.-"), "unknown");
        assert_eq!(sanitize_label_value(""), "unknown");
        assert_eq!(sanitize_label_value(&"v".repeat(70)).len(), 63);
    }
}
