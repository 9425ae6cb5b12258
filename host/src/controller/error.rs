//! The one error type of the controllers. Each variant names its kind of failure, which becomes the
//! Event reason, the condition reason on the object and the metric label.

use crate::policy::PolicyError;

/// Why a reconcile did not finish.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy gave no usable plan (timeout, trap, rejection, invalid output, ...).
    #[error("policy: {0}")]
    Policy(#[from] PolicyError),
    /// The apiserver refused or failed a request.
    #[error("{request}: {source}")]
    Kube {
        request: Request,
        source: Box<kube::Error>,
    },
    /// The object the reconcile is about is missing something the host needs.
    #[error("{0}")]
    InvalidObject(String),
    /// A policy call could not be scheduled (the blocking pool is gone: shutting down).
    #[error("the policy call was cancelled")]
    Cancelled,
    /// The observation could not be encoded.
    #[error("observation could not be encoded: {0}")]
    Encoding(String),
    /// The runtime config names an AIMPolicy that is not active; nothing is changed until it is.
    #[error(
        "the runtime config selects AIMPolicy {0:?}, which is not active (see its status); existing objects are left as they are"
    )]
    PolicyUnavailable(String),
    /// A planned object's name is held by an object the operator does not manage (or that is
    /// another subject's); nothing is applied over it.
    #[error("{0}")]
    NameConflict(String),
    /// The runtime config selects an AIMPolicy that does not allow the subject's namespace.
    #[error(
        "the runtime config selects AIMPolicy {policy:?}, whose namespaceSelector does not select namespace {namespace:?}; existing objects are left as they are"
    )]
    PolicyNotAllowed { policy: String, namespace: String },
    /// Fetching, verifying, compiling or testing an AIMPolicy's component failed.
    #[error("{0}")]
    PolicyRefused(String),
}

/// The request the apiserver refused or failed, as the error message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    WriteStatus,
    UpdateFinalizers,
    /// Reading an object: `(kind, name)`.
    Read(String, String),
    Create(String, String),
    Apply(String, String),
    Delete(String, String),
    /// Reading the log of the named discovery Job.
    DiscoveryLog(String),
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::WriteStatus => f.write_str("writing status"),
            Self::UpdateFinalizers => f.write_str("updating finalizers"),
            Self::Read(kind, name) => write!(f, "reading {kind} {name}"),
            Self::Create(kind, name) => write!(f, "creating {kind} {name}"),
            Self::Apply(kind, name) => write!(f, "applying {kind} {name}"),
            Self::Delete(kind, name) => write!(f, "deleting {kind} {name}"),
            Self::DiscoveryLog(job) => write!(f, "reading the log of discovery job {job}"),
        }
    }
}

impl Error {
    /// The CamelCase reason used for Events, conditions and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Policy(error) => error.reason(),
            Self::Kube { .. } => "ApplyFailed",
            Self::InvalidObject(_) => "InvalidObject",
            Self::Cancelled => "Cancelled",
            Self::Encoding(_) => "ObservationInvalid",
            Self::PolicyUnavailable(_) => "PolicyUnavailable",
            Self::NameConflict(_) => "NameConflict",
            Self::PolicyNotAllowed { .. } => "PolicyNotAllowed",
            Self::PolicyRefused(_) => "PolicyRefused",
        }
    }

    /// Wraps a client error with the request that failed.
    pub fn kube(request: Request, source: kube::Error) -> Self {
        Self::Kube {
            request,
            source: Box::new(source),
        }
    }
}

#[cfg(test)]
mod tests {
    /// The user's reference for a service's status.
    const STATUS_REFERENCE: &str = include_str!("../../../docs/status.md");

    /// The quoted reasons of the `reason()` function in `source`.
    fn reasons_in(source: &str) -> Vec<String> {
        let start = source
            .find("pub fn reason(&self) -> &'static str {")
            .expect("a reason function");
        let body = &source[start..];
        let body = &body[..body.find("\n    }\n").expect("its end")];
        body.split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_failure_reason_is_in_the_status_reference() {
        let section = &STATUS_REFERENCE[STATUS_REFERENCE
            .find("## Failures the operator itself reports")
            .expect("the section")..];
        let mut reasons = reasons_in(include_str!("error.rs"));
        reasons.extend(reasons_in(include_str!("../policy/error.rs")));
        reasons.push(aim_api::conditions::reasons::MALFORMED_OBJECT.to_owned());
        assert!(reasons.len() > 12, "the parser found {reasons:?}");
        for reason in reasons {
            assert!(
                section.contains(&format!("| `{reason}` |")),
                "{reason} is not in docs/status.md"
            );
        }
    }
}
