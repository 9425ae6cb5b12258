//! Leader election on the `aim-engine` Lease (`coordination.k8s.io/v1`) in the operator namespace,
//! so that with several replicas exactly one runs the controllers. The lease bookkeeping (server-side
//! apply, expiry with clock-skew tolerance, release) is `kube-lease-manager`'s; this module only
//! decides the identity and turns the lease's state into "acquired" and "lost".

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The name of the Lease every replica competes for.
pub const LEASE_NAME: &str = "aim-engine";
/// How long a lease stays valid after its last renewal.
const LEASE_SECONDS: u64 = 15;
/// The holder renews this long before expiry, i.e. every 5 s: two missed renewals still leave
/// the lease held, and this is also the clock skew between nodes the lease tolerates.
const RENEW_BEFORE_EXPIRY_SECONDS: u64 = 10;
/// How long releasing the lease on shutdown may take before the process exits anyway.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why leader election could not go on.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("could not set up the {LEASE_NAME} Lease: {0}")]
    Setup(#[from] LeaseManagerError),
    #[error("leader election stopped before the lease was acquired")]
    Stopped,
}

/// The identity recorded as the lease holder: the pod's name in a cluster, `host-pid` elsewhere.
pub fn identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok());
    identity_from(std::env::var("POD_NAME").ok(), host, std::process::id())
}

fn identity_from(pod_name: Option<String>, host: Option<String>, pid: u32) -> String {
    let present =
        |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    match (present(pod_name), present(host)) {
        (Some(pod), _) => pod,
        (None, Some(host)) => format!("{host}-{pid}"),
        (None, None) => format!("aim-engine-{pid}"),
    }
}

/// What a change of the lease state means for the controllers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing to do.
    Unchanged,
    /// Start the controllers.
    Acquired,
    /// Stop the controllers and exit: another replica may already be acting.
    Lost,
}

/// The transition between two observed lease states.
pub fn transition(was_leading: bool, leading: bool) -> Transition {
    match (was_leading, leading) {
        (false, true) => Transition::Acquired,
        (true, false) => Transition::Lost,
        _ => Transition::Unchanged,
    }
}

/// A running campaign for the lease; renewing happens on a background task.
pub struct Leadership {
    state: watch::Receiver<bool>,
    task: JoinHandle<Result<LeaseManager, LeaseManagerError>>,
    leading: bool,
}

impl Leadership {
    /// Creates the Lease if needed and starts competing for it as `identity`.
    pub async fn campaign(
        client: Client,
        namespace: &str,
        identity: &str,
    ) -> Result<Self, LeaderError> {
        let manager = LeaseManagerBuilder::new(client, LEASE_NAME)
            .with_namespace(namespace)
            .with_identity(identity)
            .with_field_manager(format!("aim-engine-lease/{identity}"))
            .with_duration(LEASE_SECONDS)
            .with_grace(RENEW_BEFORE_EXPIRY_SECONDS)
            .build()
            .await?;
        let (state, task) = manager.watch().await;
        Ok(Self {
            state,
            task,
            leading: false,
        })
    }

    /// Waits until this replica holds the lease.
    pub async fn acquired(&mut self) -> Result<(), LeaderError> {
        while transition(self.leading, self.next().await?) != Transition::Acquired {}
        self.leading = true;
        Ok(())
    }

    /// Waits until this replica no longer holds the lease (or the election stopped).
    pub async fn lost(&mut self) {
        loop {
            match self.next().await {
                Ok(leading) if transition(self.leading, leading) != Transition::Lost => {}
                _ => break,
            }
        }
        self.leading = false;
    }

    /// The next lease state.
    async fn next(&mut self) -> Result<bool, LeaderError> {
        self.state
            .changed()
            .await
            .map_err(|_| LeaderError::Stopped)?;
        Ok(*self.state.borrow_and_update())
    }

    /// Gives the lease up so another replica can take over at once, not after it expires.
    pub async fn release(self) {
        // Closing the channel is what tells the background task to release and return.
        drop(self.state);
        match tokio::time::timeout(RELEASE_TIMEOUT, self.task).await {
            Ok(Ok(Ok(_))) => tracing::info!("released the {LEASE_NAME} lease"),
            Ok(Ok(Err(error))) => tracing::warn!(%error, "could not release the lease"),
            Ok(Err(error)) => tracing::warn!(%error, "the lease task failed"),
            Err(_) => tracing::warn!("releasing the lease timed out; it will expire instead"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pod_name_wins_then_host_and_pid() {
        assert_eq!(
            identity_from(Some("aim-0".into()), Some("node".into()), 7),
            "aim-0"
        );
        assert_eq!(
            identity_from(Some(" ".into()), Some("node\n".into()), 7),
            "node-7"
        );
        assert_eq!(identity_from(None, None, 7), "aim-engine-7");
    }

    #[test]
    fn only_changes_of_holder_start_or_stop_the_controllers() {
        assert_eq!(transition(false, true), Transition::Acquired);
        assert_eq!(transition(true, false), Transition::Lost);
        assert_eq!(transition(true, true), Transition::Unchanged);
        assert_eq!(transition(false, false), Transition::Unchanged);
    }
}
