//! Pods the scheduler cannot place: the `PodScheduled=False` condition with reason `Unschedulable`
//! it writes, and its message saying why (for example `0/3 nodes are available: 3 Insufficient
//! amd.com/gpu.`), so a service waiting for room in the cluster says so.

use k8s_openapi::api::core::v1::Pod;

/// The scheduler's message for the first pod (by name) it could not place, if any.
pub fn unschedulable_pod<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> Option<String> {
    let mut pods: Vec<&Pod> = pods.into_iter().collect();
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    pods.into_iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .filter_map(|pod| pod.status.as_ref()?.conditions.as_ref())
        .flatten()
        .find(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
        })
        .map(|c| c.message.clone().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(name: &str, status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name}, "status": status})).unwrap()
    }

    #[test]
    fn the_scheduler_message_of_an_unschedulable_pod_is_found() {
        let pods = [
            pod(
                "a",
                json!({"conditions": [{"type": "PodScheduled", "status": "True"}]}),
            ),
            pod(
                "b",
                json!({"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 Insufficient amd.com/gpu."}]}),
            ),
        ];
        assert_eq!(
            unschedulable_pod(&pods).as_deref(),
            Some("0/3 nodes are available: 3 Insufficient amd.com/gpu.")
        );
    }

    #[test]
    fn scheduled_pending_and_scheduling_gated_pods_are_not_unschedulable() {
        let pods = [
            pod("a", json!({"phase": "Pending"})),
            pod(
                "b",
                json!({"conditions": [{"type": "PodScheduled", "status": "True"}]}),
            ),
            pod(
                "c",
                json!({"conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
            ),
        ];
        assert_eq!(unschedulable_pod(&pods), None);
    }
}
