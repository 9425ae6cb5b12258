"""Chargeback for AIM services: the default plan, with the service's cost center on what it runs.

An AIMService labelled `finance.example.com/cost-center` gets that label, and an annotation of the
same name, on the InferenceService and HTTPRoute the default policy plans for it, so that finance
tooling can attribute GPU and gateway usage. A service without the label is planned as usual, with
a Warning event asking for one. Every other planner call is left to the embedded default policy.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.exports import metadata
from wit_world.imports import defaults, types

NAME = "python-cost-center"
VERSION = "0.1.0"

COST_CENTER = "finance.example.com/cost-center"
LABELLED_KINDS = frozenset({"InferenceService", "HTTPRoute"})
MISSING_REASON = "CostCenterMissing"


class Metadata(wit_world.exports.Metadata):
    def info(self) -> metadata.PolicyInfo:
        return metadata.PolicyInfo(
            name=NAME,
            version=VERSION,
            implements=[types.PolicyInterface.PLANNER],
        )


def _unsupported() -> Err:
    return Err(types.PolicyError_Unsupported())


def _invalid(message: str) -> Err:
    return Err(types.PolicyError_InvalidInput(message))


def _string_map(meta: dict, key: str) -> dict:
    """The labels or annotations of an object's metadata, created when absent."""
    value = meta.get(key)
    if not isinstance(value, dict):
        value = {}
        meta[key] = value
    return value


def cost_center_of(service: dict):
    """The service's cost center, or None when the label is absent or empty."""
    labels = (service.get("metadata") or {}).get("labels") or {}
    value = labels.get(COST_CENTER)
    return value if isinstance(value, str) and value else None


def add_cost_center(plan: dict, service: dict) -> dict:
    """Labels and annotates the planned InferenceServices and HTTPRoutes, or warns on the service."""
    cost_center = cost_center_of(service)
    if cost_center is None:
        # No event for a service on its way out: there is nothing left to charge.
        if (service.get("metadata") or {}).get("deletionTimestamp"):
            return plan
        name = (service.get("metadata") or {}).get("name", "")
        events = plan.get("events")
        if not isinstance(events, list):
            events = []
            plan["events"] = events
        events.append(
            {
                "type": "Warning",
                "reason": MISSING_REASON,
                "message": (
                    f"AIMService {name} has no {COST_CENTER} label; its InferenceService "
                    "and HTTPRoute cannot be charged back to a cost center"
                ),
            }
        )
        return plan
    for planned in plan.get("apply") or []:
        obj = planned.get("object") if isinstance(planned, dict) else None
        if not isinstance(obj, dict) or obj.get("kind") not in LABELLED_KINDS:
            continue
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
            obj["metadata"] = meta
        _string_map(meta, "labels")[COST_CENTER] = cost_center
        _string_map(meta, "annotations")[COST_CENTER] = cost_center
    return plan


class Planner(wit_world.exports.Planner):
    def plan_service(self, observation: str) -> str:
        # An error of the default policy (invalid input, a rejection) propagates unchanged.
        default_plan = defaults.plan(types.PlanFlow.SERVICE, observation)
        try:
            service = json.loads(observation)["service"]
            plan = json.loads(default_plan)
        except (ValueError, KeyError, TypeError) as error:
            raise _invalid(f"{NAME}: {error}")
        if not isinstance(service, dict) or not isinstance(plan, dict):
            raise _invalid(f"{NAME}: the observation's service and the plan must be objects")
        return json.dumps(add_cost_center(plan, service), separators=(",", ":"))

    def plan_template(self, observation: str) -> str:
        raise _unsupported()

    def plan_model(self, observation: str) -> str:
        raise _unsupported()

    def plan_template_cache(self, observation: str) -> str:
        raise _unsupported()

    def plan_model_cache(self, observation: str) -> str:
        raise _unsupported()
