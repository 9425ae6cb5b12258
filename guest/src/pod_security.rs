//! The security settings every pod the default policy plans carries, so that each one meets the
//! Pod Security "restricted" profile the host checks (and a namespace enforcing that profile
//! admits): a non-root user, the runtime's default seccomp profile, no privilege escalation and
//! no Linux capabilities.

use k8s_openapi::api::core::v1::{
    Capabilities, PodSecurityContext, SeccompProfile, SecurityContext,
};

/// The non-root user distroless images run as; AIM images run their dry run and their server as
/// it too.
pub const NON_ROOT_USER: i64 = 65532;

fn runtime_default_seccomp() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        ..SeccompProfile::default()
    }
}

/// Pod-level settings: run as `user`, never as root, under the runtime's seccomp profile.
pub fn restricted_pod(user: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(user),
        seccomp_profile: Some(runtime_default_seccomp()),
        ..PodSecurityContext::default()
    }
}

/// Container-level settings: no privilege escalation, every capability dropped, never root, the
/// runtime's seccomp profile. Complete on its own, for containers whose pod settings the plan
/// does not write (a ServingRuntime's).
pub fn restricted_container() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            ..Capabilities::default()
        }),
        seccomp_profile: Some(runtime_default_seccomp()),
        ..SecurityContext::default()
    }
}
