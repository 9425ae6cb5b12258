//! Where things live: the control-plane binaries and third-party CRDs in a cache outside the repo
//! (built by `tests/k8s/build.sh`), and our own CRDs in the repo's `deploy/crds`.
//!
//! The cache dir is keyed by the versions in `tests/k8s/versions.env`, which `build.sh` reads too, so
//! the harness and the build script can never disagree about which binaries to use.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

const VERSIONS_ENV: &str = include_str!("../k8s/versions.env");

/// A `KEY=value` from `versions.env`.
fn pinned(key: &str) -> Result<&'static str> {
    VERSIONS_ENV
        .lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
        .with_context(|| format!("{key} missing from tests/k8s/versions.env"))
}

/// `$AIM_TESTENV_CACHE`, or `$HOME/.cache/aim-engine/testenv` (the same default as `build.sh`).
pub fn cache_root() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("AIM_TESTENV_CACHE").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME").context("neither AIM_TESTENV_CACHE nor HOME is set")?;
    Ok(Path::new(&home).join(".cache/aim-engine/testenv"))
}

/// Directory holding `etcd`, `kube-apiserver` and `kube-controller-manager`.
pub fn bin_dir() -> Result<PathBuf> {
    let key = format!(
        "k8s-{}-etcd-{}",
        pinned("K8S_VERSION")?,
        pinned("ETCD_VERSION")?
    );
    Ok(cache_root()?.join(key).join("bin"))
}

/// Path of one binary built by `build.sh`, with an error that says how to get it.
pub fn binary(name: &str) -> Result<PathBuf> {
    let path = bin_dir()?.join(name);
    if !path.is_file() {
        bail!(
            "{} not found: run tests/k8s/build.sh (needs Go; builds the test control plane once \
             into the cache, set AIM_TESTENV_CACHE to move it)",
            path.display()
        );
    }
    Ok(path)
}

/// The CNCF distribution registry, built by `build.sh` next to the control plane under a versioned name.
pub fn registry_binary() -> Result<PathBuf> {
    binary(&format!("registry-{}", pinned("DISTRIBUTION_VERSION")?))
}

/// KServe's controller manager, built by `build.sh` next to the control plane under a versioned name.
pub fn kserve_binary() -> Result<PathBuf> {
    binary(&format!("kserve-manager-{}", pinned("KSERVE_VERSION")?))
}

/// Traefik, fetched by `build.sh` next to the control plane under a versioned name.
pub fn traefik_binary() -> Result<PathBuf> {
    binary(&format!("traefik-{}", pinned("TRAEFIK_VERSION")?))
}

/// KServe's install manifests (`inferenceservice.yaml`, `manifests.yaml` of its webhooks) copied
/// from its Go module by `build.sh`.
pub fn kserve_config_dir() -> Result<PathBuf> {
    Ok(cache_root()?.join(format!("kserve-config-{}", pinned("KSERVE_VERSION")?)))
}

/// KServe and Gateway API CRDs copied from their Go modules by `build.sh`.
pub fn third_party_crd_dir() -> Result<PathBuf> {
    let key = format!(
        "crds-kserve-{}-gateway-api-{}",
        pinned("KSERVE_VERSION")?,
        pinned("GATEWAY_API_VERSION")?
    );
    Ok(cache_root()?.join(key))
}

/// The project's own CRDs.
pub fn aim_crd_dir() -> PathBuf {
    repo_root().join("deploy/crds")
}

fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// `*.yaml`/`*.yml` files in `dir`, sorted; a missing dir is simply empty.
pub fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
