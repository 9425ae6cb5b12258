//! A controller whose main watch also keeps a [`DependencyIndex`], for the watches that map a
//! changed object to the dependents it affects, limited to the namespaces in scope.

use std::sync::Arc;

use futures::TryStreamExt;
use kube::Client;
use kube::runtime::controller::Controller;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde::de::DeserializeOwned;

use super::dependency_index::{DependencyIndex, Dependent};
use super::scope::NamespaceScope;
use super::tolerant::{self, Decoding};

/// A controller for every `K` in the cluster, and the index its watch maintains.
pub fn controller<K>(
    client: &Client,
    decoding: Decoding,
) -> (Controller<K>, Arc<DependencyIndex<K>>)
where
    K: Dependent + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    controller_in(client, NamespaceScope::default(), decoding)
}

/// A controller for every `K` in `scope`, and the index its watch maintains.
pub fn controller_in<K>(
    client: &Client,
    scope: NamespaceScope,
    decoding: Decoding,
) -> (Controller<K>, Arc<DependencyIndex<K>>)
where
    K: Dependent + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    let index = Arc::new(DependencyIndex::<K>::default());
    let (reader, writer) = reflector::store::<K>();
    let observer = index.clone();
    let objects = tolerant::watch(
        client,
        watcher::Config::default(),
        Some(reader.clone()),
        decoding,
    )
    .try_filter_map(move |event| futures::future::ready(Ok(scope.filter(event))))
    .map_ok(move |event| {
        observer.observe(&event);
        event
    })
    .reflect(writer)
    .applied_objects();
    (Controller::for_stream(objects, reader), index)
}
