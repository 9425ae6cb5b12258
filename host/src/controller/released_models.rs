//! Cluster models a service lets go of: when a service is deleted, the auto-created cluster model
//! it ran may be unused now, and the model controller looks at it at once rather than at its next
//! resync.

use std::sync::Mutex;

use aim_api::v1alpha1::{AIMClusterModel, AIMService};
use futures::Stream;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::mpsc;

/// A queue from the service controller to the cluster-model controller.
pub struct ReleasedModels {
    sender: mpsc::UnboundedSender<ObjectRef<AIMClusterModel>>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<ObjectRef<AIMClusterModel>>>>,
}

impl Default for ReleasedModels {
    fn default() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        ReleasedModels {
            sender,
            receiver: Mutex::new(Some(receiver)),
        }
    }
}

impl ReleasedModels {
    /// Notes that `service`, being deleted, no longer uses the cluster model it resolved to.
    pub fn release(&self, service: &AIMService) {
        let resolved = service
            .status
            .as_ref()
            .and_then(|status| status.resolved_image.as_ref())
            .filter(|image| {
                image
                    .kind
                    .as_deref()
                    .and_then(|kind| kind.rsplit('/').next())
                    == Some("AIMClusterModel")
            });
        if let Some(model) = resolved {
            // The receiver lives as long as the controllers; nothing is lost while it does.
            let _ = self.sender.send(ObjectRef::new(&model.name));
        }
    }

    /// The models released from now on, for the one cluster-model controller to reconcile.
    pub fn stream(
        &self,
    ) -> Option<impl Stream<Item = ObjectRef<AIMClusterModel>> + Send + 'static> {
        let receiver = self
            .receiver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()?;
        Some(futures::stream::unfold(
            receiver,
            |mut receiver| async move { receiver.recv().await.map(|model| (model, receiver)) },
        ))
    }
}
