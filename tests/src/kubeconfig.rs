//! The admin kubeconfig for a control plane, and kube `Client`s built from it.
//!
//! Tests build a fresh `Client` per test from the kubeconfig file instead of sharing one: a `Client`'s
//! connection pool lives on the tokio runtime it was created on, and each `#[tokio::test]` has its own.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::pki::Pki;

/// Writes a kubeconfig for `server` that authenticates with the admin client certificate. Files are
/// referenced by absolute path, so it is valid exactly as long as the environment runs.
pub fn write(path: &Path, server: &str, pki: &Pki) -> Result<()> {
    let yaml = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: aim-testenv
  cluster:
    server: {server}
    certificate-authority: {ca}
users:
- name: admin
  user:
    client-certificate: {cert}
    client-key: {key}
contexts:
- name: aim-testenv
  context:
    cluster: aim-testenv
    user: admin
current-context: aim-testenv
",
        ca = pki.ca_cert.display(),
        cert = pki.admin_cert.display(),
        key = pki.admin_key.display(),
    );
    // Written to a temp name and renamed, so a script polling for the file never reads half of it.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, yaml).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// A client for the cluster in the kubeconfig at `path`, on the current tokio runtime.
pub async fn client(path: &Path) -> Result<Client> {
    let kubeconfig = Kubeconfig::read_from(path)
        .with_context(|| format!("reading kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("loading kubeconfig {}", path.display()))?;
    Client::try_from(config).context("building a kube client")
}

/// The directory of the CA file named by the kubeconfig at `path` (written by [`write`]).
pub fn pki_dir(path: &Path) -> Result<PathBuf> {
    let kubeconfig = Kubeconfig::read_from(path)
        .with_context(|| format!("reading kubeconfig {}", path.display()))?;
    let ca = kubeconfig
        .clusters
        .iter()
        .find_map(|c| c.cluster.as_ref()?.certificate_authority.clone())
        .with_context(|| format!("kubeconfig {} names no CA file", path.display()))?;
    let dir = Path::new(&ca).parent().map(Path::to_path_buf);
    dir.with_context(|| format!("CA file {ca} has no parent dir"))
}
