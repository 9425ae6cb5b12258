//! Every version of one object, recorded from a watch, so a test can check what never happened
//! between two points it observed, instead of sleeping once and looking.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use futures::StreamExt;
use kube::Api;
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The versions of one object seen since [`History::start`] returned, oldest first.
pub struct History<K> {
    versions: Arc<Mutex<Vec<K>>>,
    task: JoinHandle<()>,
}

impl<K> History<K>
where
    K: kube::Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    /// Watches `name`; returns once the watch is established (its initial list is done), so every
    /// later change is recorded.
    pub async fn start(api: Api<K>, name: &str) -> Result<Self> {
        let versions: Arc<Mutex<Vec<K>>> = Arc::default();
        let recorded = versions.clone();
        let (listed, established) = oneshot::channel();
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let task = tokio::spawn(async move {
            let mut listed = Some(listed);
            let mut events = watcher::watcher(api, config).boxed();
            while let Some(event) = events.next().await {
                match event {
                    Ok(Event::InitDone) => {
                        if let Some(listed) = listed.take() {
                            let _ = listed.send(());
                        }
                    }
                    Ok(Event::Apply(object) | Event::InitApply(object)) => {
                        if let Ok(mut versions) = recorded.lock() {
                            versions.push(object);
                        }
                    }
                    _ => {}
                }
            }
        });
        established
            .await
            .context("the watch ended before its initial list")?;
        Ok(Self { versions, task })
    }

    /// A point in the history: how many versions were recorded so far.
    pub fn mark(&self) -> usize {
        self.versions.lock().map(|v| v.len()).unwrap_or_default()
    }

    /// The versions recorded from `mark` on.
    pub fn since(&self, mark: usize) -> Vec<K> {
        self.versions
            .lock()
            .map(|v| v.get(mark..).map(<[K]>::to_vec).unwrap_or_default())
            .unwrap_or_default()
    }
}

impl<K> Drop for History<K> {
    fn drop(&mut self) {
        self.task.abort();
    }
}
