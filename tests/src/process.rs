//! The control-plane child processes: each runs in its own process group with its output in a log
//! file, and is killed by pid (never by name) when the environment stops.
//!
//! Stopping on `Drop` is not enough: a test binary's shared environment lives in a `static` that is
//! never dropped, and a run can die by SIGKILL or abort. So every environment also starts a watchdog,
//! a tiny `sh` loop in its own process group that polls the harness's pid and, once it is gone, kills
//! the process groups listed in a pid file and deletes the temp dir. Why this design:
//! - it needs no unsafe code (a parent-death signal through `prctl` would);
//! - it covers every way the harness can end (normal exit, panic, abort, SIGKILL, Ctrl-C);
//! - own process groups keep a terminal's Ctrl-C from racing the harness's cleanup, and let one kill
//!   also take any helper processes a component forks;
//! - the pid file is written right after each spawn, so a crash half-way through start-up is covered.
//!
//! What else must go with the environment (a network namespace, say) goes into [`ON_EXIT_SCRIPT`] in
//! its dir, which the watchdog runs before deleting the dir.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use rustix::process::{Pid, Signal, kill_process_group};

// Plain POSIX sh (dash on Debian): `kill -KILL -PGID` signals a group; dash rejects `kill -- -PGID`.
const WATCHDOG: &str = r#"
parent=$1 pids=$2 dir=$3
while kill -0 "$parent" 2>/dev/null; do sleep 0.5; done
for pgid in $(cat "$pids" 2>/dev/null); do kill -KILL "-$pgid" 2>/dev/null; done
if [ -f "$dir/on-exit.sh" ]; then sh "$dir/on-exit.sh"; fi
rm -rf -- "$dir"
"#;

/// A shell script in the environment's dir that the watchdog runs once the harness is gone.
pub const ON_EXIT_SCRIPT: &str = "on-exit.sh";

struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    /// How it was started, so a fault test can start it again.
    command: Vec<String>,
    env: Vec<(String, String)>,
}

/// Owns the running components of one environment.
pub struct Supervisor {
    dir: PathBuf,
    pid_file: PathBuf,
    procs: Vec<Proc>,
    watchdog: Option<Child>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pids: Vec<_> = self.procs.iter().map(|p| (&p.name, p.child.id())).collect();
        f.debug_struct("Supervisor")
            .field("dir", &self.dir)
            .field("pids", &pids)
            .finish()
    }
}

impl Supervisor {
    /// Starts the watchdog for `dir` (which it deletes once the harness process is gone).
    pub fn new(dir: &Path) -> Result<Self> {
        let pid_file = dir.join("pids");
        File::create(&pid_file).with_context(|| format!("creating {}", pid_file.display()))?;
        let watchdog = Command::new("sh")
            .args(["-c", WATCHDOG, "aim-testenv-watchdog"])
            .arg(std::process::id().to_string())
            .arg(&pid_file)
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting the watchdog (sh)")?;
        Ok(Self {
            dir: dir.to_path_buf(),
            pid_file,
            procs: Vec::new(),
            watchdog: Some(watchdog),
        })
    }

    /// Starts `program` with stdout and stderr going to `<dir>/<name>.log`.
    pub fn spawn(&mut self, name: &str, program: &Path, args: &[String]) -> Result<()> {
        self.spawn_with_env(name, program, args, &[])
    }

    /// [`Supervisor::spawn`] with extra environment variables for the child.
    pub fn spawn_with_env(
        &mut self,
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(&str, &str)],
    ) -> Result<()> {
        let log = self.dir.join(format!("{name}.log"));
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut command = vec![program.display().to_string()];
        command.extend(args.iter().cloned());
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let child = start(&command, &env, out)?;
        self.procs.push(Proc {
            name: name.to_owned(),
            child,
            log,
            command,
            env,
        });
        self.write_pid_file()
    }

    /// Kills the component `name` (SIGKILL, as a crash or an OOM kill would) and waits for it. It
    /// stays stopped until [`Supervisor::start_again`].
    pub fn kill(&mut self, name: &str) -> Result<()> {
        let p = self.find(name)?;
        kill_group(&p.child);
        p.child
            .wait()
            .with_context(|| format!("waiting for {name}"))?;
        Ok(())
    }

    /// Starts the stopped component `name` again, as before, its output appended to its log.
    pub fn start_again(&mut self, name: &str) -> Result<()> {
        let p = self.find(name)?;
        if p.child.try_wait()?.is_none() {
            bail!("{name} is still running");
        }
        let out = OpenOptions::new().append(true).open(&p.log)?;
        p.child = start(&p.command, &p.env, out)?;
        self.write_pid_file()
    }

    fn find(&mut self, name: &str) -> Result<&mut Proc> {
        self.procs
            .iter_mut()
            .find(|p| p.name == name)
            .with_context(|| format!("no component named {name}"))
    }

    /// Rewritten whole after every start, so the watchdog never kills a group whose leader has
    /// been reaped and its pid reused.
    fn write_pid_file(&self) -> Result<()> {
        let mut pids = File::create(&self.pid_file)?;
        for p in &self.procs {
            writeln!(pids, "{}", p.child.id())?;
        }
        Ok(())
    }

    /// Fails, with the end of its log, if any component has exited.
    pub fn check_running(&mut self) -> Result<()> {
        for p in &mut self.procs {
            if let Some(status) = p.child.try_wait()? {
                bail!(
                    "{} exited ({status}); end of {}:\n{}",
                    p.name,
                    p.log.display(),
                    tail(&p.log)
                );
            }
        }
        Ok(())
    }

    /// Pids of the components, by name, for reporting.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.procs
            .iter()
            .map(|p| (p.name.clone(), p.child.id()))
            .collect()
    }

    /// Kills everything this supervisor started. SIGKILL, because all state is throwaway and a
    /// graceful kube-apiserver shutdown takes seconds. Idempotent.
    pub fn stop(&mut self) {
        // The watchdog first, so it cannot act on pids that are about to be reaped and reused.
        if let Some(mut w) = self.watchdog.take() {
            kill_group(&w);
            let _ = w.wait();
        }
        while let Some(mut p) = self.procs.pop() {
            kill_group(&p.child);
            let _ = p.child.wait();
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts `command` (program first) in a process group of its own, output to `out`.
fn start(command: &[String], env: &[(String, String)], out: File) -> Result<Child> {
    let (program, args) = command.split_first().context("an empty command")?;
    Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {program}"))
}

fn kill_group(child: &Child) {
    // process_group(0) made each child the leader of a group whose id is its pid.
    let _ = kill_process_group(Pid::from_child(child), Signal::KILL);
}

/// The last lines of a log, for error messages.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
