//! Polling waits on objects, with failures that show what the object last looked like.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use kube::Api;
use serde::Serialize;
use serde::de::DeserializeOwned;

const POLL: Duration = Duration::from_millis(100);

/// Polls `name` until `predicate` holds and returns the object. On timeout the error carries the
/// object's last seen `status` (or that it never existed), which is usually the whole diagnosis.
pub async fn wait_for<K, F>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    mut predicate: F,
) -> Result<K>
where
    K: Clone + Debug + DeserializeOwned + Serialize,
    F: FnMut(&K) -> bool,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = api.get_opt(name).await?;
        if let Some(obj) = &last
            && predicate(obj)
        {
            return Ok(obj.clone());
        }
        if Instant::now() >= deadline {
            let seen = match &last {
                Some(obj) => {
                    let value = serde_json::to_value(obj)?;
                    let status = value.get("status").cloned().unwrap_or_default();
                    format!(
                        "last seen status: {}",
                        serde_json::to_string_pretty(&status)?
                    )
                }
                None => "it does not exist".to_owned(),
            };
            bail!("timed out after {timeout:?} waiting for {name}; {seen}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls until `name` no longer exists (finalizers included).
pub async fn wait_for_deletion<K>(api: &Api<K>, name: &str, timeout: Duration) -> Result<()>
where
    K: Clone + Debug + DeserializeOwned + Serialize,
{
    let deadline = Instant::now() + timeout;
    loop {
        let Some(obj) = api.get_opt(name).await? else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            let value = serde_json::to_value(&obj)?;
            let meta = value.get("metadata").cloned().unwrap_or_default();
            let status = value.get("status").cloned().unwrap_or_default();
            bail!(
                "timed out after {timeout:?} waiting for {name} to be deleted; finalizers: {}, \
                 deletionTimestamp: {}, status: {}",
                meta.get("finalizers").cloned().unwrap_or_default(),
                meta.get("deletionTimestamp").cloned().unwrap_or_default(),
                serde_json::to_string_pretty(&status)?
            );
        }
        tokio::time::sleep(POLL).await;
    }
}
