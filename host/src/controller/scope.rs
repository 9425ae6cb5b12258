//! Which namespaces' objects the operator acts on: AIMServices, models, templates and caches.
//! Objects elsewhere are never reconciled (`controller/runner.rs` lets them pass); the watches
//! stay cluster-wide (one connection per kind, not one per namespace), and the caches observations
//! read keep every namespace. Cluster-scoped objects are always in scope.

use std::collections::BTreeSet;
use std::sync::Arc;

use kube::ResourceExt;

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

    /// Whether the operator acts on `object`: cluster-scoped, or in a namespace in scope.
    pub fn admits<K: ResourceExt>(&self, object: &K) -> bool {
        match object.namespace() {
            Some(namespace) => self.is_all() || self.0.contains(&namespace),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    fn object(namespace: Option<&str>) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some("x".into()),
                namespace: namespace.map(str::to_owned),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    #[test]
    fn only_objects_of_listed_namespaces_and_cluster_scoped_ones_are_admitted() {
        let scope = NamespaceScope::new(["team-a".to_owned(), " ".to_owned()]);
        assert!(!scope.is_all());
        assert!(scope.admits(&object(Some("team-a"))));
        assert!(!scope.admits(&object(Some("team-b"))));
        assert!(scope.admits(&object(None)));
    }

    #[test]
    fn no_namespaces_means_all() {
        let scope = NamespaceScope::new(Vec::new());
        assert!(scope.is_all());
        assert!(scope.admits(&object(Some("anywhere"))));
    }
}
