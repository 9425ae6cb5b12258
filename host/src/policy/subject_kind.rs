//! The kinds of subject a policy plans for, one planner function each.

use super::bindings::PlanFlow;

/// The planner entry points, one per reconciled kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectKind {
    Service,
    Template,
    Model,
    TemplateCache,
    ModelCache,
}

impl SubjectKind {
    pub const ALL: [SubjectKind; 5] = [
        SubjectKind::Service,
        SubjectKind::Template,
        SubjectKind::Model,
        SubjectKind::TemplateCache,
        SubjectKind::ModelCache,
    ];

    /// The WIT function name.
    pub fn function(self) -> &'static str {
        match self {
            SubjectKind::Service => "plan-service",
            SubjectKind::Template => "plan-template",
            SubjectKind::Model => "plan-model",
            SubjectKind::TemplateCache => "plan-template-cache",
            SubjectKind::ModelCache => "plan-model-cache",
        }
    }
}

impl From<PlanFlow> for SubjectKind {
    fn from(flow: PlanFlow) -> Self {
        match flow {
            PlanFlow::Service => SubjectKind::Service,
            PlanFlow::Template => SubjectKind::Template,
            PlanFlow::Model => SubjectKind::Model,
            PlanFlow::TemplateCache => SubjectKind::TemplateCache,
            PlanFlow::ModelCache => SubjectKind::ModelCache,
        }
    }
}
