//! The CustomResourceDefinitions of every AIM kind, in one list, so `aim-engine crds`, the
//! committed `deploy/crds/` files and the test control plane can never disagree.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::v1alpha1::{
    AIMClusterModel, AIMClusterRuntimeConfig, AIMClusterServiceTemplate, AIMModel, AIMModelCache,
    AIMPolicy, AIMRuntimeConfig, AIMService, AIMServiceTemplate, AIMTemplateCache,
};

/// Every AIM CRD, in a stable order.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![
        AIMService::crd(),
        AIMModel::crd(),
        AIMClusterModel::crd(),
        AIMServiceTemplate::crd(),
        AIMClusterServiceTemplate::crd(),
        AIMRuntimeConfig::crd(),
        AIMClusterRuntimeConfig::crd(),
        AIMTemplateCache::crd(),
        AIMModelCache::crd(),
        AIMPolicy::crd(),
    ]
}
