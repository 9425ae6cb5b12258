//! The admin's rules for the pods plans create: which ServiceAccounts they may run as (never the
//! operator's own) and, optionally, which registries their images may come from. Set with
//! `aim-engine run --allowed-service-accounts`, `--allowed-image-registries` and
//! `--operator-service-account` (Helm values `policyChecks.*`).

use std::str::FromStr;

/// A ServiceAccount pattern: `name` (in any namespace) or `namespace/name`, where `*` matches
/// any run of characters, e.g. `*`, `default`, `ml-*/aim-runtime`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountPattern {
    namespace: String,
    name: String,
}

impl AccountPattern {
    /// Whether the account `name` of `namespace` matches.
    pub fn matches(&self, namespace: &str, name: &str) -> bool {
        glob(&self.namespace, namespace) && glob(&self.name, name)
    }
}

impl FromStr for AccountPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (namespace, name) = text.split_once('/').unwrap_or(("*", text));
        if namespace.is_empty() || name.is_empty() || name.contains('/') {
            return Err(format!(
                "{text:?} is not a ServiceAccount pattern (`name` or `namespace/name`, `*` matching anything)"
            ));
        }
        Ok(AccountPattern {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl std::fmt::Display for AccountPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// What the pods a plan creates may run as and run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRules {
    /// The operator's own ServiceAccount (in the operator's namespace): no planned pod ever
    /// runs as it, whatever the allowlist says.
    pub operator_service_account: Option<String>,
    /// ServiceAccounts pods may run as (an unset account is `default`).
    pub allowed_service_accounts: Vec<AccountPattern>,
    /// Registries images may come from (`host[:port]`, `*` matching anything); empty allows any.
    pub allowed_registries: Vec<String>,
}

impl Default for PodRules {
    fn default() -> Self {
        PodRules {
            operator_service_account: None,
            allowed_service_accounts: vec![AccountPattern {
                namespace: "*".to_owned(),
                name: "*".to_owned(),
            }],
            allowed_registries: Vec::new(),
        }
    }
}

impl PodRules {
    /// Why a pod in `namespace` may not run as `account` (`None`: it may).
    pub fn account_refused(
        &self,
        operator_namespace: &str,
        namespace: &str,
        account: &str,
    ) -> Option<String> {
        let account = if account.is_empty() {
            "default"
        } else {
            account
        };
        if namespace == operator_namespace
            && self.operator_service_account.as_deref() == Some(account)
        {
            return Some(format!(
                "runs as the operator's own ServiceAccount {namespace}/{account}"
            ));
        }
        if self
            .allowed_service_accounts
            .iter()
            .any(|pattern| pattern.matches(namespace, account))
        {
            return None;
        }
        Some(format!(
            "runs as ServiceAccount {namespace}/{account}, which the operator's allowlist does not name"
        ))
    }

    /// Why `image` may not be run (`None`: it may).
    pub fn image_refused(&self, image: &str) -> Option<String> {
        if self.allowed_registries.is_empty() {
            return None;
        }
        let registry = registry_of(image);
        if self
            .allowed_registries
            .iter()
            .any(|allowed| glob(allowed, &registry))
        {
            return None;
        }
        Some(format!(
            "image {image:?} comes from registry {registry:?}, which the operator's allowlist does not name"
        ))
    }
}

/// The registry host of an image reference, as container runtimes resolve it: the first path
/// component when it looks like a host (has a `.` or `:`, or is `localhost`), else Docker Hub.
pub fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_ascii_lowercase()
        }
        _ => "docker.io".to_owned(),
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return text.is_empty();
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(accounts: &[&str], registries: &[&str]) -> PodRules {
        PodRules {
            operator_service_account: Some("aim-engine".to_owned()),
            allowed_service_accounts: accounts
                .iter()
                .map(|a| a.parse().unwrap_or_else(|e| panic!("{e}")))
                .collect(),
            allowed_registries: registries.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn the_operators_own_account_is_refused_whatever_the_allowlist_says() {
        let any = rules(&["*"], &[]);
        assert!(
            any.account_refused("aim-system", "aim-system", "aim-engine")
                .is_some()
        );
        // The same name in a user's namespace is that user's account.
        assert!(
            any.account_refused("aim-system", "ml", "aim-engine")
                .is_none()
        );
    }

    #[test]
    fn the_allowlist_names_accounts_by_name_or_namespace_and_name() {
        let listed = rules(&["default", "ml-*/aim-runtime"], &[]);
        assert!(listed.account_refused("aim-system", "team", "").is_none());
        assert!(
            listed
                .account_refused("aim-system", "ml-research", "aim-runtime")
                .is_none()
        );
        assert!(
            listed
                .account_refused("aim-system", "team", "aim-runtime")
                .is_some()
        );
        assert!("a/b/c".parse::<AccountPattern>().is_err());
        assert!("".parse::<AccountPattern>().is_err());
    }

    #[test]
    fn images_come_only_from_listed_registries_when_a_list_is_set() {
        assert!(
            rules(&["*"], &[])
                .image_refused("evil.example/x:1")
                .is_none()
        );
        let listed = rules(&["*"], &["ghcr.io", "*.internal:5000"]);
        assert!(listed.image_refused("ghcr.io/silogen/aim:1").is_none());
        assert!(listed.image_refused("reg.internal:5000/aim:1").is_none());
        assert!(listed.image_refused("ubuntu").is_some());
        assert!(listed.image_refused("evil.example/x:1").is_some());
    }

    #[test]
    fn registries_are_read_as_container_runtimes_read_them() {
        assert_eq!(registry_of("ubuntu:24.04"), "docker.io");
        assert_eq!(registry_of("library/ubuntu"), "docker.io");
        assert_eq!(registry_of("localhost/x"), "localhost");
        assert_eq!(registry_of("127.0.0.1:5000/a/b:1"), "127.0.0.1:5000");
        assert_eq!(registry_of("GHCR.io/a"), "ghcr.io");
    }

    #[test]
    fn globs_match_runs_of_characters() {
        assert!(glob("*", ""));
        assert!(glob("a*c", "abbbc"));
        assert!(glob("*.x", "a.x"));
        assert!(!glob("*.x", "a.y"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("ab", "abc"));
        assert!(!glob("a*a", "a"));
    }
}
