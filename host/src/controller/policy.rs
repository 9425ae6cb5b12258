//! The AIMPolicy controller: fetches each policy's component, verifies its digest, compiles it,
//! runs its fixtures and installs it in the registry under the policy's name, where runtime
//! configs select it. A version failing any step is refused and the last good version stays
//! active; the status and a Warning Event say which and why. Deleting the AIMPolicy deactivates
//! it (objects whose runtime config still names it then wait, untouched).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aim_api::conditions::{finalizers, types};
use aim_api::v1alpha1::{AIMPolicy, AIMPolicySource};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ListParams;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};

use super::apply::sync_finalizers;
use super::context::Context;
use super::error::Error;
use super::identity::POLICY_MANAGER as MANAGER;
use super::policy_status::{Progress, describe, policy_status};
use super::runner;
use super::status::write_status;
use crate::cluster::policy_source::{SourceRules, fetch_component, fetch_fixtures, limits_of};
use crate::policy::{Digest, LoadedPolicy, PolicyError, PolicyLimits, PolicySource};
use crate::render::fixtures::{CaseOutcome, check_case};

/// How often a policy read from a mounted file is read again: volume contents change without
/// any API event.
const FILE_RECHECK: Duration = Duration::from_secs(60);

/// The longest start-up waits for AIMPolicies before the other controllers start anyway; one that
/// is not active by then is activated by this controller later, like any other change.
pub const STARTUP_ACTIVATION: Duration = Duration::from_secs(60);
/// AIMPolicies activated at the same time at start-up.
const STARTUP_CONCURRENCY: usize = 4;
/// The longest compiling and checking one component may take (JavaScript and Python components take
/// seconds on an idle machine).
const COMPILE_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest all of a policy's fixtures may take together.
const FIXTURES_TIMEOUT: Duration = Duration::from_secs(60);

/// Activates every AIMPolicy, several at a time, before the other controllers start, so no object
/// is planned with the wrong policy (or fails as waiting for one) just because this replica just
/// started. Returns after [`STARTUP_ACTIVATION`] at the latest, whatever a policy does.
pub async fn activate_all(ctx: &Arc<Context>) {
    let api: Api<AIMPolicy> = Api::all(ctx.client.clone());
    let activated = async {
        let list = match api.list(&ListParams::default()).await {
            Ok(list) => list,
            Err(error) => {
                tracing::warn!(%error, "could not list AIMPolicies at start-up");
                return;
            }
        };
        futures::stream::iter(list)
            .for_each_concurrent(STARTUP_CONCURRENCY, |policy| async move {
                let name = policy.name_any();
                if let Err(error) = reconcile(Arc::new(policy), ctx.clone()).await {
                    tracing::warn!(policy = %name, %error, "activating a policy at start-up failed");
                }
            })
            .await;
    };
    if tokio::time::timeout(STARTUP_ACTIVATION, activated)
        .await
        .is_err()
    {
        tracing::warn!(
            timeout = ?STARTUP_ACTIVATION,
            "AIMPolicies still activating; starting the controllers, the policy controller carries on"
        );
    }
}

/// Watches AIMPolicies and the ConfigMaps of the operator's namespace they read from.
pub async fn run(client: Client, ctx: Arc<Context>, concurrency: u16) {
    let controller = ctx.stores.policies.controller();
    let store = ctx.stores.policies.clone();
    let maps: Api<ConfigMap> = Api::namespaced(client, &ctx.settings.operator_namespace);
    let controller = controller.watches(maps, watcher::Config::default(), move |map| {
        let name = map.name_any();
        store
            .state()
            .into_iter()
            .filter(|policy| reads_config_map(policy, &name))
            .map(|policy| ObjectRef::from_obj(policy.as_ref()))
            .collect::<Vec<_>>()
    });
    runner::run("policy", controller, ctx, concurrency, reconcile).await;
}

fn reads_config_map(policy: &AIMPolicy, name: &str) -> bool {
    let source = policy
        .spec
        .source
        .config_map
        .as_ref()
        .map(|k| k.name.as_str());
    let fixtures = policy
        .spec
        .fixtures
        .as_ref()
        .map(|f| f.config_map_name.as_str());
    source == Some(name) || fixtures == Some(name)
}

/// Brings one policy's active version in line with its spec.
pub async fn reconcile(policy: Arc<AIMPolicy>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = policy.name_any();
    let api: Api<AIMPolicy> = Api::all(ctx.client.clone());
    if policy.meta().deletion_timestamp.is_some() {
        ctx.policies.remove(&name);
        tracing::info!(policy = %name, "policy deleted; deactivated");
        sync_finalizers(&api, policy.as_ref(), &[]).await?;
        return Ok(Action::await_change());
    }
    sync_finalizers(
        &api,
        policy.as_ref(),
        &[finalizers::POLICY_CLEANUP.to_owned()],
    )
    .await?;
    // Who may select it changes with the spec, whether or not the component does.
    ctx.policies
        .set_namespace_selector(&name, policy.spec.namespace_selector.clone());

    let before = installed(&ctx, &name);
    let progress = activate(&ctx, &policy).await;
    let after = installed(&ctx, &name);
    let previous = policy
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let status = policy_status(
        policy.meta().generation,
        &progress,
        after.as_deref(),
        &previous,
    );
    let changed = write_status(&api, MANAGER, policy.as_ref(), status).await?;

    let swapped = before.as_ref().map(|p| p.digest()) != after.as_ref().map(|p| p.digest());
    if let (true, Some(active)) = (swapped, &after) {
        let message = format!("{} is now active", describe(active));
        tracing::info!(policy = %name, %message);
        ctx.record(
            policy.as_ref(),
            EventType::Normal,
            "PolicyActivated",
            &message,
        )
        .await;
    }
    if let Some(failure) = progress.failure() {
        if changed {
            let kept = after.as_deref().map_or_else(
                || "no version is active".to_owned(),
                |p| format!("{} stays active", describe(p)),
            );
            let message = format!("{}: {}; {kept}", failure.step, failure.message);
            tracing::warn!(policy = %name, reason = %failure.reason, %message);
            ctx.record(
                policy.as_ref(),
                EventType::Warning,
                &failure.reason,
                &message,
            )
            .await;
        }
        // Sources and fixtures may appear later; retry with backoff (the ConfigMap watch also
        // wakes this policy when its ConfigMaps change).
        return Err(Error::PolicyRefused(format!(
            "{}: {}",
            failure.reason, failure.message
        )));
    }
    ctx.backoff
        .reset(&super::pipeline::backoff_key(policy.as_ref()));
    Ok(if policy.spec.source.path.is_some() {
        Action::requeue(FILE_RECHECK)
    } else {
        Action::await_change()
    })
}

/// The version installed under `name` now, if any.
fn installed(ctx: &Context, name: &str) -> Option<Arc<LoadedPolicy>> {
    ctx.policies
        .for_policy(Some(name))
        .and_then(|set| set.custom().cloned())
}

/// Runs the steps for the spec's version and installs it when every step passes.
async fn activate(ctx: &Context, policy: &AIMPolicy) -> Progress {
    let mut progress = Progress::default();
    let spec = &policy.spec;
    let namespace = &ctx.settings.operator_namespace;

    let rules = SourceRules {
        registry: &ctx.settings.registry,
        roots: &ctx.settings.policy_roots,
    };
    let wasm = match fetch_component(&ctx.client, namespace, &spec.source, rules).await {
        Ok(wasm) => wasm,
        Err(error) => {
            progress.fail(types::FETCHED, error.reason, error.message);
            return progress;
        }
    };
    progress.pass(
        types::FETCHED,
        "Fetched",
        format!(
            "{} bytes from {}",
            wasm.len(),
            source_name(&spec.source, namespace)
        ),
    );

    let actual = Digest::of(&wasm);
    let expected = match spec.digest.parse::<Digest>() {
        Ok(expected) => expected,
        Err(error) => {
            progress.fail(types::DIGEST_VERIFIED, "InvalidDigest", error.to_string());
            return progress;
        }
    };
    if actual != expected {
        progress.fail(
            types::DIGEST_VERIFIED,
            "PolicyDigestMismatch",
            format!("the component's digest is {actual}; the spec pins {expected}"),
        );
        return progress;
    }
    progress.pass(types::DIGEST_VERIFIED, "DigestMatches", actual.to_string());

    // As the runtime will clamp them, so an unchanged policy is recognised as unchanged.
    let limits = ctx.policies.clamp(limits_of(spec));
    let candidate = match compiled(ctx, &policy.name_any(), wasm, expected, limits).await {
        Ok(candidate) => candidate,
        Err(error) => {
            progress.fail(types::COMPILED, error.reason(), error.to_string());
            return progress;
        }
    };
    progress.pass(
        types::COMPILED,
        "Compiled",
        format!(
            "{} in {:.1} s",
            describe(&candidate),
            candidate.load_report().compile_time.as_secs_f64()
        ),
    );

    match &spec.fixtures {
        None => progress.skip(
            types::FIXTURES_PASSED,
            "NoFixtures",
            "No fixtures are configured",
        ),
        Some(fixtures) => {
            match run_fixtures(ctx, &candidate, namespace, &fixtures.config_map_name).await {
                Ok(message) => progress.pass(types::FIXTURES_PASSED, "FixturesPassed", message),
                Err((reason, message)) => {
                    progress.fail(types::FIXTURES_PASSED, reason, message);
                    return progress;
                }
            }
        }
    }

    ctx.policies.install(&policy.name_any(), candidate);
    progress
}

/// The installed version when it is already this digest with these limits; otherwise compiles
/// (off the async threads: large components take seconds).
async fn compiled(
    ctx: &Context,
    name: &str,
    wasm: Vec<u8>,
    digest: Digest,
    limits: PolicyLimits,
) -> Result<Arc<LoadedPolicy>, PolicyError> {
    if let Some(current) =
        installed(ctx, name).filter(|p| *p.digest() == digest && p.limits() == limits)
    {
        return Ok(current);
    }
    let registry = ctx.policies.clone();
    let source = PolicySource {
        wasm,
        expected_digest: Some(digest),
        limits,
    };
    let loading = tokio::task::spawn_blocking(move || registry.load(&source));
    let loaded = match tokio::time::timeout(COMPILE_TIMEOUT, loading).await {
        Ok(Ok(loaded)) => loaded?,
        Ok(Err(error)) => {
            return Err(PolicyError::Trapped {
                detail: format!("the compilation task failed: {error}"),
            });
        }
        Err(_) => {
            return Err(PolicyError::Timeout {
                deadline: COMPILE_TIMEOUT,
            });
        }
    };
    ctx.metrics.policy_compiled(name, loaded.load_report());
    Ok(loaded)
}

/// Runs the fixtures of a ConfigMap against `candidate`; the message names failed cases.
async fn run_fixtures(
    ctx: &Context,
    candidate: &Arc<LoadedPolicy>,
    namespace: &str,
    config_map: &str,
) -> Result<String, (&'static str, String)> {
    let fixtures = fetch_fixtures(&ctx.client, namespace, config_map)
        .await
        .map_err(|e| (e.reason, e.message))?;
    let set = ctx.policies.set_with(candidate.clone());
    let total = fixtures.len();
    // Each case is bounded by the policy's deadline; this stops the rest once time is up.
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let checking = tokio::task::spawn_blocking(move || {
        let mut failed = Vec::new();
        for fixture in &fixtures {
            if stopped.load(Ordering::Relaxed) {
                break;
            }
            let source = std::path::Path::new(&fixture.case);
            match check_case(source, &fixture.input, &fixture.expected, &set) {
                Ok(CaseOutcome::Passed) => {}
                Ok(CaseOutcome::Differs(difference)) => {
                    failed.push(format!("{} ({})", fixture.case, difference.trim_end()));
                }
                Err(error) => failed.push(format!("{} ({error})", fixture.case)),
            }
        }
        failed
    });
    let failed = match tokio::time::timeout(FIXTURES_TIMEOUT, checking).await {
        Ok(done) => done.map_err(|error| {
            (
                "FixturesFailed",
                format!("the fixture task failed: {error}"),
            )
        })?,
        Err(_) => {
            stop.store(true, Ordering::Relaxed);
            return Err((
                "FixturesTimedOut",
                format!("the {total} cases took longer than {FIXTURES_TIMEOUT:?} together"),
            ));
        }
    };
    if failed.is_empty() {
        Ok(format!("{total} of {total} cases passed"))
    } else {
        Err((
            "FixturesFailed",
            format!(
                "{} of {total} cases failed: {}",
                failed.len(),
                failed.join("; ")
            ),
        ))
    }
}

fn source_name(source: &AIMPolicySource, namespace: &str) -> String {
    match (&source.config_map, &source.path, &source.image) {
        (Some(key), _, _) => format!("ConfigMap {namespace}/{} key {}", key.name, key.key),
        (None, Some(path), _) => path.clone(),
        (None, None, Some(image)) => image.reference.clone(),
        (None, None, None) => "nowhere".to_owned(),
    }
}
