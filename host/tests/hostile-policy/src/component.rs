//! Component glue for the misbehaving policy (`planner-policy` world).

// The generated bindings implement the canonical ABI with `unsafe` code; none is written by hand.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "../../../wit", world: "planner-policy" });

use aim::policy::types::PolicyError;
use exports::aim::policy::metadata::{self, PolicyInfo, PolicyInterface};
use exports::aim::policy::planner;

struct HostilePolicy;

export!(HostilePolicy);

impl metadata::Guest for HostilePolicy {
    fn info() -> PolicyInfo {
        if cfg!(feature = "sleep-in-info") {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
        PolicyInfo {
            name: "hostile".to_string(),
            version: "0.0.1".to_string(),
            implements: vec![PolicyInterface::Planner],
        }
    }
}

impl planner::Guest for HostilePolicy {
    fn plan_service(observation: String) -> Result<String, PolicyError> {
        crate::behaviour::plan(&observation).map_err(PolicyError::InvalidInput)
    }
    fn plan_template(_observation: String) -> Result<String, PolicyError> {
        Err(PolicyError::Unsupported)
    }
    fn plan_model(_observation: String) -> Result<String, PolicyError> {
        Err(PolicyError::Unsupported)
    }
    fn plan_template_cache(_observation: String) -> Result<String, PolicyError> {
        Err(PolicyError::Unsupported)
    }
    fn plan_model_cache(_observation: String) -> Result<String, PolicyError> {
        Err(PolicyError::Unsupported)
    }
}
