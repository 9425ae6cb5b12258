//! The subset of Kubernetes JSONPath that route path templates use: `.field`, `['key']`,
//! `["key"]`, `[index]` and the wildcards `*` / `[*]`, evaluated with missing keys as errors
//! (`AllowMissingKeys(false)`), like `client-go/util/jsonpath`.

use serde_json::Value;

/// One step from a value to its children.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(usize),
    Wildcard,
}

/// Why an expression gave no single value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonPathError {
    /// The expression does not parse.
    Invalid(String),
    /// The expression parsed but selected nothing, several values, or null.
    Evaluation(String),
}

/// Evaluates `expression` (without braces) against `root` and returns the one value it selects.
pub fn evaluate_single<'a>(root: &'a Value, expression: &str) -> Result<&'a Value, JsonPathError> {
    let steps = parse(expression)?;
    let mut current = vec![root];
    for step in &steps {
        let mut next = Vec::new();
        for value in current {
            apply(step, value, &mut next)?;
        }
        current = next;
    }
    match current.as_slice() {
        [] => Err(JsonPathError::Evaluation(format!(
            "{expression} produced no results"
        ))),
        [Value::Null] => Err(JsonPathError::Evaluation(format!("{expression} is nil"))),
        [single] => Ok(single),
        many => Err(JsonPathError::Evaluation(format!(
            "{expression} produced {} results, expected one",
            many.len()
        ))),
    }
}

fn apply<'a>(step: &Step, value: &'a Value, out: &mut Vec<&'a Value>) -> Result<(), JsonPathError> {
    match (step, value) {
        (Step::Field(name), Value::Object(map)) => match map.get(name) {
            Some(child) => out.push(child),
            None => return Err(JsonPathError::Evaluation(format!("{name} is not found"))),
        },
        (Step::Index(index), Value::Array(items)) => match items.get(*index) {
            Some(child) => out.push(child),
            None => {
                return Err(JsonPathError::Evaluation(format!(
                    "array index out of bounds: index {index}, length {}",
                    items.len()
                )));
            }
        },
        (Step::Wildcard, Value::Object(map)) => out.extend(map.values()),
        (Step::Wildcard, Value::Array(items)) => out.extend(items.iter()),
        (Step::Field(name), _) => {
            return Err(JsonPathError::Evaluation(format!("{name} is not found")));
        }
        (Step::Index(_), _) => {
            return Err(JsonPathError::Evaluation(
                "cannot index a non-array value".to_string(),
            ));
        }
        (Step::Wildcard, _) => {}
    }
    Ok(())
}

/// Parses `.a.b['c'][0]` (an optional leading `$` is accepted) into steps.
fn parse(expression: &str) -> Result<Vec<Step>, JsonPathError> {
    let invalid = |why: &str| JsonPathError::Invalid(format!("{expression}: {why}"));
    let text = expression.strip_prefix('$').unwrap_or(expression);
    let chars: Vec<char> = text.chars().collect();
    let mut steps = Vec::new();
    let mut at = 0;
    if chars.is_empty() {
        return Err(invalid("empty expression"));
    }
    while at < chars.len() {
        match chars[at] {
            '.' => {
                at += 1;
                let start = at;
                while at < chars.len() && is_field_char(chars[at]) {
                    at += 1;
                }
                if start == at {
                    // A lone `.` selects the current object, as `{.}` does in kubectl.
                    if at == chars.len() && steps.is_empty() {
                        break;
                    }
                    return Err(invalid("expected a field name after '.'"));
                }
                let name: String = chars[start..at].iter().collect();
                steps.push(if name == "*" {
                    Step::Wildcard
                } else {
                    Step::Field(name)
                });
            }
            '[' => {
                let close =
                    find_bracket_end(&chars, at).ok_or_else(|| invalid("unterminated '['"))?;
                let inner: String = chars[at + 1..close].iter().collect();
                steps.push(
                    parse_bracket(inner.trim())
                        .ok_or_else(|| invalid("unsupported bracket expression"))?,
                );
                at = close + 1;
            }
            other => return Err(invalid(&format!("unexpected character {other:?}"))),
        }
    }
    Ok(steps)
}

fn is_field_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-' || c == '*'
}

/// Finds the `]` closing the bracket at `open`, skipping quoted text.
fn find_bracket_end(chars: &[char], open: usize) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (offset, &c) in chars.iter().enumerate().skip(open + 1) {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == ']' => return Some(offset),
            None => {}
        }
    }
    None
}

fn parse_bracket(inner: &str) -> Option<Step> {
    if inner == "*" {
        return Some(Step::Wildcard);
    }
    for quote in ['\'', '"'] {
        if let Some(key) = inner
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return Some(Step::Field(key.to_string()));
        }
    }
    inner.parse::<usize>().ok().map(Step::Index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service() -> Value {
        json!({"metadata": {"name": "chat", "labels": {"a/b": "x"}}, "spec": {"items": [1, 2]}})
    }

    #[test]
    fn fields_brackets_and_indexes_select_one_value() {
        let root = service();
        assert_eq!(evaluate_single(&root, ".metadata.name"), Ok(&json!("chat")));
        assert_eq!(
            evaluate_single(&root, ".metadata.labels['a/b']"),
            Ok(&json!("x"))
        );
        assert_eq!(
            evaluate_single(&root, "$.metadata.labels[\"a/b\"]"),
            Ok(&json!("x"))
        );
        assert_eq!(evaluate_single(&root, ".spec.items[1]"), Ok(&json!(2)));
    }

    #[test]
    fn missing_keys_several_results_and_bad_syntax_are_errors() {
        let root = service();
        assert!(matches!(
            evaluate_single(&root, ".spec.model"),
            Err(JsonPathError::Evaluation(_))
        ));
        assert!(matches!(
            evaluate_single(&root, ".spec.items[*]"),
            Err(JsonPathError::Evaluation(_))
        ));
        assert!(matches!(
            evaluate_single(&root, ".metadata["),
            Err(JsonPathError::Invalid(_))
        ));
        assert!(matches!(
            evaluate_single(&root, "metadata"),
            Err(JsonPathError::Invalid(_))
        ));
    }
}
