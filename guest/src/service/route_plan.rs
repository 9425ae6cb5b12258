//! What routing plans for a service: while routing is on, the rendered path and the HTTPRoute
//! (stamped with its spec's hash) with how far the Gateway has taken it; while it is off, the
//! deletion of the service's routes.

use aim_api::policy::observation::ServiceObservation;
use aim_api::policy::plan::ObjectReference;
use gateway_api::apis::standard::httproutes::HttpRoute;

use super::facts::{ServiceFacts, ServiceSubject};
use super::freshness;
use super::routing::{self, PathRefusal, RouteProgress};
use crate::advisor::Advisor;

/// Routing as the service sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutingState {
    Disabled,
    MissingGateway,
    InvalidPath(PathRefusal),
    Route(RouteProgress),
}

impl RoutingState {
    /// Decides a pending backend once the InferenceService's readiness is known
    /// ([`RouteProgress::settle`]).
    pub fn settle(self, runtime_ready: bool) -> Self {
        match self {
            RoutingState::Route(progress) => RoutingState::Route(progress.settle(runtime_ready)),
            other => other,
        }
    }
}

/// What routing decides: the HTTPRoute to apply (stamped with its spec's hash, unlabelled), the
/// routes to delete, and what the status reports.
#[derive(Debug, Clone)]
pub struct RoutePlan {
    pub route: Option<HttpRoute>,
    pub stale: Vec<ObjectReference>,
    pub report: RouteReport,
}

/// What the status reports about routing.
#[derive(Debug, Clone)]
pub struct RouteReport {
    pub state: RoutingState,
    pub path: Option<String>,
}

impl RoutePlan {
    fn reporting(state: RoutingState, path: Option<String>) -> Self {
        RoutePlan {
            route: None,
            stale: Vec::new(),
            report: RouteReport { state, path },
        }
    }
}

/// Renders the path (the advisor's, else the default policy's) and plans the HTTPRoute while
/// routing is on; deletes the service's routes while it is off (the observation lists only routes
/// the service owns).
pub fn decide(
    observation: &ServiceObservation,
    subject: &ServiceSubject<'_>,
    facts: &ServiceFacts,
    advisor: &dyn Advisor,
) -> RoutePlan {
    let routing = &facts.routing;
    if !routing.enabled {
        let stale = observation
            .http_routes
            .iter()
            .filter_map(|route| {
                Some(ObjectReference {
                    api_version: "gateway.networking.k8s.io/v1".to_owned(),
                    kind: "HTTPRoute".to_owned(),
                    name: route.metadata.name.clone()?,
                    namespace: route.metadata.namespace.clone(),
                })
            })
            .collect();
        return RoutePlan {
            stale,
            ..RoutePlan::reporting(RoutingState::Disabled, None)
        };
    }
    let path = match routing::path(&facts.service_json, routing, advisor) {
        Ok(path) => path,
        Err(refusal) => return RoutePlan::reporting(RoutingState::InvalidPath(refusal), None),
    };
    let Some(gateway) = &routing.gateway_ref else {
        return RoutePlan::reporting(RoutingState::MissingGateway, Some(path));
    };
    let mut route = routing::http_route(subject.service, routing, gateway, &path, &facts.isvc_name);
    let hash = freshness::stamp(&mut route.metadata, &route.spec);
    let observed = observation
        .http_routes
        .iter()
        .find(|r| r.metadata.name == route.metadata.name);
    let state = RoutingState::Route(routing::progress(observed, &hash));
    RoutePlan {
        route: Some(route),
        ..RoutePlan::reporting(state, Some(path))
    }
}
