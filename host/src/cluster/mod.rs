//! Reads from outside the object graph that the controllers observe through their stores: pod logs
//! (discovery Job results) and container registries (model image labels).

pub mod pod_logs;
pub mod policy_source;
pub mod registry;
