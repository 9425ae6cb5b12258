//! The volume binding modes of storage classes, read once per class when a model cache's plan asks
//! for one. A class's `volumeBindingMode` cannot be changed, so what was read serves every later
//! reconcile without a request; a class deleted and created again under its name is read again
//! after [`REREAD_AFTER`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::storage::v1::StorageClass;
use kube::{Api, Client};

/// How long a class's mode is trusted before it is read again.
pub const REREAD_AFTER: Duration = Duration::from_secs(600);

/// Binding modes by class name, with when each was read. Failed reads and missing classes are
/// not remembered.
#[derive(Default)]
pub struct BindingModes {
    read: Mutex<HashMap<String, (Option<String>, Instant)>>,
}

impl BindingModes {
    /// The binding mode of `class`, from memory while it is fresh, else from the apiserver.
    /// `None` when the class has no mode or cannot be read.
    pub async fn of(&self, client: &Client, class: &str) -> Option<String> {
        if let Some(mode) = self.remembered(class, Instant::now()) {
            return mode;
        }
        let classes: Api<StorageClass> = Api::all(client.clone());
        // A class that does not exist yet may be created any moment: not remembered either.
        let mode = classes.get_opt(class).await.ok()??.volume_binding_mode;
        self.remember(class, mode.clone(), Instant::now());
        mode
    }

    /// The binding mode of `class` when it was read recently, without asking the apiserver.
    pub fn known(&self, class: &str) -> Option<String> {
        self.remembered(class, Instant::now()).flatten()
    }

    /// What was read for `class` less than [`REREAD_AFTER`] before `now`.
    fn remembered(&self, class: &str, now: Instant) -> Option<Option<String>> {
        let read = self
            .read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        read.get(class)
            .filter(|(_, at)| now.saturating_duration_since(*at) < REREAD_AFTER)
            .map(|(mode, _)| mode.clone())
    }

    fn remember(&self, class: &str, mode: Option<String>, at: Instant) {
        let mut read = self
            .read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        read.insert(class.to_owned(), (mode, at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mode_read_is_remembered_until_it_is_due_to_be_read_again() {
        let modes = BindingModes::default();
        let read_at = Instant::now();
        assert_eq!(modes.remembered("fast", read_at), None);
        modes.remember("fast", Some("WaitForFirstConsumer".into()), read_at);
        assert_eq!(
            modes.remembered("fast", read_at + REREAD_AFTER / 2),
            Some(Some("WaitForFirstConsumer".into()))
        );
        assert_eq!(modes.remembered("fast", read_at + REREAD_AFTER), None);
        assert_eq!(modes.remembered("other", read_at), None);
    }

    #[test]
    fn a_class_without_a_mode_is_remembered_as_such() {
        let modes = BindingModes::default();
        let read_at = Instant::now();
        modes.remember("plain", None, read_at);
        assert_eq!(modes.remembered("plain", read_at), Some(None));
    }
}
