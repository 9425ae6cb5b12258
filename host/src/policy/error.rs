//! The typed outcomes of loading or calling a policy. Each variant maps to one condition reason
//! and Event reason through [`PolicyError::reason`]; callers match on variants, never on text.

use std::time::Duration;

use super::digest::Digest;

/// Why a policy could not be loaded or gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The call ran past its deadline and was interrupted.
    #[error("policy call exceeded its deadline of {deadline:?}")]
    Timeout { deadline: Duration },

    /// The policy tried to grow its memories past the per-call budget.
    #[error("policy exceeded its memory limit of {limit_bytes} bytes")]
    MemoryExceeded { limit_bytes: usize },

    /// Policy calls running at the same time already use all of the operator's memory budget
    /// for policies; the call may succeed when retried.
    #[error(
        "policy calls running at the same time use all of the operator's {budget_bytes}-byte memory budget for policies"
    )]
    MemoryBudgetExhausted { budget_bytes: usize },

    /// The policy trapped (panic, `unreachable`, stack overflow, ...).
    #[error("policy trapped: {detail}")]
    Trapped { detail: String },

    /// The component does not implement a compatible version of the `aim:policy` contract.
    #[error("policy is incompatible with aim:policy@0.1: {detail}")]
    Incompatible { detail: String },

    /// The bytes are not a WebAssembly component this host can compile.
    #[error("policy is not a valid WebAssembly component: {detail}")]
    InvalidComponent { detail: String },

    /// The policy's sha256 differs from the digest it was pinned to.
    #[error("policy digest {actual} does not match the pinned digest {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },

    /// The policy refused the input with its own reason.
    #[error("policy rejected the input ({reason}): {message}")]
    Rejected { reason: String, message: String },

    /// The policy could not read the input the host gave it.
    #[error("policy could not read its input: {detail}")]
    InvalidInput { detail: String },

    /// The policy's answer broke a rule the host enforces on every plan.
    #[error("policy output is invalid: {detail}")]
    OutputInvalid { detail: String },
}

impl PolicyError {
    /// The condition and Event reason for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            PolicyError::Timeout { .. } => "PolicyTimeout",
            PolicyError::MemoryExceeded { .. } => "PolicyMemoryExceeded",
            PolicyError::MemoryBudgetExhausted { .. } => "PolicyMemoryBudgetExhausted",
            PolicyError::Trapped { .. } => "PolicyTrapped",
            PolicyError::Incompatible { .. } => "PolicyIncompatible",
            PolicyError::InvalidComponent { .. } => "PolicyInvalid",
            PolicyError::DigestMismatch { .. } => "PolicyDigestMismatch",
            PolicyError::Rejected { .. } => "PolicyRejected",
            PolicyError::InvalidInput { .. } => "PolicyInvalidInput",
            PolicyError::OutputInvalid { .. } => "PolicyOutputInvalid",
        }
    }

    /// Whether the policy itself is unusable (as opposed to one call going wrong).
    pub fn is_load_failure(&self) -> bool {
        matches!(
            self,
            PolicyError::Incompatible { .. }
                | PolicyError::InvalidComponent { .. }
                | PolicyError::DigestMismatch { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_policy_prefixed_reason() {
        let errors = [
            PolicyError::Timeout {
                deadline: Duration::from_millis(1),
            },
            PolicyError::MemoryExceeded { limit_bytes: 1 },
            PolicyError::Trapped {
                detail: String::new(),
            },
            PolicyError::Incompatible {
                detail: String::new(),
            },
            PolicyError::Rejected {
                reason: "X".into(),
                message: String::new(),
            },
            PolicyError::OutputInvalid {
                detail: String::new(),
            },
        ];
        let reasons: Vec<_> = errors.iter().map(PolicyError::reason).collect();
        assert_eq!(
            reasons,
            [
                "PolicyTimeout",
                "PolicyMemoryExceeded",
                "PolicyTrapped",
                "PolicyIncompatible",
                "PolicyRejected",
                "PolicyOutputInvalid"
            ]
        );
    }
}
