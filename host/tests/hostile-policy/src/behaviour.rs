//! The misbehaviours, by the subject's name (`service.metadata.name`, else
//! `subject.metadata.name`):
//! `loop` spins forever, `bomb` allocates until refused, `trap` panics, `huge` returns a 2 MiB
//! plan, `clusterrole` plans an RBAC ClusterRole, `other-namespace` plans a PVC in
//! `kube-system`, `read-env` / `read-file` / `connect` report what the sandbox let them see,
//! `chatty` prints a megabyte, `hog` holds 24 MiB until it is stopped, `sleep` sleeps an hour
//! (`std::thread::sleep`), `wait-forever` polls a pollable that is ready in 584 years, `spam` asks
//! for 100 Events and to be planned again at once; `privileged-job`, `host-path`,
//! `operator-account` and `transformer` plan pods past the host's pod checks; `foreign-owner`
//! hangs a claim on a Secret it never observed; `delete-foreign` deletes the claim
//! `bystander-data` it does not control; `unlabelled` plans the claim `unlabelled-data` without
//! the labels the host's caches select on; any other name gets a well-formed empty plan.

use serde_json::{Value, json};

const PLAN_API_VERSION: &str = "aim.silogen.ai/plan/v1";

/// Runs the behaviour the observation asks for and returns the plan JSON.
pub fn plan(observation: &str) -> Result<String, String> {
    let observation: Value = serde_json::from_str(observation).map_err(|e| e.to_string())?;
    let name = ["/service/metadata/name", "/subject/metadata/name"]
        .iter()
        .find_map(|pointer| observation.pointer(pointer).and_then(Value::as_str))
        .unwrap_or_default();
    let plan = match name {
        "loop" => spin_forever(),
        "bomb" => allocate_forever(),
        "hog" => {
            let hoard = vec![1u8; 24 << 20];
            std::hint::black_box(&hoard);
            spin_forever()
        }
        "trap" => panic!("this policy panics on purpose"),
        "huge" => with_status(json!({"padding": "x".repeat(2 << 20)})),
        "clusterrole" => with_object(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "escalate"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
        })),
        "other-namespace" => with_object(json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "stolen", "namespace": "kube-system"}
        })),
        "privileged-job" => with_object(job(json!({"privileged": true}))),
        "operator-account" => with_object(json!({
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "borrow"},
            "spec": {"template": {"spec": {"serviceAccountName": "aim-engine", "restartPolicy": "Never",
                "containers": [restricted_container()]}}}
        })),
        "host-path" => with_object(json!({
            "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "host-path"},
            "spec": {"predictor": {"volumes": [{"name": "root", "hostPath": {"path": "/"}}],
                                   "model": restricted_container()}}
        })),
        "transformer" => with_object(json!({
            "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "transformer"},
            "spec": {"predictor": {"model": restricted_container()},
                     "transformer": {"containers": [{"name": "t", "image": "x", "securityContext": {"privileged": true}}]}}
        })),
        "foreign-owner" => json!({"apiVersion": PLAN_API_VERSION, "apply": [{
            "object": claim("foreign-owner"),
            "owner": {"object": {"apiVersion": "v1", "kind": "Secret", "name": "admin-token",
                                 "namespace": namespace(&observation)}}}],
            "status": {}, "events": []}),
        "delete-foreign" => json!({"apiVersion": PLAN_API_VERSION, "apply": [], "delete": [{
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": "bystander-data",
            "namespace": namespace(&observation)}], "status": {}, "events": []}),
        "unlabelled" => with_object(claim("unlabelled-data")),
        "read-env" => with_status(json!({
            "env": std::env::vars().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
            "args": std::env::args().collect::<Vec<_>>(),
            "cwd": std::env::current_dir().map(|d| d.display().to_string()).ok(),
        })),
        "read-file" => with_status(json!({
            "passwd": outcome(std::fs::read_to_string("/etc/passwd")),
            "root": outcome(std::fs::read_dir("/").map(|d| d.count().to_string())),
            "relative": outcome(std::fs::read_to_string("Cargo.toml")),
            "wallClockSeconds": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).ok(),
        })),
        "connect" => with_status(json!({
            "tcp": outcome(std::net::TcpStream::connect(("127.0.0.1", 80)).map(|_| "connected".to_string())),
            "lookup": outcome(std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 80)).map(|a| a.count().to_string())),
        })),
        "chatty" => {
            let line = "y".repeat(1023);
            for _ in 0..1024 {
                println!("{line}");
            }
            with_status(json!({}))
        }
        "spam" => json!({
            "apiVersion": PLAN_API_VERSION, "apply": [], "status": {},
            "events": (0..100)
                .map(|i| json!({"type": "Normal", "reason": "Spam", "message": format!("event {i}")}))
                .collect::<Vec<_>>(),
            "requeueAfterSeconds": 0,
        }),
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            with_status(json!({"slept": true}))
        }
        "wait-forever" => {
            crate::wait_forever();
            with_status(json!({"waited": true}))
        }
        _ => with_status(json!({})),
    };
    Ok(plan.to_string())
}

/// `"ok: <value>"` or `"error: <why>"`, so the test can assert that nothing was reachable.
fn outcome<E: std::fmt::Display>(result: Result<String, E>) -> String {
    match result {
        Ok(value) => format!("ok: {value}"),
        Err(error) => format!("error: {error}"),
    }
}

fn namespace(observation: &Value) -> &str {
    observation
        .pointer("/service/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A container that passes the restricted profile.
fn restricted_container() -> Value {
    json!({"name": "c", "image": "busybox", "securityContext": {
        "allowPrivilegeEscalation": false, "runAsNonRoot": true,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}})
}

/// A Job whose container has `extra` security settings on top of the restricted ones.
fn job(extra: Value) -> Value {
    let mut container = restricted_container();
    if let (Some(context), Value::Object(extra)) =
        (container["securityContext"].as_object_mut(), extra)
    {
        context.extend(extra);
    }
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "escalate"},
           "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container]}}}})
}

fn claim(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
}

fn with_status(status: Value) -> Value {
    json!({"apiVersion": PLAN_API_VERSION, "apply": [], "status": status, "events": []})
}

fn with_object(object: Value) -> Value {
    json!({"apiVersion": PLAN_API_VERSION, "apply": [{"object": object, "owner": "subject"}], "status": {}, "events": []})
}

fn spin_forever() -> ! {
    let mut counter = 0u64;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

fn allocate_forever() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}
