//! Indexes of watched objects by what they depend on (template, model, image, runtime config), kept
//! up to date from the watch cache of their kind, so a change to a template or model wakes exactly
//! the objects that use it instead of scanning every one.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use aim_api::conditions::AIMServiceStatusEnum;
use aim_api::v1alpha1::{
    AIMClusterServiceTemplate, AIMService, AIMServiceTemplate, AIMServiceTemplateSpecCommon,
    AIMTemplateCache,
};
use kube::Resource;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

/// What an object depends on, by name; namespaces are checked on lookup.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dependency {
    /// The template it names or resolved to.
    Template(String),
    /// The model it names or resolved to.
    Model(String),
    /// Services selecting a template automatically care about every template of their model.
    SelectsForModel(String),
    /// The image it serves.
    Image(String),
    /// The runtime config it names.
    RuntimeConfig(String),
    /// Not Running yet: node changes may unblock it.
    NotRunning,
    /// Needs a GPU model: node label changes may change its availability.
    Gpu,
    /// Anything in its namespace of the watched kind may matter (looked up with a namespace).
    AnyInNamespace,
}

/// Objects that can be indexed by their dependencies.
pub trait Dependent: Resource<DynamicType = ()> + Clone {
    /// What the object depends on.
    fn dependencies(&self) -> Vec<Dependency>;
}

/// Objects by dependency, and the dependencies recorded for each object.
#[derive(Debug)]
pub struct DependencyIndex<K: Dependent> {
    inner: RwLock<Inner<K>>,
}

#[derive(Debug)]
struct Inner<K: Dependent> {
    objects: HashMap<Dependency, HashSet<ObjectRef<K>>>,
    recorded: HashMap<ObjectRef<K>, Vec<Dependency>>,
}

impl<K: Dependent> Default for DependencyIndex<K> {
    fn default() -> Self {
        Self {
            inner: RwLock::new(Inner {
                objects: HashMap::new(),
                recorded: HashMap::new(),
            }),
        }
    }
}

impl<K: Dependent> DependencyIndex<K> {
    /// Follows one watch event.
    pub fn observe(&self, event: &watcher::Event<K>) {
        let mut inner = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match event {
            watcher::Event::Init => {
                inner.objects.clear();
                inner.recorded.clear();
            }
            watcher::Event::Apply(object) | watcher::Event::InitApply(object) => {
                inner.record(object)
            }
            watcher::Event::Delete(object) => inner.forget(&ObjectRef::from_obj(object)),
            watcher::Event::InitDone => {}
        }
    }

    /// The objects that depend on any of `dependencies`, in `namespace` when given.
    pub fn dependents(
        &self,
        dependencies: &[Dependency],
        namespace: Option<&str>,
    ) -> Vec<ObjectRef<K>> {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let found: HashSet<&ObjectRef<K>> = dependencies
            .iter()
            .flat_map(|dependency| inner.objects.get(dependency).into_iter().flatten())
            .filter(|object| namespace.is_none_or(|ns| object.namespace.as_deref() == Some(ns)))
            .collect();
        found.into_iter().cloned().collect()
    }
}

impl<K: Dependent> Inner<K> {
    fn record(&mut self, object: &K) {
        let key = ObjectRef::from_obj(object);
        self.forget(&key);
        let dependencies = object.dependencies();
        for dependency in &dependencies {
            self.objects
                .entry(dependency.clone())
                .or_default()
                .insert(key.clone());
        }
        self.recorded.insert(key, dependencies);
    }

    fn forget(&mut self, key: &ObjectRef<K>) {
        for dependency in self.recorded.remove(key).unwrap_or_default() {
            if let Some(objects) = self.objects.get_mut(&dependency) {
                objects.remove(key);
                if objects.is_empty() {
                    self.objects.remove(&dependency);
                }
            }
        }
    }
}

impl Dependent for AIMService {
    fn dependencies(&self) -> Vec<Dependency> {
        let status = self.status.as_ref();
        let mut found = vec![Dependency::RuntimeConfig(
            self.spec.runtime_config_name.clone(),
        )];
        let resolved_template = status
            .and_then(|s| s.resolved_template.as_ref())
            .map(|r| r.name.clone());
        found.extend(
            [self.spec.template_ref.clone(), resolved_template]
                .into_iter()
                .flatten()
                .map(Dependency::Template),
        );
        let resolved_model = status
            .and_then(|s| s.resolved_image.as_ref())
            .map(|r| r.name.clone());
        let models: Vec<String> = [self.spec.model.reference.clone(), resolved_model]
            .into_iter()
            .flatten()
            .collect();
        if self.spec.template_ref.is_none() {
            found.extend(models.iter().cloned().map(Dependency::SelectsForModel));
        }
        found.extend(models.into_iter().map(Dependency::Model));
        found.extend(self.spec.model.image.clone().map(Dependency::Image));
        if status.is_none_or(|s| s.status != AIMServiceStatusEnum::Running) {
            found.push(Dependency::NotRunning);
        }
        found
    }
}

impl Dependent for AIMServiceTemplate {
    fn dependencies(&self) -> Vec<Dependency> {
        template_dependencies(&self.spec.common)
    }
}

impl Dependent for AIMClusterServiceTemplate {
    fn dependencies(&self) -> Vec<Dependency> {
        template_dependencies(&self.spec.common)
    }
}

fn template_dependencies(common: &AIMServiceTemplateSpecCommon) -> Vec<Dependency> {
    let mut found = vec![
        Dependency::RuntimeConfig(common.runtime_config_name.clone()),
        Dependency::Model(common.model_name.clone()),
    ];
    if common.runtime.gpu_selector.is_some() {
        found.push(Dependency::Gpu);
    }
    found
}

impl Dependent for AIMTemplateCache {
    fn dependencies(&self) -> Vec<Dependency> {
        // Model caches shared between template caches carry no owner label, so any model cache in
        // the namespace may be one this cache is waiting for.
        vec![
            Dependency::Template(self.spec.template_ref.clone()),
            Dependency::AnyInNamespace,
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn service(name: &str, spec: serde_json::Value, status: serde_json::Value) -> AIMService {
        serde_json::from_value(json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
            "metadata": {"name": name, "namespace": "ml"}, "spec": spec, "status": status
        }))
        .unwrap()
    }

    fn names(found: Vec<ObjectRef<AIMService>>) -> Vec<String> {
        let mut names: Vec<String> = found.into_iter().map(|r| r.name).collect();
        names.sort();
        names
    }

    #[test]
    fn services_are_found_by_what_they_use_and_forgotten_when_deleted() {
        let index = DependencyIndex::<AIMService>::default();
        let by_image = service(
            "a",
            json!({"model": {"image": "img:1"}}),
            json!({"status": "Running", "resolvedImage": {"name": "m", "scope": "Cluster"}}),
        );
        let by_ref = service(
            "b",
            json!({"model": {"ref": "m"}, "templateRef": "t"}),
            json!({}),
        );
        index.observe(&watcher::Event::Apply(by_image));
        index.observe(&watcher::Event::Apply(by_ref.clone()));
        assert_eq!(
            names(index.dependents(&[Dependency::Model("m".into())], None)),
            ["a", "b"]
        );
        assert_eq!(
            names(index.dependents(&[Dependency::SelectsForModel("m".into())], None)),
            ["a"]
        );
        assert_eq!(
            names(index.dependents(&[Dependency::Template("t".into())], Some("ml"))),
            ["b"]
        );
        assert!(
            index
                .dependents(&[Dependency::Template("t".into())], Some("other"))
                .is_empty()
        );
        assert_eq!(
            names(index.dependents(&[Dependency::NotRunning], None)),
            ["b"]
        );
        let both = [
            Dependency::Image("img:1".into()),
            Dependency::Model("m".into()),
        ];
        assert_eq!(
            names(index.dependents(&both, None)),
            ["a", "b"],
            "each object once"
        );
        index.observe(&watcher::Event::Delete(by_ref));
        assert_eq!(
            names(index.dependents(&[Dependency::Model("m".into())], None)),
            ["a"]
        );
        index.observe(&watcher::Event::Init);
        assert!(
            index
                .dependents(&[Dependency::Model("m".into())], None)
                .is_empty()
        );
    }

    #[test]
    fn an_update_replaces_what_an_object_was_recorded_under() {
        let index = DependencyIndex::<AIMService>::default();
        index.observe(&watcher::Event::Apply(service(
            "a",
            json!({"model": {"ref": "old"}}),
            json!({}),
        )));
        index.observe(&watcher::Event::Apply(service(
            "a",
            json!({"model": {"ref": "new"}}),
            json!({}),
        )));
        assert!(
            index
                .dependents(&[Dependency::Model("old".into())], None)
                .is_empty()
        );
        assert_eq!(
            index
                .dependents(&[Dependency::Model("new".into())], None)
                .len(),
            1
        );
    }
}
