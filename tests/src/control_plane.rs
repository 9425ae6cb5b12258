//! Starts etcd, kube-apiserver and kube-controller-manager on loopback and installs the CRDs.
//! [`Controllers`] says which of kube-controller-manager's controllers run; more components (a
//! scheduler, KServe, a Gateway) can be added with [`ControlPlane::spawn`], supervised like the rest.
//!
//! Order matters: CRDs are installed before kube-controller-manager starts so that its garbage
//! collector discovers the custom kinds at start-up instead of at its next periodic rediscovery.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::{Api, Client};
use tempfile::TempDir;

use crate::paths;
use crate::pki::Pki;
use crate::process::{Supervisor, tail};
use crate::{crds, kubeconfig};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);

/// How long each start-up phase took.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub certs: Duration,
    pub apiserver_ready: Duration,
    pub crds: Duration,
    pub controller_manager_ready: Duration,
    pub total: Duration,
    pub crd_count: usize,
}

/// Which of kube-controller-manager's controllers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Controllers {
    /// What the fast scenarios assume (see [`BASIC_CONTROLLERS`]): no workload controllers, since
    /// those scenarios play KServe's part and Deployments' pods would only get in their way.
    #[default]
    Basic,
    /// Also deployments, replica sets, endpoint slices and volume binding: what KServe's Deployments,
    /// a Gateway's backends and model volumes need in the real-components suite.
    Workloads,
}

/// What a cluster without nodes needs: namespace deletion, owner-reference cascades, default
/// ServiceAccounts, Job bookkeeping, and lifting the claim-protection finalizer (without it a deleted
/// claim, and so its namespace, would never go away).
const BASIC_CONTROLLERS: &str = "namespace,garbagecollector,serviceaccount-token,serviceaccount,job,persistentvolumeclaim-protection-controller";
/// Added for [`Controllers::Workloads`]; volume protection too, since bound volumes get deleted, and
/// the HorizontalPodAutoscaler controller, since KServe's RawDeployment mode leaves a Deployment's
/// replica count to the autoscaler it creates (which raises it to `minReplicas` without metrics).
const WORKLOAD_CONTROLLERS: &str = "deployment-controller,replicaset-controller,endpointslice-controller,persistentvolume-binder-controller,persistentvolume-protection-controller,horizontal-pod-autoscaler-controller";

/// A running control plane. Field order is drop order: processes die before their dir is removed.
#[derive(Debug)]
pub struct ControlPlane {
    supervisor: Supervisor,
    kubeconfig: PathBuf,
    etcd_client: u16,
    timings: Timings,
    dir: TempDir,
}

impl ControlPlane {
    /// The control plane of the fast scenarios ([`Controllers::Basic`]).
    pub async fn start() -> Result<Self> {
        Self::start_with(Controllers::Basic).await
    }

    pub async fn start_with(controllers: Controllers) -> Result<Self> {
        let t0 = Instant::now();
        let etcd = paths::binary("etcd")?;
        let apiserver = paths::binary("kube-apiserver")?;
        let controller_manager = paths::binary("kube-controller-manager")?;
        let crd_files = [
            paths::yaml_files(&paths::aim_crd_dir())?,
            paths::yaml_files(&paths::third_party_crd_dir()?)?,
        ]
        .concat();
        // Parsed before anything starts, so a bad CRD file fails fast.
        let crd_docs = crds::load(&crd_files)?;

        let dir = tempfile::Builder::new().prefix("aim-testenv-").tempdir()?;
        let mut timings = Timings::default();
        let pki = Pki::generate(dir.path())?;
        timings.certs = t0.elapsed();

        let [etcd_client, etcd_peer, secure] = free_ports()?;
        let mut supervisor = Supervisor::new(dir.path())?;
        supervisor.spawn(
            "etcd",
            &etcd,
            &etcd_args(dir.path(), etcd_client, etcd_peer),
        )?;
        // No need to wait for etcd: kube-apiserver retries it, and /readyz covers it.
        supervisor.spawn(
            "kube-apiserver",
            &apiserver,
            &apiserver_args(dir.path(), &pki, etcd_client, secure),
        )?;

        let kubeconfig = dir.path().join("kubeconfig");
        kubeconfig::write(&kubeconfig, &format!("https://127.0.0.1:{secure}"), &pki)?;
        let client = kubeconfig::client(&kubeconfig).await?;
        wait_ready(&mut supervisor, &client, dir.path()).await?;
        timings.apiserver_ready = t0.elapsed();

        timings.crd_count = crds::install(&client, &crd_docs).await?.len();
        timings.crds = t0.elapsed();

        supervisor.spawn(
            "kube-controller-manager",
            &controller_manager,
            &controller_manager_args(&pki, &kubeconfig, controllers),
        )?;
        wait_controller_manager(&mut supervisor, &client).await?;
        timings.controller_manager_ready = t0.elapsed();
        timings.total = t0.elapsed();

        Ok(Self {
            supervisor,
            kubeconfig,
            etcd_client,
            timings,
            dir,
        })
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// The temp dir with certs, logs (`<component>.log`) and etcd data.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pids(&self) -> Vec<(String, u32)> {
        self.supervisor.pids()
    }

    /// etcd's client URL (plain HTTP on loopback; its v3 JSON gateway is under `/v3/`), for tests
    /// that write to storage behind the apiserver's back.
    pub fn etcd_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.etcd_client)
    }

    /// Writes `value` under `key` straight into etcd, behind the apiserver's back: how an object
    /// that its validation would refuse gets into storage. Keys are the apiserver's, for example
    /// `/registry/aim.silogen.ai/aimservices/<namespace>/<name>`.
    pub async fn write_to_etcd(&self, key: &str, value: &[u8]) -> Result<()> {
        use base64::Engine as _;
        let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let body = serde_json::json!({"key": encode(key.as_bytes()), "value": encode(value)});
        let response = reqwest::Client::new()
            .post(format!("{}/v3/kv/put", self.etcd_url()))
            .body(serde_json::to_vec(&body)?)
            .send()
            .await
            .context("writing to etcd")?;
        if !response.status().is_success() {
            bail!("etcd answered {} to a put of {key}", response.status());
        }
        Ok(())
    }

    /// The PKI of this control plane.
    pub fn pki(&self) -> Pki {
        Pki::in_dir(self.dir.path())
    }

    /// Starts one more component, supervised like the control plane's own: its log is
    /// `<dir>/<name>.log`, it is killed with the rest and [`ControlPlane::check_running`] covers it.
    pub fn spawn(
        &mut self,
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(&str, &str)],
    ) -> Result<()> {
        self.supervisor.spawn_with_env(name, program, args, env)
    }

    /// Kills one component (`etcd`, `kube-apiserver`, `kube-controller-manager`) as a crash would;
    /// it stays down until [`ControlPlane::start_again`].
    pub fn kill(&mut self, component: &str) -> Result<()> {
        self.supervisor.kill(component)
    }

    /// Starts a killed component again, with its data, ports and flags, and waits until the
    /// apiserver is ready (which includes reaching etcd).
    pub async fn start_again(&mut self, component: &str) -> Result<()> {
        self.supervisor.start_again(component)?;
        let client = kubeconfig::client(&self.kubeconfig).await?;
        wait_ready(&mut self.supervisor, &client, self.dir.path()).await
    }

    /// Fails if a component has exited.
    pub fn check_running(&mut self) -> Result<()> {
        self.supervisor.check_running()
    }

    pub fn stop(&mut self) {
        self.supervisor.stop();
    }
}

/// `N` distinct free loopback ports. Held open together so they differ; another process could
/// still take one before the component binds it, a race too rare to be worth a retry loop.
pub(crate) fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<_>>()?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener.local_addr()?.port();
    }
    Ok(ports)
}

fn etcd_args(dir: &Path, client: u16, peer: u16) -> Vec<String> {
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    vec![
        "--name=testenv".into(),
        format!("--data-dir={}", dir.join("etcd").display()),
        format!("--listen-client-urls={client_url}"),
        format!("--advertise-client-urls={client_url}"),
        format!("--listen-peer-urls={peer_url}"),
        format!("--initial-advertise-peer-urls={peer_url}"),
        format!("--initial-cluster=testenv={peer_url}"),
        // Throwaway data: skip fsync, and elect the single member quickly.
        "--unsafe-no-fsync".into(),
        "--heartbeat-interval=10".into(),
        "--election-timeout=100".into(),
        "--log-level=warn".into(),
    ]
}

fn apiserver_args(dir: &Path, pki: &Pki, etcd_client: u16, secure: u16) -> Vec<String> {
    let p = |path: &Path| path.display().to_string();
    vec![
        format!("--etcd-servers=http://127.0.0.1:{etcd_client}"),
        format!("--cert-dir={}", dir.display()),
        format!("--tls-cert-file={}", p(&pki.server_cert)),
        format!("--tls-private-key-file={}", p(&pki.server_key)),
        format!("--client-ca-file={}", p(&pki.ca_cert)),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={secure}"),
        "--service-cluster-ip-range=10.0.0.0/24".into(),
        // kube-apiserver refuses to start without the service-account trio.
        format!("--service-account-issuer=https://127.0.0.1:{secure}/"),
        format!("--service-account-key-file={}", p(&pki.sa_public_key)),
        format!(
            "--service-account-signing-key-file={}",
            p(&pki.sa_private_key)
        ),
        "--authorization-mode=RBAC".into(),
        "--allow-privileged=true".into(),
        // No kubelet mounts tokens here, and pods must not wait for the default ServiceAccount.
        "--disable-admission-plugins=ServiceAccount".into(),
        // How the apiserver reaches a (fake) kubelet for pod logs: the node's InternalIP and its
        // status.daemonEndpoints.kubeletEndpoint.Port, over TLS verified against our CA, presenting
        // a client cert as it would to a real kubelet. See crate::fake_kubelet.
        "--kubelet-preferred-address-types=InternalIP".into(),
        format!("--kubelet-certificate-authority={}", p(&pki.ca_cert)),
        format!(
            "--kubelet-client-certificate={}",
            p(&pki.kubelet_client_cert)
        ),
        format!("--kubelet-client-key={}", p(&pki.kubelet_client_key)),
    ]
}

fn controller_manager_args(pki: &Pki, kubeconfig: &Path, controllers: Controllers) -> Vec<String> {
    let controllers = match controllers {
        Controllers::Basic => BASIC_CONTROLLERS.to_owned(),
        Controllers::Workloads => format!("{BASIC_CONTROLLERS},{WORKLOAD_CONTROLLERS}"),
    };
    vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--controllers={controllers}"),
        // Autoscalers are looked at every 15 s by default; a test should not wait that long.
        "--horizontal-pod-autoscaler-sync-period=1s".into(),
        "--leader-elect=false".into(),
        "--secure-port=0".into(),
        format!(
            "--service-account-private-key-file={}",
            pki.sa_private_key.display()
        ),
        format!("--root-ca-file={}", pki.ca_cert.display()),
    ]
}

async fn wait_ready(supervisor: &mut Supervisor, client: &Client, dir: &Path) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        supervisor.check_running()?;
        let request = http::Request::get("/readyz").body(Vec::new())?;
        let last = match client.request_text(request).await {
            Ok(body) if body.trim() == "ok" => return Ok(()),
            Ok(body) => body,
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            bail!(
                "kube-apiserver not ready after {READY_TIMEOUT:?}: {last}\nend of its log:\n{}",
                tail(&dir.join("kube-apiserver.log"))
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The serviceaccount controller creating `default/default` shows the controllers are running.
async fn wait_controller_manager(supervisor: &mut Supervisor, client: &Client) -> Result<()> {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + READY_TIMEOUT;
    while accounts
        .get_opt("default")
        .await
        .context("reading default/default ServiceAccount")?
        .is_none()
    {
        supervisor.check_running()?;
        if Instant::now() >= deadline {
            bail!(
                "kube-controller-manager did not create the default ServiceAccount in {READY_TIMEOUT:?}"
            );
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}
