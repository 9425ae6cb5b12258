//! Who each controller is: the kind of subject it asks the policy to plan, and the server-side
//! apply field manager it writes as. In one place because the caches report objects that do not
//! decode as the controller that writes their status, and ownership checks know every manager.

use crate::policy::SubjectKind;

/// What distinguishes one controller's reconcile from another's.
pub struct ControllerIdentity {
    /// What it asks the policy to plan.
    pub subject: SubjectKind,
    /// The server-side apply field manager of this controller.
    pub manager: &'static str,
}

pub const SERVICE: ControllerIdentity = ControllerIdentity {
    subject: SubjectKind::Service,
    manager: "aim-service-controller",
};

pub const TEMPLATE: ControllerIdentity = ControllerIdentity {
    subject: SubjectKind::Template,
    manager: "aim-namespace-template-controller",
};

pub const CLUSTER_TEMPLATE: ControllerIdentity = ControllerIdentity {
    subject: SubjectKind::Template,
    manager: "aim-cluster-template-controller",
};

pub const MODEL: ControllerIdentity = ControllerIdentity {
    subject: SubjectKind::Model,
    manager: "aim-image-controller",
};

pub const CLUSTER_MODEL: ControllerIdentity = ControllerIdentity {
    subject: SubjectKind::Model,
    manager: "aim-cluster-image-controller",
};

pub const TEMPLATE_CACHE: ControllerIdentity = ControllerIdentity {
    subject: SubjectKind::TemplateCache,
    manager: "modelcache-controller",
};

pub const MODEL_CACHE: ControllerIdentity = ControllerIdentity {
    subject: SubjectKind::ModelCache,
    manager: "modelcache-controller",
};

/// The AIMPolicy controller writes only its policies' status; it plans nothing.
pub const POLICY_MANAGER: &str = "aim-policy-controller";

/// The field managers of the controllers that apply objects. An object one of them wrote is the
/// operator's; anyone else's is not applied over.
pub const OPERATOR_MANAGERS: [&str; 6] = [
    SERVICE.manager,
    TEMPLATE.manager,
    CLUSTER_TEMPLATE.manager,
    MODEL.manager,
    CLUSTER_MODEL.manager,
    MODEL_CACHE.manager,
];
