"""Helpers for aim-engine policies in Python: refusals, accessors for the observed service and the
planned objects, and Kubernetes-safe names as the default policy derives them. Written by
`aim-engine policy new`; the JSON documents are described in wit/schema/ of aim-engine.
"""

import re

from componentize_py_types import Err
from wit_world.imports import types


def reject(reason: str, message: str) -> Err:
    """A refusal: `raise reject("NoTeam", "...")`. The object's conditions and Events show the
    reason and the message as given."""
    return Err(types.PolicyError_Rejected(types.Rejection(reason=reason, message=message)))


def invalid_input(message: str) -> Err:
    """The input could not be understood (shown as PolicyInvalidInput)."""
    return Err(types.PolicyError_InvalidInput(message))


def unsupported() -> Err:
    """Leave the call to the default policy."""
    return Err(types.PolicyError_Unsupported())


def name(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def namespace(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("namespace", "")


def label(obj: dict, key: str):
    """The value of label `key`, or None when it is absent or empty."""
    value = ((obj.get("metadata") or {}).get("labels") or {}).get(key)
    return value if isinstance(value, str) and value else None


def _string_map(obj: dict, key: str) -> dict:
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta.get(key), dict):
        meta[key] = {}
    return meta[key]


def set_label(obj: dict, key: str, value: str) -> None:
    _string_map(obj, "labels")[key] = value


def set_annotation(obj: dict, key: str, value: str) -> None:
    _string_map(obj, "annotations")[key] = value


def objects(plan: dict, kind: str) -> list:
    """The planned objects of `kind` (e.g. "HTTPRoute"), to adjust in place."""
    return [
        planned["object"]
        for planned in plan.get("apply") or []
        if isinstance(planned.get("object"), dict) and planned["object"].get("kind") == kind
    ]


def warn(plan: dict, reason: str, message: str) -> None:
    """Adds a Warning Event to the plan (`kubectl describe` shows it on the subject)."""
    plan.setdefault("events", []).append({"type": "Warning", "reason": reason, "message": message})


def make_rfc1123_compliant(text: str) -> str:
    """Lowercase, runs outside [a-z0-9.-] become '-', separators trimmed and collapsed, at most 63."""
    replaced = re.sub(r"[^a-z0-9.-]+", "-", text.lower())
    collapsed = re.sub(r"[-.]{2,}", "-", replaced.strip("-."))
    return collapsed[:63].rstrip("-.")


def sanitize_label_value(text: str) -> str:
    """Runs outside [a-zA-Z0-9._-] become '_', '_.-' trimmed, at most 63, 'unknown' when empty."""
    value = re.sub(r"[^a-zA-Z0-9._-]+", "_", text).strip("_.-")[:63].rstrip("_.-")
    return value or "unknown"
