//! Operator start-up: the time from starting `aim-engine run` until its `/readyz` answers 200 (its
//! watch caches are filled), and its peak RSS by then, on a cluster with nothing to reconcile.
//! Each start gets an empty precompile cache, as a new pod does (the chart's is an `emptyDir`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::Engine;
use crate::TestEnv;
use crate::operator::{Launch, OperatorProcess};

/// One start.
#[derive(Debug, Clone, Copy)]
pub struct Startup {
    /// From spawning the process until `/readyz` answered 200.
    pub until_ready: Duration,
    /// `VmHWM` right after that.
    pub peak_rss_bytes: u64,
}

/// How often `/readyz` is polled: fine enough for a figure in milliseconds.
const POLL: Duration = Duration::from_millis(2);

/// Starts `operator` on `env` once, measures it, and stops it.
pub async fn measure_startup(env: &TestEnv, operator: &Path, engine: Engine) -> Result<Startup> {
    let scratch = tempfile::tempdir()?;
    let started = Instant::now();
    let mut process = OperatorProcess::spawn(Launch {
        binary: operator.to_path_buf(),
        kubeconfig: env.kubeconfig().to_owned(),
        operator_namespace: "aim-system".to_owned(),
        args: vec![
            "--leader-elect=false".to_owned(),
            "--policy-engine".to_owned(),
            engine.as_str().to_owned(),
        ],
        cache_home: scratch.path().join("cache"),
        log: scratch.path().join("operator.log"),
        log_level: "warn".to_owned(),
    })
    .await?;
    let until_ready = loop {
        if let Some((200, _)) = process.get("/readyz").await {
            break started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!(
                "the operator was not ready within a minute; log:\n{}",
                process.log_tail(40)
            );
        }
        tokio::time::sleep(POLL).await;
    };
    let peak_rss_bytes = process.usage()?.peak_rss_bytes;
    process.terminate(Duration::from_secs(30)).await?;
    Ok(Startup {
        until_ready,
        peak_rss_bytes,
    })
}

/// The starts as a table, with their median.
pub fn startup_report(engine: Engine, starts: &[Startup]) -> String {
    let mut lines = vec![format!(
        "start-up ({} engine, empty cluster, empty precompile cache):",
        engine.as_str()
    )];
    for (n, start) in starts.iter().enumerate() {
        lines.push(format!(
            "  run {}: /readyz after {:.0} ms, peak RSS {:.1} MiB",
            n + 1,
            start.until_ready.as_secs_f64() * 1e3,
            start.peak_rss_bytes as f64 / f64::from(1 << 20)
        ));
    }
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or_default()
    };
    lines.push(format!(
        "  median: /readyz after {:.0} ms, peak RSS {:.1} MiB",
        median(
            starts
                .iter()
                .map(|s| s.until_ready.as_secs_f64() * 1e3)
                .collect()
        ),
        median(
            starts
                .iter()
                .map(|s| s.peak_rss_bytes as f64 / f64::from(1 << 20))
                .collect()
        )
    ));
    lines.join("\n")
}
