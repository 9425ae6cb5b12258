//! Carrying out a checked plan: every planned object with the owner reference the plan asked for,
//! deletions, and the subject's finalizers. Objects are handled in plan order, one field manager
//! per controller, so each controller owns exactly what it plans. One the operator does not hold
//! yet is created (a create fails on a taken name, so nobody's object is taken over); one it holds
//! is server-side applied, but only if the operator wrote it (see [`super::ownership`]): a name
//! someone else holds stops the plan with a `NameConflict` on the subject. An apply that would
//! change nothing is not sent (see [`super::applied`]). A deletion the subject does not control is
//! skipped with a Warning Event.

use aim_api::policy::plan::{ObjectReference, Owner, Plan, PlannedObject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
    PostParams, Preconditions,
};
use kube::runtime::events::EventType;
use kube::{Client, Resource, ResourceExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::context::Context;
use super::error::{Error, Request};
use super::ownership::{self, Existing};

/// Finalizers this operator puts on objects; others' are never touched.
const OWN_FINALIZERS: [&str; 3] = [
    aim_api::conditions::finalizers::SERVICE_CACHE_CLEANUP,
    aim_api::conditions::finalizers::TEMPLATE_CACHE_CLEANUP,
    aim_api::conditions::finalizers::POLICY_CLEANUP,
];

/// Applies the plan's objects and deletions for `subject`, whose plan was made from
/// `observation` (where owners other than the subject must be found).
pub async fn apply_plan<K>(
    ctx: &Context,
    manager: &str,
    subject: &K,
    plan: &Plan,
    observation: &impl Serialize,
) -> Result<(), Error>
where
    K: Resource<DynamicType = ()>,
{
    // Only plans naming another owner need the observation as a document.
    let observed = plan
        .apply
        .iter()
        .any(|planned| matches!(planned.owner, Owner::Object(_)))
        .then(|| serde_json::to_value(observation))
        .transpose()
        .map_err(|e| Error::Encoding(e.to_string()))?
        .unwrap_or_default();
    for planned in &plan.apply {
        apply_object(ctx, manager, subject, planned, &observed).await?;
    }
    for reference in &plan.delete {
        delete(ctx, subject, reference).await?;
    }
    Ok(())
}

async fn apply_object<K>(
    ctx: &Context,
    manager: &str,
    subject: &K,
    planned: &PlannedObject,
    observation: &Value,
) -> Result<(), Error>
where
    K: Resource<DynamicType = ()>,
{
    let owner = match &planned.owner {
        Owner::Subject => Some(owner_reference_to(subject)),
        Owner::None => None,
        Owner::Object(reference) => Some(observed_owner(observation, reference)?),
    };
    let reference = reference_of(&planned.object)?;
    let api = dynamic_api(&ctx.client, &reference);
    let existing = match ctx.stores.existing(&reference) {
        Some(cached) => cached,
        // Not one the operator holds (or not yet in its cache): create it, which fails if the
        // name is taken; only then is it read, to see whose it is.
        None => {
            let object = stamped(
                planned,
                &reference,
                owner.as_ref(),
                subject.meta().uid.as_deref(),
            );
            let new = DynamicObject::deserialize(&object)
                .map_err(|e| Error::InvalidObject(format!("planned {}: {e}", reference.kind)))?;
            let params = PostParams {
                field_manager: Some(manager.to_owned()),
                ..PostParams::default()
            };
            match api.create(&params, &new).await {
                Ok(created) => {
                    remember(ctx, &reference, &object, &created.metadata);
                    return Ok(());
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    read_existing(&api, &reference).await?.ok_or_else(|| {
                        Error::NameConflict(format!(
                            "{} {} was being created and deleted at once; trying again",
                            reference.kind, reference.name
                        ))
                    })?
                }
                Err(e) => {
                    return Err(Error::kube(
                        Request::Create(reference.kind.clone(), reference.name.clone()),
                        e,
                    ));
                }
            }
        }
    };
    if let Some(why) = ownership::held_by_other(
        &existing,
        &reference,
        subject.meta().namespace.as_deref(),
        owner.as_ref(),
    ) {
        return Err(Error::NameConflict(why));
    }
    // The creator is recorded once, when the object is made, and kept by every later apply.
    let created_by = existing
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(aim_api::conditions::labels::CREATED_BY))
        .cloned();
    let object = stamped(planned, &reference, owner.as_ref(), created_by.as_deref());
    if ctx
        .applied
        .unchanged(&reference, &object, &existing.metadata)
    {
        return Ok(());
    }
    // Force moves fields between the operator's own managers (every writer it applies over is
    // one of them, checked above).
    let applied = api
        .patch(
            &reference.name,
            &PatchParams::apply(manager).force(),
            &Patch::Apply(&object),
        )
        .await
        .map_err(|e| {
            Error::kube(
                Request::Apply(reference.kind.clone(), reference.name.clone()),
                e,
            )
        })?;
    remember(ctx, &reference, &object, &applied.metadata);
    Ok(())
}

/// Notes the write of `object` for `reference`, which left the object with `metadata`.
fn remember(ctx: &Context, reference: &ObjectReference, object: &Value, metadata: &ObjectMeta) {
    ctx.applied.record(reference, object, metadata, |child| {
        ctx.stores.existing(child).is_some()
    });
}

/// The planned object with the host's labels and the owner reference.
fn stamped(
    planned: &PlannedObject,
    reference: &ObjectReference,
    owner: Option<&OwnerReference>,
    created_by: Option<&str>,
) -> Value {
    let mut object = planned.object.clone();
    ownership::stamp_labels(&mut object, &reference.kind, owner, created_by);
    if let (Some(owner), Some(metadata)) = (
        owner,
        object.get_mut("metadata").and_then(Value::as_object_mut),
    ) {
        metadata.insert("ownerReferences".into(), json!([owner]));
    }
    object
}

/// What exists under `reference`'s name, read from the apiserver.
async fn read_existing(
    api: &Api<DynamicObject>,
    reference: &ObjectReference,
) -> Result<Option<Existing>, Error> {
    match api.get_opt(&reference.name).await {
        Ok(found) => Ok(found.map(|object| Existing {
            requesting_namespace: object
                .data
                .pointer("/spec/requestingNamespace")
                .and_then(Value::as_str)
                .map(str::to_owned),
            metadata: object.metadata,
        })),
        Err(e) => Err(Error::kube(
            Request::Read(reference.kind.clone(), reference.name.clone()),
            e,
        )),
    }
}

/// Deletes the object `reference` names if `subject` controls it, exactly the version that was
/// checked (UID precondition); anything else is left alone with a Warning Event.
async fn delete<K>(ctx: &Context, subject: &K, reference: &ObjectReference) -> Result<(), Error>
where
    K: Resource<DynamicType = ()>,
{
    let api = dynamic_api(&ctx.client, reference);
    let current = match api.get_opt(&reference.name).await {
        Ok(Some(current)) => current,
        Ok(None) => return Ok(()),
        Err(e) => {
            return Err(Error::kube(
                Request::Read(reference.kind.clone(), reference.name.clone()),
                e,
            ));
        }
    };
    let subject_uid = subject.meta().uid.clone().unwrap_or_default();
    if !ownership::controls(&current.metadata, &subject_uid) {
        let message = format!(
            "Not deleting {} {}: it was neither created nor is it controlled by this object",
            reference.kind, reference.name
        );
        tracing::warn!(object = %subject.name_any(), %message, "deletion refused");
        ctx.record(subject, EventType::Warning, "DeletionRefused", &message)
            .await;
        return Ok(());
    }
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: current.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::background()
    };
    match api.delete(&reference.name, &params).await {
        Ok(_) => Ok(()),
        // Gone already, or replaced by another object of the same name since it was read.
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
        Err(e) => Err(Error::kube(
            Request::Delete(reference.kind.clone(), reference.name.clone()),
            e,
        )),
    }
}

/// The owner reference to an object of the observation; a plan naming any other owner is
/// refused, so no policy can hang an object on something the operator merely can read.
fn observed_owner(
    observation: &Value,
    reference: &ObjectReference,
) -> Result<OwnerReference, Error> {
    let uid = ownership::observed_uid(observation, reference).ok_or_else(|| {
        Error::Policy(crate::policy::PolicyError::OutputInvalid {
            detail: format!(
                "owner {} {:?} is not an object of the observation",
                reference.kind, reference.name
            ),
        })
    })?;
    Ok(OwnerReference {
        api_version: reference.api_version.clone(),
        kind: reference.kind.clone(),
        name: reference.name.clone(),
        uid,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// The controller reference to `owner`: the child is garbage-collected with it.
pub fn owner_reference_to<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn reference_of(object: &Value) -> Result<ObjectReference, Error> {
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Ok(ObjectReference {
        api_version: text("/apiVersion")
            .ok_or_else(|| Error::InvalidObject("planned object without apiVersion".into()))?,
        kind: text("/kind")
            .ok_or_else(|| Error::InvalidObject("planned object without kind".into()))?,
        name: text("/metadata/name")
            .ok_or_else(|| Error::InvalidObject("planned object without name".into()))?,
        namespace: text("/metadata/namespace"),
    })
}

/// An untyped API for any kind a plan may name.
pub fn dynamic_api(client: &Client, reference: &ObjectReference) -> Api<DynamicObject> {
    let (group, version) = reference
        .api_version
        .rsplit_once('/')
        .unwrap_or(("", reference.api_version.as_str()));
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &reference.kind));
    match &reference.namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

/// Makes the subject carry exactly the operator finalizers the plan lists, leaving others' alone.
/// The merge patch carries the resourceVersion, which the apiserver treats as a precondition, so a
/// concurrent change is retried rather than overwritten.
pub async fn sync_finalizers<K>(api: &Api<K>, subject: &K, wanted: &[String]) -> Result<(), Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let current = subject.finalizers().to_vec();
    let mut desired: Vec<String> = current
        .iter()
        .filter(|f| !OWN_FINALIZERS.contains(&f.as_str()))
        .cloned()
        .collect();
    desired.extend(
        wanted
            .iter()
            .filter(|f| OWN_FINALIZERS.contains(&f.as_str()))
            .cloned(),
    );
    if desired == current {
        return Ok(());
    }
    let patch =
        json!({"metadata": {"finalizers": desired, "resourceVersion": subject.resource_version()}});
    api.patch(
        &subject.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(|e| Error::kube(Request::UpdateFinalizers, e))?;
    Ok(())
}
