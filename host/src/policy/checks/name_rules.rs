//! The rules for names, labels and annotations of planned objects: RFC 1123 names and
//! Kubernetes' qualified keys and label values, so the apiserver never refuses a plan halfway.

use serde_json::Value;

/// Which RFC 1123 rule a kind's names follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 label: at most 63 characters, no dots (names that end up in labels or DNS).
    Label,
    /// RFC 1123 subdomain: at most 253 characters.
    Subdomain,
}

pub fn check_name(name: &str, rule: NameRule) -> Result<(), String> {
    let valid = match rule {
        NameRule::Label => is_dns_label(name),
        NameRule::Subdomain => is_dns_subdomain(name),
    };
    if valid {
        return Ok(());
    }
    Err(match rule {
        NameRule::Label => {
            "name must be an RFC 1123 label (lowercase letters, digits and '-', at most 63)"
                .to_string()
        }
        NameRule::Subdomain => {
            "name must be an RFC 1123 subdomain (lowercase labels joined by '.', at most 253)"
                .to_string()
        }
    })
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn is_dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// Labels joined by `.`, at most 253 characters.
pub fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(is_dns_label)
}

pub fn check_labels(labels: Option<&Value>) -> Result<(), String> {
    let Some(labels) = labels.filter(|l| !l.is_null()) else {
        return Ok(());
    };
    let labels = labels
        .as_object()
        .ok_or_else(|| "labels must be an object of strings".to_string())?;
    for (key, value) in labels {
        check_qualified_key(key).map_err(|why| format!("label key {key:?}: {why}"))?;
        let value = value
            .as_str()
            .ok_or_else(|| format!("label {key:?} must have a string value"))?;
        if !is_label_value(value) {
            return Err(format!(
                "label {key:?} has an invalid value {value:?} (at most 63 letters, digits, '-', '_', '.')"
            ));
        }
    }
    Ok(())
}

pub fn check_annotation_keys(annotations: Option<&Value>) -> Result<(), String> {
    let Some(annotations) = annotations.filter(|a| !a.is_null()) else {
        return Ok(());
    };
    let annotations = annotations
        .as_object()
        .ok_or_else(|| "annotations must be an object of strings".to_string())?;
    for (key, value) in annotations {
        check_qualified_key(key).map_err(|why| format!("annotation key {key:?}: {why}"))?;
        if !value.is_string() {
            return Err(format!("annotation {key:?} must have a string value"));
        }
    }
    Ok(())
}

/// `[prefix/]name`: prefix a DNS subdomain, name at most 63 alphanumerics with `-_.` inside.
fn check_qualified_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !is_dns_subdomain(prefix)
    {
        return Err("prefix must be a DNS subdomain".to_string());
    }
    if name.is_empty() || !is_label_value(name) {
        return Err(
            "name must be 1-63 letters, digits, '-', '_', '.', starting and ending alphanumeric"
                .to_string(),
        );
    }
    Ok(())
}

/// Empty, or at most 63 characters of `[A-Za-z0-9-_.]` starting and ending alphanumeric.
pub fn is_label_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()))
}
