//! The planning flows of the kinds other than AIMService: templates, models, template caches and
//! model caches. Each is a pure function from the host's observation to a plan.

pub mod discovery;
pub mod discovery_job;
pub mod download_job;
pub mod image_labels;
pub mod image_pull;
pub mod job_state;
pub mod model;
pub mod model_cache;
pub mod model_facts;
pub mod model_status;
pub mod scheduling;
pub mod serving_runtime;
pub mod support;
pub mod template;
pub mod template_cache;
pub mod template_facts;
pub mod template_status;

#[cfg(test)]
mod tests;

pub use model::plan_model;
pub use model_cache::plan_model_cache;
pub use template::plan_template;
pub use template_cache::plan_template_cache;
