//! HTTP routing of a service (BEHAVIOUR.md §5.6, §5.8): the runtime config's routing overlaid by
//! the service's, the rendered path, the HTTPRoute, and how far the Gateway has accepted it.

use std::collections::BTreeMap;

use aim_api::conditions::reasons;
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

use crate::PolicyFailure;
use crate::custom::render_path;
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

/// The rendered path, or why it could not be rendered.
pub fn path(service_json: &Value, routing: &EffectiveRouting) -> Result<String, PathRefusal> {
    render_path(service_json, routing.path_template.as_deref()).map_err(PathRefusal::from)
}

/// The HTTPRoute for a service: one PathPrefix rule rewriting the prefix to `/`, sending traffic
/// to the InferenceService's predictor Service.
pub fn http_route(
    service: &AIMService,
    routing: &EffectiveRouting,
    gateway: &HttpRouteParentRefs,
    path: &str,
    isvc_name: &str,
    route_labels: BTreeMap<String, String>,
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
            labels: Some(route_labels),
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
    /// Accepted by every parent.
    Accepted,
    /// Not created or not yet looked at by the Gateway.
    Waiting(String),
    /// A parent refused it, with the Gateway's reason and message.
    Refused { reason: String, message: String },
}

/// Reads the route's `status.parents[].conditions[Accepted]`.
pub fn progress(route: Option<&HttpRoute>) -> RouteProgress {
    let Some(route) = route else {
        return RouteProgress::Waiting("Waiting for HTTPRoute to be created".to_owned());
    };
    let parents = route
        .status
        .as_ref()
        .map(|s| s.parents.as_slice())
        .unwrap_or_default();
    if parents.is_empty() {
        return RouteProgress::Waiting(
            "Waiting for the Gateway to accept the HTTPRoute".to_owned(),
        );
    }
    for parent in parents {
        let accepted = parent.conditions.iter().find(|c| c.type_ == "Accepted");
        match accepted {
            None => {
                return RouteProgress::Waiting(
                    "Waiting for the Gateway to accept the HTTPRoute".to_owned(),
                );
            }
            Some(condition) if condition.status != "True" => {
                let reason = if condition.reason.is_empty() {
                    reasons::ROUTE_FAILED
                } else {
                    &condition.reason
                };
                return RouteProgress::Refused {
                    reason: reason.to_owned(),
                    message: condition.message.clone(),
                };
            }
            Some(_) => {}
        }
    }
    RouteProgress::Accepted
}
