//! The control plane never outlives its harness: processes and the temp dir go away on drop, and
//! also when the harness process is killed outright (the watchdog's job). Each test here starts a
//! control plane of its own, since stopping one is the point.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aim_tests::TestEnv;

/// Whether `pid` is a live process (zombies count as gone: they are only waiting to be reaped).
fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_owned())
        })
        .is_some_and(|rest| !rest.starts_with('Z'))
}

fn assert_all_gone(pids: &[u32], dir: &Path, within: Duration) {
    let deadline = Instant::now() + within;
    while pids.iter().any(|p| is_running(*p)) || dir.exists() {
        assert!(
            Instant::now() < deadline,
            "still there after {within:?}: running {:?}, dir exists: {}",
            pids.iter().filter(|p| is_running(**p)).collect::<Vec<_>>(),
            dir.exists()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn dropping_an_environment_stops_its_processes_and_removes_its_dir() {
    let env = TestEnv::start().await.unwrap();
    let cp = env.control_plane().unwrap();
    let pids: Vec<u32> = cp.pids().into_iter().map(|(_, pid)| pid).collect();
    let dir = cp.dir().to_path_buf();
    assert_eq!(pids.len(), 3);
    assert!(pids.iter().all(|p| is_running(*p)));

    drop(env);
    assert_all_gone(&pids, &dir, Duration::from_secs(1));
}

#[test]
fn killing_the_harness_outright_still_stops_the_control_plane() {
    let out = tempfile::tempdir().unwrap();
    let mut testenv = Command::new(env!("CARGO_BIN_EXE_testenv"))
        .args(["up", "--kubeconfig"])
        .arg(out.path().join("kubeconfig"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(testenv.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(
        ready.starts_with("testenv ready"),
        "unexpected first line: {ready:?}"
    );

    // "...; logs DIR; pids etcd=1 kube-apiserver=2 kube-controller-manager=3"
    let dir = PathBuf::from(
        ready
            .split("; logs ")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap(),
    );
    let pids: Vec<u32> = ready
        .trim_end()
        .rsplit("; pids ")
        .next()
        .unwrap()
        .split(' ')
        .map(|kv| kv.split_once('=').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 3, "{ready}");

    testenv.kill().unwrap(); // SIGKILL: no destructor, no signal handler runs
    testenv.wait().unwrap();
    assert_all_gone(&pids, &dir, Duration::from_secs(5));
}
