//! The Pod Security Standards' "restricted" profile (which includes "baseline"), on what a plan
//! sets in a pod: no host namespaces, ports or paths, no privileged containers, no added
//! capabilities but `NET_BIND_SERVICE` and every other one dropped, no privilege escalation, a
//! non-root user, a `RuntimeDefault` or `Localhost` seccomp profile, only the volume types and
//! sysctls the profile allows. Containers KServe or the kubelet add later are theirs to answer for.

use k8s_openapi::api::core::v1::{
    Container, PodSecurityContext, PodSpec, SELinuxOptions, SecurityContext,
};

/// Volume sources the restricted profile allows.
const ALLOWED_VOLUME_SOURCES: [&str; 8] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Sysctls the baseline profile calls safe.
const SAFE_SYSCTLS: [&str; 12] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ping_group_range",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_wmem",
];

const SELINUX_TYPES: [&str; 5] = [
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// One pod as a plan sets it: the pod-level fields, and every container the plan writes.
#[derive(Debug, Clone, Copy)]
pub struct PlannedPod<'a> {
    /// Pod-level fields (host namespaces, volumes, security context).
    pub spec: &'a PodSpec,
    /// Whether the pod-level security context reaches the pods. A ServingRuntime's spec has
    /// none (KServe drops it), so its containers must carry every setting themselves.
    pub pod_context_applies: bool,
    /// Containers outside `spec` (an InferenceService's model container).
    pub extra_containers: &'a [Container],
}

impl<'a> PlannedPod<'a> {
    /// Every container the plan writes, with what it is called in messages.
    pub fn containers(&self) -> Vec<(String, &'a Container)> {
        fn named<'c>(kind: &str, c: &'c Container) -> (String, &'c Container) {
            (format!("{kind} {:?}", c.name), c)
        }
        let mut all: Vec<(String, &'a Container)> = Vec::new();
        all.extend(self.spec.containers.iter().map(|c| named("container", c)));
        all.extend(
            self.spec
                .init_containers
                .iter()
                .flatten()
                .map(|c| named("init container", c)),
        );
        all.extend(self.extra_containers.iter().map(|c| named("container", c)));
        all
    }
}

/// Why the pod does not meet the restricted profile (`None`: it does).
pub fn restricted_violation(pod: &PlannedPod<'_>) -> Option<String> {
    pod_level(pod.spec)
        .or_else(|| {
            pod.spec
                .ephemeral_containers
                .iter()
                .flatten()
                .next()
                .map(|_| "sets ephemeral containers".to_string())
        })
        .or_else(|| {
            let pod_context = pod
                .spec
                .security_context
                .as_ref()
                .filter(|_| pod.pod_context_applies);
            pod.containers().into_iter().find_map(|(what, container)| {
                container_level(container, pod_context).map(|why| format!("{what} {why}"))
            })
        })
}

fn pod_level(spec: &PodSpec) -> Option<String> {
    for (set, namespace) in [
        (spec.host_network, "network"),
        (spec.host_pid, "PID"),
        (spec.host_ipc, "IPC"),
    ] {
        if set == Some(true) {
            return Some(format!("uses the host's {namespace} namespace"));
        }
    }
    for volume in spec.volumes.iter().flatten() {
        let encoded = serde_json::to_value(volume).unwrap_or_default();
        let source = encoded
            .as_object()
            .into_iter()
            .flat_map(|fields| fields.keys())
            .find(|key| *key != "name" && !ALLOWED_VOLUME_SOURCES.contains(&key.as_str()));
        if let Some(source) = source {
            return Some(format!(
                "volume {:?} is of type {source}, which the restricted profile does not allow",
                volume.name
            ));
        }
    }
    spec.security_context.as_ref().and_then(pod_context)
}

/// The settings a pod and a container both have, checked the same way at either level.
struct SharedSettings<'a> {
    run_as_non_root: Option<bool>,
    run_as_user: Option<i64>,
    seccomp: Option<&'a str>,
    app_armor: Option<&'a str>,
    se_linux: Option<&'a SELinuxOptions>,
    host_process: Option<bool>,
}

impl<'a> SharedSettings<'a> {
    fn of_pod(context: &'a PodSecurityContext) -> Self {
        SharedSettings {
            run_as_non_root: context.run_as_non_root,
            run_as_user: context.run_as_user,
            seccomp: context.seccomp_profile.as_ref().map(|p| p.type_.as_str()),
            app_armor: context.app_armor_profile.as_ref().map(|p| p.type_.as_str()),
            se_linux: context.se_linux_options.as_ref(),
            host_process: context
                .windows_options
                .as_ref()
                .and_then(|w| w.host_process),
        }
    }

    fn of_container(context: &'a SecurityContext) -> Self {
        SharedSettings {
            run_as_non_root: context.run_as_non_root,
            run_as_user: context.run_as_user,
            seccomp: context.seccomp_profile.as_ref().map(|p| p.type_.as_str()),
            app_armor: context.app_armor_profile.as_ref().map(|p| p.type_.as_str()),
            se_linux: context.se_linux_options.as_ref(),
            host_process: context
                .windows_options
                .as_ref()
                .and_then(|w| w.host_process),
        }
    }

    /// What these settings do that the profile forbids.
    fn violation(&self) -> Option<String> {
        if self.run_as_non_root == Some(false) {
            return Some("sets runAsNonRoot: false".to_string());
        }
        if self.run_as_user == Some(0) {
            return Some("runs as user 0 (root)".to_string());
        }
        if let Some(kind) = self
            .seccomp
            .filter(|kind| !matches!(*kind, "RuntimeDefault" | "Localhost"))
        {
            return Some(format!("sets seccomp profile {kind}"));
        }
        if self.app_armor == Some("Unconfined") {
            return Some("runs without AppArmor".to_string());
        }
        if self.host_process == Some(true) {
            return Some("runs as a Windows host process".to_string());
        }
        self.se_linux.and_then(selinux)
    }
}

fn pod_context(context: &PodSecurityContext) -> Option<String> {
    SharedSettings::of_pod(context).violation().or_else(|| {
        context
            .sysctls
            .iter()
            .flatten()
            .find(|sysctl| !SAFE_SYSCTLS.contains(&sysctl.name.as_str()))
            .map(|sysctl| {
                format!(
                    "sets sysctl {}, which is not one of the safe ones",
                    sysctl.name
                )
            })
    })
}

fn selinux(options: &SELinuxOptions) -> Option<String> {
    let kind = options.type_.as_deref().unwrap_or_default();
    if !SELINUX_TYPES.contains(&kind) {
        return Some(format!("sets SELinux type {kind}"));
    }
    if options.user.as_deref().is_some_and(|u| !u.is_empty())
        || options.role.as_deref().is_some_and(|r| !r.is_empty())
    {
        return Some("sets an SELinux user or role".to_string());
    }
    None
}

fn container_level(
    container: &Container,
    pod_context: Option<&PodSecurityContext>,
) -> Option<String> {
    if let Some(port) = container
        .ports
        .iter()
        .flatten()
        .find_map(|p| p.host_port.filter(|port| *port != 0))
    {
        return Some(format!("binds host port {port}"));
    }
    let context = container.security_context.clone().unwrap_or_default();
    explicit_violation(&context).or_else(|| missing_requirement(&context, pod_context))
}

/// What a container's own settings do that the profile forbids.
fn explicit_violation(context: &SecurityContext) -> Option<String> {
    if context.privileged == Some(true) {
        return Some("is privileged".to_string());
    }
    if let Some(added) = context
        .capabilities
        .as_ref()
        .and_then(|c| c.add.as_ref())
        .into_iter()
        .flatten()
        .find(|capability| capability.as_str() != "NET_BIND_SERVICE")
    {
        return Some(format!("adds capability {added}"));
    }
    if context
        .proc_mount
        .as_deref()
        .is_some_and(|m| m != "Default")
    {
        return Some("unmasks /proc".to_string());
    }
    SharedSettings::of_container(context).violation()
}

/// What the profile demands that neither the container nor its pod sets.
fn missing_requirement(
    context: &SecurityContext,
    pod_context: Option<&PodSecurityContext>,
) -> Option<String> {
    if context.allow_privilege_escalation != Some(false) {
        return Some("must set allowPrivilegeEscalation: false".to_string());
    }
    let drops_all = context
        .capabilities
        .as_ref()
        .and_then(|c| c.drop.as_ref())
        .is_some_and(|drop| drop.iter().any(|d| d == "ALL"));
    if !drops_all {
        return Some("must drop capability ALL".to_string());
    }
    let non_root = context
        .run_as_non_root
        .or_else(|| pod_context.and_then(|p| p.run_as_non_root));
    if non_root != Some(true) {
        return Some("must set runAsNonRoot: true (itself or through its pod)".to_string());
    }
    let seccomp = context
        .seccomp_profile
        .as_ref()
        .or_else(|| pod_context.and_then(|p| p.seccomp_profile.as_ref()));
    if seccomp.is_none() {
        return Some(
            "must set a RuntimeDefault or Localhost seccomp profile (itself or through its pod)"
                .to_string(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn restricted_container() -> Value {
        json!({"name": "c", "image": "i", "securityContext": {
            "allowPrivilegeEscalation": false, "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}})
    }

    fn violation(spec: Value) -> Option<String> {
        let spec: PodSpec = serde_json::from_value(spec).unwrap();
        restricted_violation(&PlannedPod {
            spec: &spec,
            pod_context_applies: true,
            extra_containers: &[],
        })
    }

    fn with_container(change: impl Fn(&mut Value)) -> Option<String> {
        let mut container = restricted_container();
        change(&mut container);
        violation(json!({"containers": [container]}))
    }

    #[test]
    fn a_restricted_pod_passes() {
        assert_eq!(with_container(|_| {}), None);
    }

    #[test]
    fn host_namespaces_and_host_paths_are_refused() {
        let base = json!({"containers": [restricted_container()]});
        for field in ["hostNetwork", "hostPID", "hostIPC"] {
            let mut spec = base.clone();
            spec[field] = json!(true);
            assert!(
                violation(spec).is_some_and(|why| why.contains("host's")),
                "{field}"
            );
        }
        let mut spec = base.clone();
        spec["volumes"] = json!([{"name": "root", "hostPath": {"path": "/"}}]);
        assert!(violation(spec).is_some_and(|why| why.contains("hostPath")));
        let mut spec = base;
        spec["volumes"] = json!([{"name": "ok", "emptyDir": {}}, {"name": "pvc", "persistentVolumeClaim": {"claimName": "x"}}]);
        assert_eq!(violation(spec), None);
    }

    #[test]
    fn privileged_containers_capabilities_escalation_and_root_are_refused() {
        let cases: [(&str, Value, &str); 7] = [
            ("privileged", json!(true), "privileged"),
            (
                "capabilities",
                json!({"add": ["SYS_ADMIN"], "drop": ["ALL"]}),
                "SYS_ADMIN",
            ),
            (
                "capabilities",
                json!({"drop": ["NET_RAW"]}),
                "drop capability ALL",
            ),
            (
                "allowPrivilegeEscalation",
                json!(true),
                "allowPrivilegeEscalation",
            ),
            ("runAsUser", json!(0), "user 0"),
            ("runAsNonRoot", json!(false), "runAsNonRoot"),
            (
                "seccompProfile",
                json!({"type": "Unconfined"}),
                "Unconfined",
            ),
        ];
        for (field, value, expected) in cases {
            let why = with_container(|c| c["securityContext"][field] = value.clone());
            assert!(
                why.as_deref().is_some_and(|w| w.contains(expected)),
                "{field}: {why:?}"
            );
        }
        let why = with_container(|c| c["ports"] = json!([{"containerPort": 80, "hostPort": 80}]));
        assert!(why.is_some_and(|w| w.contains("host port")));
    }

    #[test]
    fn pod_level_settings_count_for_containers_only_where_they_apply() {
        let container = json!({"name": "c", "securityContext": {
            "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}});
        let spec: PodSpec = serde_json::from_value(json!({"containers": [container],
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}}}))
        .unwrap();
        let pod = |applies| PlannedPod {
            spec: &spec,
            pod_context_applies: applies,
            extra_containers: &[],
        };
        assert_eq!(restricted_violation(&pod(true)), None);
        assert!(restricted_violation(&pod(false)).is_some_and(|w| w.contains("runAsNonRoot")));
    }

    #[test]
    fn extra_and_init_containers_are_checked_too() {
        let privileged: Container = serde_json::from_value(
            json!({"name": "model", "securityContext": {"privileged": true}}),
        )
        .unwrap();
        let spec: PodSpec =
            serde_json::from_value(json!({"containers": [restricted_container()]})).unwrap();
        let extra = [privileged];
        let pod = PlannedPod {
            spec: &spec,
            pod_context_applies: true,
            extra_containers: &extra,
        };
        assert!(restricted_violation(&pod).is_some_and(|w| w.contains("\"model\" is privileged")));
        let init = violation(json!({"containers": [restricted_container()],
            "initContainers": [{"name": "setup"}]}));
        assert!(init.is_some_and(|w| w.starts_with("init container \"setup\"")));
    }

    #[test]
    fn unsafe_sysctls_and_selinux_types_are_refused() {
        let sysctl = violation(json!({"containers": [restricted_container()],
            "securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}}));
        assert!(sysctl.is_some_and(|w| w.contains("kernel.msgmax")));
        let selinux = with_container(|c| {
            c["securityContext"]["seLinuxOptions"] = json!({"type": "spc_t"});
        });
        assert!(selinux.is_some_and(|w| w.contains("spc_t")));
    }
}
