//! Reading the status of AIM objects in tests, whatever their kind.

use serde::Serialize;

/// The `status.status` of any AIM object, or empty.
pub fn state<T: Serialize>(object: &T) -> String {
    serde_json::to_value(object)
        .ok()
        .and_then(|v| v["status"]["status"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The reason of the object's `Failure` condition while it is True.
pub fn failure_reason<T: Serialize>(object: &T) -> Option<String> {
    let status = serde_json::to_value(object).ok()?["status"].take();
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Failure" && c["status"] == "True")
        .and_then(|c| c["reason"].as_str().map(str::to_owned))
}
