//! HTTP routing of a service: the runtime config's routing overlaid by the service's, field by
//! field, the rendered path, the HTTPRoute, and how far the Gateway has accepted it.

use std::collections::BTreeMap;

use aim_api::v1alpha1::AIMService;
use gateway_api::apis::standard::httproutes::{
    HttpRoute, HttpRouteParentRefs, HttpRouteRules, HttpRouteRulesBackendRefs,
    HttpRouteRulesFilters, HttpRouteRulesFiltersType, HttpRouteRulesFiltersUrlRewrite,
    HttpRouteRulesFiltersUrlRewritePath, HttpRouteRulesFiltersUrlRewritePathType,
    HttpRouteRulesMatches, HttpRouteRulesMatchesPath, HttpRouteRulesMatchesPathType,
    HttpRouteRulesTimeouts, HttpRouteSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::freshness::{is_planned, reported_at_current};
use crate::PolicyFailure;
use crate::advisor::{Advisor, render_path};
use crate::paths::PATH_TEMPLATE_INVALID;
use crate::resource_names::http_route_name;
use crate::runtime_config::EffectiveRuntimeConfig;

/// Routing in force for a service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EffectiveRouting {
    /// Whether an HTTPRoute is wanted.
    pub enabled: bool,
    /// The Gateway to attach to.
    pub gateway_ref: Option<HttpRouteParentRefs>,
    /// Annotations for the HTTPRoute (service only).
    pub annotations: BTreeMap<String, String>,
    /// The path template, if any.
    pub path_template: Option<String>,
    /// Request timeout.
    pub request_timeout: Option<String>,
}

/// Overlays the service's routing on the runtime config's: each field the service sets wins.
pub fn effective(service: &AIMService, config: &EffectiveRuntimeConfig) -> EffectiveRouting {
    let defaults = config.common.routing.clone().unwrap_or_default();
    let own = service.spec.routing.clone().unwrap_or_default();
    let non_blank = |s: Option<String>| s.filter(|t| !t.trim().is_empty());
    EffectiveRouting {
        enabled: own.enabled.or(defaults.enabled).unwrap_or(false),
        gateway_ref: own.gateway_ref.or(defaults.gateway_ref),
        annotations: own.annotations,
        path_template: non_blank(own.path_template).or(non_blank(defaults.path_template)),
        request_timeout: non_blank(own.request_timeout).or(non_blank(defaults.request_timeout)),
    }
}

/// Why no route path could be rendered: the condition reason and message to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRefusal {
    pub reason: String,
    pub message: String,
}

impl From<PolicyFailure> for PathRefusal {
    /// A rejection keeps the reason its policy gave (a custom paths policy's own reason, or the
    /// default's `PathTemplateInvalid`); input the policy could not read is a template problem.
    fn from(failure: PolicyFailure) -> Self {
        match failure {
            PolicyFailure::Rejected { reason, message } => PathRefusal { reason, message },
            PolicyFailure::InvalidInput(message) => PathRefusal {
                reason: PATH_TEMPLATE_INVALID.to_owned(),
                message,
            },
        }
    }
}

/// The rendered path (the advisor's, else the default policy's), or why it could not be rendered.
pub fn path(
    service_json: &Value,
    routing: &EffectiveRouting,
    advisor: &dyn Advisor,
) -> Result<String, PathRefusal> {
    render_path(advisor, service_json, routing.path_template.as_deref()).map_err(PathRefusal::from)
}

/// The HTTPRoute for a service: one PathPrefix rule rewriting the prefix to `/`, sending traffic
/// to the InferenceService's predictor Service. Its labels are the plan's to add.
pub fn http_route(
    service: &AIMService,
    routing: &EffectiveRouting,
    gateway: &HttpRouteParentRefs,
    path: &str,
    isvc_name: &str,
) -> HttpRoute {
    let namespace = service.metadata.namespace.clone().unwrap_or_default();
    let mut parent = gateway.clone();
    parent.group = parent
        .group
        .or_else(|| Some("gateway.networking.k8s.io".to_owned()));
    parent.kind = parent.kind.or_else(|| Some("Gateway".to_owned()));
    parent.namespace = parent
        .namespace
        .filter(|n| !n.is_empty())
        .or_else(|| Some(namespace.clone()));
    let rule = HttpRouteRules {
        matches: Some(vec![HttpRouteRulesMatches {
            path: Some(HttpRouteRulesMatchesPath {
                r#type: Some(HttpRouteRulesMatchesPathType::PathPrefix),
                value: Some(path.to_owned()),
            }),
            ..HttpRouteRulesMatches::default()
        }]),
        filters: Some(vec![HttpRouteRulesFilters {
            r#type: HttpRouteRulesFiltersType::UrlRewrite,
            url_rewrite: Some(HttpRouteRulesFiltersUrlRewrite {
                path: Some(HttpRouteRulesFiltersUrlRewritePath {
                    r#type: HttpRouteRulesFiltersUrlRewritePathType::ReplacePrefixMatch,
                    replace_prefix_match: Some("/".to_owned()),
                    replace_full_path: None,
                }),
                hostname: None,
            }),
            ..HttpRouteRulesFilters::default()
        }]),
        backend_refs: Some(vec![HttpRouteRulesBackendRefs {
            kind: Some("Service".to_owned()),
            name: format!("{isvc_name}-predictor"),
            namespace: Some(namespace.clone()),
            port: Some(80),
            ..HttpRouteRulesBackendRefs::default()
        }]),
        timeouts: routing
            .request_timeout
            .as_ref()
            .map(|timeout| HttpRouteRulesTimeouts {
                request: Some(timeout.clone()),
                backend_request: None,
            }),
        ..HttpRouteRules::default()
    };
    HttpRoute {
        metadata: ObjectMeta {
            name: Some(http_route_name(
                service.metadata.name.as_deref().unwrap_or_default(),
            )),
            namespace: Some(namespace),
            annotations: Some(routing.annotations.clone()).filter(|a| !a.is_empty()),
            ..ObjectMeta::default()
        },
        spec: HttpRouteSpec {
            parent_refs: Some(vec![parent]),
            rules: Some(vec![rule]),
            ..HttpRouteSpec::default()
        },
        status: None,
    }
}

/// How far the Gateway has taken an HTTPRoute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteProgress {
    /// Accepted by every parent, at the route's current generation.
    Accepted,
    /// Not created, not yet updated to the planned spec, or not yet looked at by the Gateway.
    Waiting(String),
    /// A parent did not accept it or could not resolve its references; the message names the
    /// parent and carries the Gateway's reason and message.
    Refused(String),
    /// A parent reports `ResolvedRefs=False/BackendNotFound`. KServe creates the predictor Service
    /// the route points at only while it brings the InferenceService up, so this is expected
    /// during startup and a failure only once the runtime is Ready (see [`RouteProgress::settle`]).
    BackendPending(String),
}

impl RouteProgress {
    /// Decides a pending backend once the InferenceService's readiness is known: still starting
    /// means still configuring; Ready without the backend means the Gateway refuses the route.
    pub fn settle(self, runtime_ready: bool) -> Self {
        match self {
            RouteProgress::BackendPending(message) if runtime_ready => {
                RouteProgress::Refused(message)
            }
            RouteProgress::BackendPending(message) => RouteProgress::Waiting(message),
            settled => settled,
        }
    }
}

/// Reads the route's `status.parents[].conditions`: Accepted and ResolvedRefs of every parent, as
/// far as they are about the route's current generation and the spec the plan applies
/// (`planned_hash`).
pub fn progress(route: Option<&HttpRoute>, planned_hash: &str) -> RouteProgress {
    let Some(route) = route else {
        return RouteProgress::Waiting("Waiting for HTTPRoute to be created".to_owned());
    };
    if !is_planned(&route.metadata, Some(planned_hash)) {
        return RouteProgress::Waiting("Waiting for HTTPRoute to be updated".to_owned());
    }
    let waiting =
        || RouteProgress::Waiting("Waiting for the Gateway to accept the HTTPRoute".to_owned());
    let parents = route
        .status
        .as_ref()
        .map(|s| s.parents.as_slice())
        .unwrap_or_default();
    if parents.is_empty() {
        return waiting();
    }
    let generation = route.metadata.generation;
    let mut all_accepted = true;
    for parent in parents {
        let current = |type_: &str| {
            parent.conditions.iter().find(|c| {
                c.type_ == type_ && reported_at_current(generation, c.observed_generation)
            })
        };
        let gateway = match parent.parent_ref.namespace.as_deref() {
            Some(namespace) => format!("{namespace}/{}", parent.parent_ref.name),
            None => parent.parent_ref.name.clone(),
        };
        for (type_, what) in [
            ("Accepted", "not accepted by"),
            ("ResolvedRefs", "references not resolved by"),
        ] {
            if let Some(refused) = current(type_).filter(|c| c.status == "False") {
                let message = format!(
                    "HTTPRoute {what} Gateway {gateway}: {}: {}",
                    refused.reason, refused.message
                );
                return if type_ == "ResolvedRefs" && refused.reason == "BackendNotFound" {
                    RouteProgress::BackendPending(message)
                } else {
                    RouteProgress::Refused(message)
                };
            }
        }
        all_accepted &= current("Accepted").is_some_and(|c| c.status == "True");
    }
    if all_accepted {
        RouteProgress::Accepted
    } else {
        waiting()
    }
}
