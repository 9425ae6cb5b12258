//! What a policy call gives back: an answer, or the policy's statement that it leaves the call to
//! the default policy.

/// A policy's answer, or its statement that it leaves this call to the default policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<T> {
    Answer(T),
    Unsupported,
}
