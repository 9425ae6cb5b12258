//! Image pull Secrets for a [`TestRegistry`], in the `kubernetes.io/dockerconfigjson` form that pods'
//! `imagePullSecrets` and the operator's registry credentials use.

use anyhow::{Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::Secret;
use serde_json::json;

use super::TestRegistry;

impl TestRegistry {
    /// A Secret `name` (not yet created) holding this registry's credentials, with `auth` as
    /// base64 `user:password` the way `kubectl create secret docker-registry` writes it.
    pub fn pull_secret(&self, name: &str) -> Result<Secret> {
        let Some(credentials) = self.credentials() else {
            bail!("the registry at {} requires no credentials", self.host());
        };
        let auth = STANDARD.encode(format!("{}:{}", credentials.username, credentials.password));
        let config = json!({ "auths": { self.host(): {
            "username": credentials.username, "password": credentials.password, "auth": auth,
        }}});
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": { "name": name },
            "type": "kubernetes.io/dockerconfigjson",
            "data": { ".dockerconfigjson": STANDARD.encode(serde_json::to_vec(&config)?) },
        });
        Ok(serde_json::from_value(secret)?)
    }
}
