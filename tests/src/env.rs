//! `TestEnv`: the control plane a test talks to, either started here or one already running.
//!
//! One control plane serves a whole test run. The test script starts it once (the `testenv` bin) and
//! exports `KUBECONFIG` with `AIM_TESTENV_SHARED=1`; without those, each test binary starts its own on
//! first use and the watchdog in [`crate::process`] cleans it up when the binary exits.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow};
use kube::Client;

use crate::control_plane::{ControlPlane, Controllers, Timings};
use crate::kubeconfig;
use crate::pki::Pki;

#[derive(Debug)]
pub struct TestEnv {
    kubeconfig: PathBuf,
    control_plane: Option<ControlPlane>,
}

static SHARED: OnceLock<Result<TestEnv, String>> = OnceLock::new();

impl TestEnv {
    /// Starts a new control plane, owned by the returned value (stopped on drop).
    pub async fn start() -> Result<Self> {
        Self::start_with(Controllers::Basic).await
    }

    /// [`TestEnv::start`] with the given controllers of kube-controller-manager.
    pub async fn start_with(controllers: Controllers) -> Result<Self> {
        let control_plane = ControlPlane::start_with(controllers).await?;
        Ok(Self {
            kubeconfig: control_plane.kubeconfig().to_path_buf(),
            control_plane: Some(control_plane),
        })
    }

    /// The control plane shared by all tests of this run (see the module docs).
    ///
    /// It is started on a dedicated thread with its own runtime: the first caller's
    /// `#[tokio::test]` runtime ends with that test, and nothing of the environment may depend on
    /// it. The environment itself holds only processes and paths; use [`TestEnv::client`] per test.
    pub async fn shared() -> Result<&'static TestEnv> {
        let shared = tokio::task::spawn_blocking(|| SHARED.get_or_init(init_shared))
            .await
            .context("starting the shared test environment")?;
        shared
            .as_ref()
            .map_err(|e| anyhow!("the shared test environment failed to start: {e}"))
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// A new client on the caller's runtime.
    pub async fn client(&self) -> Result<Client> {
        kubeconfig::client(&self.kubeconfig).await
    }

    /// The control plane's PKI. When connected to one started elsewhere (a shared run), it is found
    /// next to the CA file the kubeconfig names: the harness writes all PEM files into one dir.
    pub fn pki(&self) -> Result<Pki> {
        if let Some(cp) = &self.control_plane {
            return Ok(Pki::in_dir(cp.dir()));
        }
        Ok(Pki::in_dir(&kubeconfig::pki_dir(&self.kubeconfig)?))
    }

    /// The control plane, if this environment started one (not when connected to an outside one).
    pub fn control_plane(&self) -> Option<&ControlPlane> {
        self.control_plane.as_ref()
    }

    pub fn control_plane_mut(&mut self) -> Option<&mut ControlPlane> {
        self.control_plane.as_mut()
    }

    pub fn timings(&self) -> Option<&Timings> {
        self.control_plane.as_ref().map(ControlPlane::timings)
    }

    /// Stops the control plane now (it is also stopped on drop).
    pub fn stop(&mut self) {
        if let Some(cp) = &mut self.control_plane {
            cp.stop();
        }
    }
}

fn init_shared() -> Result<TestEnv, String> {
    if std::env::var("AIM_TESTENV_SHARED").is_ok_and(|v| v == "1") {
        let kubeconfig = std::env::var_os("KUBECONFIG")
            .filter(|k| !k.is_empty())
            .ok_or("AIM_TESTENV_SHARED=1 but KUBECONFIG is not set")?;
        return Ok(TestEnv {
            kubeconfig: kubeconfig.into(),
            control_plane: None,
        });
    }
    let started = std::thread::spawn(|| -> Result<TestEnv> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(TestEnv::start())
    })
    .join()
    .map_err(|_| "the thread starting the test environment panicked".to_owned())?;
    started.map_err(|e| format!("{e:#}"))
}
