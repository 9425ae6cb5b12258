//! Carrying out a checked plan: server-side apply of every planned object with the owner reference
//! the plan asked for, deletions, and the subject's finalizers. Objects are applied in plan order
//! with `force`, one field manager per controller, so each controller owns exactly what it plans.

use aim_api::policy::plan::{ObjectReference, Owner, Plan, PlannedObject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};

use super::error::Error;

/// Finalizers this operator puts on objects; others' are never touched.
const OWN_FINALIZERS: [&str; 3] = [
    aim_api::conditions::finalizers::SERVICE_CACHE_CLEANUP,
    aim_api::conditions::finalizers::TEMPLATE_CACHE_CLEANUP,
    aim_api::conditions::finalizers::POLICY_CLEANUP,
];

/// Applies the plan's objects and deletions for `subject`.
pub async fn apply_plan<K>(
    client: &Client,
    manager: &str,
    subject: &K,
    plan: &Plan,
) -> Result<(), Error>
where
    K: Resource<DynamicType = ()>,
{
    for planned in &plan.apply {
        apply_object(client, manager, subject, planned).await?;
    }
    for reference in &plan.delete {
        delete(client, reference).await?;
    }
    Ok(())
}

async fn apply_object<K>(
    client: &Client,
    manager: &str,
    subject: &K,
    planned: &PlannedObject,
) -> Result<(), Error>
where
    K: Resource<DynamicType = ()>,
{
    let mut object = planned.object.clone();
    let owner = match &planned.owner {
        Owner::Subject => Some(owner_reference_to(subject)),
        Owner::None => None,
        Owner::Object(reference) => Some(owner_reference_by_lookup(client, reference).await?),
    };
    if let (Some(owner), Some(metadata)) = (
        owner,
        object.get_mut("metadata").and_then(Value::as_object_mut),
    ) {
        metadata.insert("ownerReferences".into(), json!([owner]));
    }
    let reference = reference_of(&object)?;
    let api = dynamic_api(client, &reference);
    let params = PatchParams::apply(manager).force();
    api.patch(&reference.name, &params, &Patch::Apply(&object))
        .await
        .map_err(|e| Error::kube(format!("applying {} {}", reference.kind, reference.name), e))?;
    Ok(())
}

async fn delete(client: &Client, reference: &ObjectReference) -> Result<(), Error> {
    match dynamic_api(client, reference)
        .delete(&reference.name, &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(Error::kube(
            format!("deleting {} {}", reference.kind, reference.name),
            e,
        )),
    }
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

async fn owner_reference_by_lookup(
    client: &Client,
    reference: &ObjectReference,
) -> Result<OwnerReference, Error> {
    let owner = dynamic_api(client, reference)
        .get(&reference.name)
        .await
        .map_err(|e| {
            Error::kube(
                format!("reading owner {} {}", reference.kind, reference.name),
                e,
            )
        })?;
    Ok(OwnerReference {
        api_version: reference.api_version.clone(),
        kind: reference.kind.clone(),
        name: reference.name.clone(),
        uid: owner.metadata.uid.unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
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
    .map_err(|e| Error::kube("updating finalizers", e))?;
    Ok(())
}
