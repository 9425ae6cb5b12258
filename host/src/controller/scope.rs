//! Which namespaces' objects the operator acts on: AIMServices, models, templates and caches.
//! Objects elsewhere are dropped from each controller's own watch before its cache and dependency
//! index see them, so they are never reconciled; the watches themselves stay cluster-wide (one
//! connection, not one per namespace), and the shared caches observations read keep every
//! namespace.

use std::collections::BTreeSet;
use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::watcher::Event;

/// The namespaces in scope; empty means every namespace.
#[derive(Debug, Clone, Default)]
pub struct NamespaceScope(Arc<BTreeSet<String>>);

impl NamespaceScope {
    /// A scope of `namespaces` (blank entries ignored); none at all means every namespace.
    pub fn new(namespaces: impl IntoIterator<Item = String>) -> Self {
        let namespaces = namespaces
            .into_iter()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .collect();
        Self(Arc::new(namespaces))
    }

    /// True when every namespace is in scope.
    pub fn is_all(&self) -> bool {
        self.0.is_empty()
    }

    /// The namespaces in scope, for logs.
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    fn contains(&self, namespace: Option<&str>) -> bool {
        self.is_all() || namespace.is_some_and(|n| self.0.contains(n))
    }

    /// The event if its object is in scope; list boundaries always pass so the cache still
    /// swaps in each complete relist.
    pub fn filter<K: ResourceExt>(&self, event: Event<K>) -> Option<Event<K>> {
        match &event {
            Event::Apply(object) | Event::InitApply(object) | Event::Delete(object) => self
                .contains(object.namespace().as_deref())
                .then_some(event),
            Event::Init | Event::InitDone => Some(event),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    fn object(namespace: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some("x".into()),
                namespace: Some(namespace.into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    #[test]
    fn only_objects_of_listed_namespaces_pass() {
        let scope = NamespaceScope::new(["team-a".to_owned(), " ".to_owned()]);
        assert!(!scope.is_all());
        assert!(scope.filter(Event::Apply(object("team-a"))).is_some());
        assert!(scope.filter(Event::InitApply(object("team-b"))).is_none());
        assert!(scope.filter(Event::Delete(object("team-b"))).is_none());
        assert!(scope.filter(Event::<ConfigMap>::Init).is_some());
        assert!(scope.filter(Event::<ConfigMap>::InitDone).is_some());
    }

    #[test]
    fn no_namespaces_means_all() {
        let scope = NamespaceScope::new(Vec::new());
        assert!(scope.is_all());
        assert!(scope.filter(Event::Apply(object("anywhere"))).is_some());
    }
}
