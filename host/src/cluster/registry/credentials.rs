//! Registry credentials from Kubernetes image pull Secrets (`kubernetes.io/dockerconfigjson`, and the
//! legacy `kubernetes.io/dockercfg`), in the form the registry client needs.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::Secret;
use serde::Deserialize;

/// Docker Hub's registry as references resolve it, and the names config files use for it.
const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_ALIASES: [&str; 3] = ["index.docker.io", "registry-1.docker.io", "docker.io"];

/// User name and password for one registry host (`host[:port]`, as in an image reference).
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredential {
    pub registry: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password must not reach logs through a `{:?}`.
        f.debug_struct("RegistryCredential")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    /// base64 of `user:password`.
    #[serde(default)]
    auth: Option<String>,
}

/// The credentials in a pull Secret's `.dockerconfigjson` (or `.dockercfg`). Entries that cannot be
/// read (bad JSON or base64, no user name) are skipped: a Secret is user input, and the registry's
/// answer to a missing credential (an auth error) says more than a parse error would.
pub fn credentials_from_secret(secret: &Secret) -> Vec<RegistryCredential> {
    let data = secret.data.as_ref();
    let auths = if let Some(json) = data.and_then(|d| d.get(".dockerconfigjson")) {
        serde_json::from_slice::<DockerConfig>(&json.0).map(|c| c.auths)
    } else if let Some(json) = data.and_then(|d| d.get(".dockercfg")) {
        // The legacy format is the `auths` map itself.
        serde_json::from_slice::<BTreeMap<String, AuthEntry>>(&json.0)
    } else {
        return Vec::new();
    };
    auths
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(server, entry)| credential(&server, entry))
        .collect()
}

fn credential(server: &str, entry: AuthEntry) -> Option<RegistryCredential> {
    let (username, password) = match (entry.username, entry.password) {
        (Some(user), Some(password)) if !user.is_empty() => (user, password),
        _ => {
            let decoded = STANDARD.decode(entry.auth?.trim()).ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (user, password) = decoded.split_once(':')?;
            (user.to_owned(), password.to_owned())
        }
    };
    Some(RegistryCredential {
        registry: registry_host(server),
        username,
        password,
    })
}

/// `https://index.docker.io/v1/` → `docker.io`, `http://host:5000/path` → `host:5000`.
fn registry_host(server: &str) -> String {
    let without_scheme = server.split_once("://").map_or(server, |(_, rest)| rest);
    let host = without_scheme.split('/').next().unwrap_or_default();
    if DOCKER_HUB_ALIASES.contains(&host) {
        DOCKER_HUB.to_owned()
    } else {
        host.to_owned()
    }
}

/// The credential for `registry` (an image reference's registry part), if any.
pub(super) fn for_registry<'a>(
    credentials: &'a [RegistryCredential],
    registry: &str,
) -> Option<&'a RegistryCredential> {
    let registry = registry_host(registry);
    credentials.iter().find(|c| c.registry == registry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(key: &str, json: &str) -> Secret {
        Secret {
            data: Some(BTreeMap::from([(key.to_owned(), ByteString(json.into()))])),
            ..Secret::default()
        }
    }

    #[test]
    fn reads_auth_and_username_password_entries() {
        let json = r#"{"auths":{
            "https://index.docker.io/v1/":{"auth":"dXNlcjpwYTpzcw=="},
            "ghcr.io":{"username":"bot","password":"token"},
            "broken.example":{"auth":"not base64!"}}}"#;
        let creds = credentials_from_secret(&secret(".dockerconfigjson", json));
        assert_eq!(creds.len(), 2);
        let hub = for_registry(&creds, "index.docker.io").expect("docker hub");
        assert_eq!(
            (hub.username.as_str(), hub.password.as_str()),
            ("user", "pa:ss")
        );
        let ghcr = for_registry(&creds, "ghcr.io").expect("ghcr");
        assert_eq!(
            (ghcr.username.as_str(), ghcr.password.as_str()),
            ("bot", "token")
        );
        assert!(for_registry(&creds, "quay.io").is_none());
    }

    #[test]
    fn reads_legacy_dockercfg_and_ignores_garbage() {
        let legacy = secret(".dockercfg", r#"{"127.0.0.1:5000":{"auth":"YTpi"}}"#);
        let creds = credentials_from_secret(&legacy);
        assert_eq!(creds[0].registry, "127.0.0.1:5000");
        assert!(credentials_from_secret(&secret(".dockerconfigjson", "{")).is_empty());
        assert!(credentials_from_secret(&Secret::default()).is_empty());
    }

    #[test]
    fn debug_hides_the_password() {
        let cred = RegistryCredential {
            registry: "r".into(),
            username: "u".into(),
            password: "secret-value".into(),
        };
        assert!(!format!("{cred:?}").contains("secret-value"));
    }
}
