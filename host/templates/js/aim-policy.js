// Helpers for aim-engine policies in JavaScript: refusals, object accessors for the observed
// service and the planned objects, and Kubernetes-safe names as the default policy derives them.
// Written by `aim-engine policy new`; the JSON documents are described in wit/schema/ of
// aim-engine.

// A refusal: `throw reject('NoTeam', '...')`. The object's conditions and Events show the reason
// and the message as given.
export function reject(reason, message) {
  return { tag: 'rejected', val: { reason, message } };
}

// The input could not be understood (shown as PolicyInvalidInput).
export function invalidInput(message) {
  return { tag: 'invalid-input', val: message };
}

// Leave the call to the default policy.
export function unsupported() {
  return { tag: 'unsupported' };
}

export function name(object) {
  return object?.metadata?.name ?? '';
}

export function namespace(object) {
  return object?.metadata?.namespace ?? '';
}

// The value of label `key`, or undefined when it is absent or empty.
export function label(object, key) {
  const value = object?.metadata?.labels?.[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function setLabel(object, key, value) {
  object.metadata ??= {};
  object.metadata.labels ??= {};
  object.metadata.labels[key] = value;
}

export function setAnnotation(object, key, value) {
  object.metadata ??= {};
  object.metadata.annotations ??= {};
  object.metadata.annotations[key] = value;
}

// The planned objects of `kind` (e.g. 'HTTPRoute'), to adjust in place.
export function objects(plan, kind) {
  return (plan.apply ?? []).map((planned) => planned.object).filter((o) => o?.kind === kind);
}

// Adds a Warning Event to the plan (`kubectl describe` shows it on the subject).
export function warn(plan, reason, message) {
  plan.events ??= [];
  plan.events.push({ type: 'Warning', reason, message });
}

// Lowercase, runs outside [a-z0-9.-] become '-', separators trimmed and collapsed, at most 63.
export function makeRfc1123Compliant(text) {
  const replaced = text.toLowerCase().replace(/[^a-z0-9.-]+/g, '-');
  const trimmed = replaced.replace(/^[-.]+|[-.]+$/g, '');
  const collapsed = trimmed.replace(/[-.]{2,}/g, '-');
  return collapsed.slice(0, 63).replace(/[-.]+$/, '');
}

// Runs outside [a-zA-Z0-9._-] become '_', '_.-' trimmed, at most 63, 'unknown' when empty.
export function sanitizeLabelValue(text) {
  const edges = /^[_.-]+|[_.-]+$/g;
  const value = text.replace(/[^a-zA-Z0-9._-]+/g, '_').replace(edges, '').slice(0, 63);
  return value.replace(/[_.-]+$/, '') || 'unknown';
}
