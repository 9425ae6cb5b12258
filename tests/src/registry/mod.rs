//! A real OCI registry on loopback: the CNCF distribution registry (built by `tests/k8s/build.sh`),
//! started on demand per test on a free 127.0.0.1 port, storing into a temp dir, plain HTTP, and
//! optionally behind htpasswd basic auth for pull-secret tests. [`TestRegistry::push_image`] puts a
//! small image with chosen labels into it, so image inspection runs against the real protocol.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let registry = aim_tests::registry::TestRegistry::start().await?;
//! registry.push_image("aim/llama", "0.1", &[("com.amd.aim.model.canonicalName", "llama")]).await?;
//! let image = registry.image("aim/llama", "0.1"); // "127.0.0.1:<port>/aim/llama:0.1"
//! # let _ = image; Ok(()) }
//! ```
//!
//! The process is killed by pid when the value drops, and by the [`crate::process`] watchdog if the
//! test binary dies first.

pub mod hostile;
mod push;
mod secret;

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::paths;
use crate::process::{Supervisor, tail};

const READY_TIMEOUT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(50);
/// bcrypt's minimum cost: the registry checks the hash on every request, and these are throwaway.
const BCRYPT_COST: u32 = 4;

/// User name and password of a registry started with [`TestRegistry::start_with_auth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// A running registry. Field order is drop order: the process dies before its dir is removed.
#[derive(Debug)]
pub struct TestRegistry {
    supervisor: Supervisor,
    port: u16,
    credentials: Option<Credentials>,
    http: reqwest::Client,
    dir: TempDir,
}

impl TestRegistry {
    /// Starts a registry that anyone may pull from and push to.
    pub async fn start() -> Result<Self> {
        Self::launch(None).await
    }

    /// Starts a registry that requires HTTP basic auth as `username`/`password` for every request.
    pub async fn start_with_auth(username: &str, password: &str) -> Result<Self> {
        Self::launch(Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        }))
        .await
    }

    async fn launch(credentials: Option<Credentials>) -> Result<Self> {
        let binary = paths::registry_binary()?;
        let dir = tempfile::Builder::new().prefix("aim-registry-").tempdir()?;
        let port = free_port()?;
        let config = dir.path().join("config.yml");
        let htpasswd = match &credentials {
            Some(c) => Some(write_htpasswd(dir.path(), c)?),
            None => None,
        };
        std::fs::write(&config, config_yaml(dir.path(), port, htpasswd.as_deref()))
            .with_context(|| format!("writing {}", config.display()))?;

        let mut supervisor = Supervisor::new(dir.path())?;
        // Its OpenTelemetry exporter would otherwise try to reach a collector on localhost:4318.
        supervisor.spawn_with_env(
            "registry",
            &binary,
            &["serve".to_owned(), config.display().to_string()],
            &[("OTEL_TRACES_EXPORTER", "none")],
        )?;
        let mut registry = Self {
            supervisor,
            port,
            credentials,
            http: http_client()?,
            dir,
        };
        registry.wait_ready().await?;
        Ok(registry)
    }

    /// `127.0.0.1:<port>`, the registry part of an image reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:<port>/<repository>:<tag>`.
    pub fn image(&self, repository: &str, tag: &str) -> String {
        format!("{}/{repository}:{tag}", self.host())
    }

    /// The credentials it requires, if started with auth.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// Pid of the registry process, for reporting.
    pub fn pid(&self) -> Option<u32> {
        self.supervisor.pids().first().map(|(_, pid)| *pid)
    }

    /// The temp dir holding config, storage and `registry.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// Adds basic auth when the registry requires it.
    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.credentials {
            Some(c) => request.basic_auth(&c.username, Some(&c.password)),
            None => request,
        }
    }

    /// `/v2/` answers 200, or 401 with auth on, once the registry serves.
    async fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = format!("{}/v2/", self.base_url());
        loop {
            let last = match self.http.get(&url).send().await {
                Ok(r) if r.status().is_success() || r.status() == 401 => return Ok(()),
                Ok(r) => format!("status {}", r.status()),
                Err(e) => e.to_string(),
            };
            self.supervisor.check_running()?;
            if Instant::now() >= deadline {
                bail!(
                    "registry not ready after {READY_TIMEOUT:?}: {last}\nend of its log:\n{}",
                    tail(&self.dir.path().join("registry.log"))
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// The registry speaks plain HTTP, but reqwest's TLS backend (enabled for the operator's registry
/// client in the same build) needs a crypto provider to build any client; ring, explicitly, rather
/// than a process-wide default that would hide whether the code under test installs one.
fn http_client() -> Result<reqwest::Client> {
    use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};
    let tls = ClientConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()?)
}

/// A free port, released just before the registry binds it (a race too rare to retry).
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn write_htpasswd(dir: &Path, credentials: &Credentials) -> Result<std::path::PathBuf> {
    // `$2y$` is the bcrypt flavour htpasswd files conventionally hold; the registry reads any.
    let hash = bcrypt::hash_with_result(&credentials.password, BCRYPT_COST)?
        .format_for_version(bcrypt::Version::TwoY);
    let path = dir.join("htpasswd");
    std::fs::write(&path, format!("{}:{hash}\n", credentials.username))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn config_yaml(dir: &Path, port: u16, htpasswd: Option<&Path>) -> String {
    let auth = htpasswd.map_or_else(String::new, |path| {
        format!(
            "auth:\n  htpasswd:\n    realm: aim-test-registry\n    path: {}\n",
            path.display()
        )
    });
    // A fixed http.secret only silences a start-up warning; nothing here spans registry restarts.
    format!(
        "version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: aim-test-registry
{auth}",
        storage = dir.join("storage").display(),
    )
}
