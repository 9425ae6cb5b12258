//! `testenv up`: runs the test control plane in the foreground for a whole test run, so every test
//! binary shares one (see `scripts/testenv.sh`). Writes the kubeconfig only once everything is ready,
//! which is what callers wait for, and stops everything on SIGTERM or SIGINT.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aim_tests::TestEnv;
use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
#[command(about = "A loopback Kubernetes control plane for tests")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start etcd, kube-apiserver and kube-controller-manager with all CRDs; run until signalled.
    Up {
        /// Where to write the admin kubeconfig once the control plane is ready.
        #[arg(long)]
        kubeconfig: PathBuf,
        /// Where to write this process's pid.
        #[arg(long)]
        pidfile: Option<PathBuf>,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    aim_tests::logging::to_stderr();
    let Command::Up {
        kubeconfig,
        pidfile,
    } = Cli::parse().command;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;

    let mut env = TestEnv::start().await?;
    if let Some(pidfile) = &pidfile {
        write_atomically(pidfile, &format!("{}\n", std::process::id()))?;
    }
    let text = std::fs::read_to_string(env.kubeconfig())?;
    write_atomically(&kubeconfig, &text)?;
    report_ready(&env, &kubeconfig);

    // If whoever started us dies without stopping us (a killed test script), we are reparented;
    // stop then rather than run forever.
    let parent = std::os::unix::process::parent_id();
    let result = loop {
        tokio::select! {
            _ = terminate.recv() => break Ok(()),
            _ = interrupt.recv() => break Ok(()),
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                if std::os::unix::process::parent_id() != parent {
                    break Err(anyhow::anyhow!("the process that started testenv is gone"));
                }
                // A component that dies mid-run would otherwise show up as baffling test failures.
                if let Some(cp) = env.control_plane_mut()
                    && let Err(e) = cp.check_running()
                {
                    break Err(e);
                }
            }
        }
    };
    env.stop();
    let _ = std::fs::remove_file(&kubeconfig);
    if let Some(pidfile) = &pidfile {
        let _ = std::fs::remove_file(pidfile);
    }
    eprintln!("testenv stopped");
    result
}

fn report_ready(env: &TestEnv, kubeconfig: &Path) {
    let Some(cp) = env.control_plane() else {
        return;
    };
    let t = cp.timings();
    let pids: Vec<String> = cp
        .pids()
        .iter()
        .map(|(name, pid)| format!("{name}={pid}"))
        .collect();
    println!(
        "testenv ready in {:.2}s (certs {:.2}s, apiserver /readyz {:.2}s, {} CRDs established {:.2}s, \
         controller-manager {:.2}s); kubeconfig {}; logs {}; pids {}",
        t.total.as_secs_f64(),
        t.certs.as_secs_f64(),
        t.apiserver_ready.as_secs_f64(),
        t.crd_count,
        t.crds.as_secs_f64(),
        t.controller_manager_ready.as_secs_f64(),
        kubeconfig.display(),
        cp.dir().display(),
        pids.join(" "),
    );
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let Some(name) = path.file_name() else {
        bail!("{} is not a file path", path.display())
    };
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
