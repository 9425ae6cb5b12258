//! Bounding text that comes from outside the operator (registries, policies, API errors) before it
//! reaches a status, an Event or a log line: cut to a number of bytes on a character boundary,
//! and, for text from the network, control characters replaced.

/// What marks a cut.
const ELLIPSIS: &str = " ...";

/// `text` unchanged if it has at most `max_bytes` bytes, else cut on a character boundary and
/// marked with " ...", the whole still at most `max_bytes` bytes.
pub fn truncate_bytes(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let mut end = max_bytes.saturating_sub(ELLIPSIS.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = text[..end].to_owned();
    if cut.len() + ELLIPSIS.len() <= max_bytes {
        cut.push_str(ELLIPSIS);
    }
    cut
}

/// `text` as one line fit for a status message: control characters (line breaks, escape
/// sequences, NULs) become spaces, runs of whitespace become one, and it is cut to `max_bytes`.
pub fn sanitize(text: &str, max_bytes: usize) -> String {
    let mut line = String::with_capacity(text.len().min(max_bytes.saturating_add(4)));
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_control() || c.is_whitespace() {
            pending_space = !line.is_empty();
            continue;
        }
        if pending_space {
            line.push(' ');
            pending_space = false;
        }
        line.push(c);
        // Enough to cut from; no need to copy a megabyte of error page.
        if line.len() > max_bytes {
            break;
        }
    }
    truncate_bytes(&line, max_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_and_long_text_is_cut_within_the_limit() {
        assert_eq!(truncate_bytes("short", 10), "short");
        let cut = truncate_bytes(&"x".repeat(100), 10);
        assert_eq!(cut, "xxxxxx ...");
        assert_eq!(cut.len(), 10);
    }

    #[test]
    fn cuts_never_split_a_character() {
        // Each of these is 3 bytes; 10 - 4 = 6 bytes is exactly two of them.
        let cut = truncate_bytes(&"€".repeat(10), 10);
        assert_eq!(cut, "€€ ...");
        let cut = truncate_bytes(&"€".repeat(10), 11);
        assert_eq!(cut, "€€ ...");
        assert!(truncate_bytes(&"€".repeat(10), 2).len() <= 2);
    }

    #[test]
    fn control_characters_and_line_breaks_become_single_spaces() {
        assert_eq!(
            sanitize("  bad\r\n\x1b[31mred\x1b[0m\u{0}  gateway\t\n", 100),
            "bad [31mred [0m gateway"
        );
        assert_eq!(sanitize(&format!("{}\n", "a".repeat(1000)), 8), "aaaa ...");
    }
}
