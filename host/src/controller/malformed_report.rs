//! How the owners of objects that do not decode learn of it: once per version and reason, a
//! Warning Event naming the field, and for the kinds whose status the operator writes, `Failure`
//! True with reason `MalformedObject` and status `Failed`. Only the leader reports.

use aim_api::conditions::reasons::MALFORMED_OBJECT;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::events::EventType;
use serde_json::json;

use super::context::Context;
use super::malformed::Entry;
use super::status::{stamp_transitions, with_failure};

/// Reports each new entry once, until the operator shuts down.
pub async fn report_malformed(ctx: &Context) {
    let malformed = &ctx.stores.malformed;
    loop {
        for entry in malformed.take_unreported() {
            report(ctx, &entry).await;
        }
        tokio::select! {
            () = malformed.changed() => {}
            () = ctx.shutdown.cancelled() => return,
        }
    }
}

async fn report(ctx: &Context, entry: &Entry) {
    let message = format!(
        "the object does not match its schema and is ignored until fixed: {}",
        entry.message
    );
    ctx.record_on(
        &entry.reference,
        EventType::Warning,
        MALFORMED_OBJECT,
        &message,
    )
    .await;
    let Some(manager) = entry.status_manager else {
        return;
    };
    let mut status = with_failure(None, entry.generation, MALFORMED_OBJECT, &message);
    status["status"] = json!("Failed");
    stamp_transitions(&mut status, &Timestamp::now().to_string());
    let (resource, reference) = (&entry.resource, &entry.reference);
    let name = reference.name.as_deref().unwrap_or_default();
    let api: Api<DynamicObject> = match &reference.namespace {
        Some(namespace) => Api::namespaced_with(ctx.client.clone(), namespace, resource),
        None => Api::all_with(ctx.client.clone(), resource),
    };
    // A JSON merge patch, not server-side apply: apply needs the whole object to match the
    // schema's types to track field ownership, which is exactly what this object does not do.
    let params = PatchParams {
        field_manager: Some(manager.to_owned()),
        ..PatchParams::default()
    };
    let body = json!({"status": status});
    if let Err(error) = api.patch_status(name, &params, &Patch::Merge(&body)).await {
        tracing::warn!(kind = %resource.kind, object = %name, %error, "could not write the status of a malformed object");
    }
}
