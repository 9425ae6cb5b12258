//! An index of services by what they depend on (template, model, image, runtime config), kept up
//! to date from the service watch, so a change to a template or model wakes exactly the services
//! that use it instead of scanning every service.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use aim_api::conditions::AIMServiceStatusEnum;
use aim_api::v1alpha1::AIMService;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

/// What a service depends on, by name; namespaces are checked by the caller.
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
}

/// Services by dependency, and the dependencies recorded for each service.
#[derive(Debug, Default)]
pub struct ServiceIndex {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    services: HashMap<Dependency, HashSet<ObjectRef<AIMService>>>,
    recorded: HashMap<ObjectRef<AIMService>, Vec<Dependency>>,
}

impl ServiceIndex {
    /// Follows one watch event.
    pub fn observe(&self, event: &watcher::Event<AIMService>) {
        let mut inner = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match event {
            watcher::Event::Init => *inner = Inner::default(),
            watcher::Event::Apply(service) | watcher::Event::InitApply(service) => {
                inner.record(service)
            }
            watcher::Event::Delete(service) => inner.forget(&ObjectRef::from_obj(service)),
            watcher::Event::InitDone => {}
        }
    }

    /// The services that depend on `dependency`, in `namespace` when given.
    pub fn services(
        &self,
        dependency: &Dependency,
        namespace: Option<&str>,
    ) -> Vec<ObjectRef<AIMService>> {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        inner
            .services
            .get(dependency)
            .into_iter()
            .flatten()
            .filter(|service| namespace.is_none_or(|ns| service.namespace.as_deref() == Some(ns)))
            .cloned()
            .collect()
    }
}

impl Inner {
    fn record(&mut self, service: &AIMService) {
        let key = ObjectRef::from_obj(service);
        self.forget(&key);
        let dependencies = dependencies(service);
        for dependency in &dependencies {
            self.services
                .entry(dependency.clone())
                .or_default()
                .insert(key.clone());
        }
        self.recorded.insert(key, dependencies);
    }

    fn forget(&mut self, key: &ObjectRef<AIMService>) {
        for dependency in self.recorded.remove(key).unwrap_or_default() {
            if let Some(services) = self.services.get_mut(&dependency) {
                services.remove(key);
                if services.is_empty() {
                    self.services.remove(&dependency);
                }
            }
        }
    }
}

fn dependencies(service: &AIMService) -> Vec<Dependency> {
    let status = service.status.as_ref();
    let mut found = vec![Dependency::RuntimeConfig(
        service.spec.runtime_config_name.clone(),
    )];
    let templates = [
        service.spec.template_ref.clone(),
        status
            .and_then(|s| s.resolved_template.as_ref())
            .map(|r| r.name.clone()),
    ];
    found.extend(templates.into_iter().flatten().map(Dependency::Template));
    let models: Vec<String> = [
        service.spec.model.reference.clone(),
        status
            .and_then(|s| s.resolved_image.as_ref())
            .map(|r| r.name.clone()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if service.spec.template_ref.is_none() {
        found.extend(models.iter().cloned().map(Dependency::SelectsForModel));
    }
    found.extend(models.into_iter().map(Dependency::Model));
    found.extend(service.spec.model.image.clone().map(Dependency::Image));
    if status.is_none_or(|s| s.status != AIMServiceStatusEnum::Running) {
        found.push(Dependency::NotRunning);
    }
    found.sort_by_key(|d| format!("{d:?}"));
    found.dedup();
    found
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

    #[test]
    fn services_are_found_by_what_they_use_and_forgotten_when_deleted() {
        let index = ServiceIndex::default();
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
        index.observe(&watcher::Event::Apply(by_image.clone()));
        index.observe(&watcher::Event::Apply(by_ref.clone()));
        let names = |deps: Vec<ObjectRef<AIMService>>| {
            let mut names: Vec<String> = deps.into_iter().map(|r| r.name).collect();
            names.sort();
            names
        };
        assert_eq!(
            names(index.services(&Dependency::Model("m".into()), None)),
            ["a", "b"]
        );
        assert_eq!(
            names(index.services(&Dependency::SelectsForModel("m".into()), None)),
            ["a"]
        );
        assert_eq!(
            names(index.services(&Dependency::Template("t".into()), Some("ml"))),
            ["b"]
        );
        assert!(
            index
                .services(&Dependency::Template("t".into()), Some("other"))
                .is_empty()
        );
        assert_eq!(names(index.services(&Dependency::NotRunning, None)), ["b"]);
        assert_eq!(
            names(index.services(&Dependency::RuntimeConfig("default".into()), None)),
            ["a", "b"]
        );
        index.observe(&watcher::Event::Delete(by_ref));
        assert_eq!(
            names(index.services(&Dependency::Model("m".into()), None)),
            ["a"]
        );
        index.observe(&watcher::Event::Init);
        assert!(
            index
                .services(&Dependency::Model("m".into()), None)
                .is_empty()
        );
    }

    #[test]
    fn an_update_replaces_what_a_service_was_recorded_under() {
        let index = ServiceIndex::default();
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
                .services(&Dependency::Model("old".into()), None)
                .is_empty()
        );
        assert_eq!(
            index.services(&Dependency::Model("new".into()), None).len(),
            1
        );
    }
}
