// Cost-aware template selection for aim-engine (world `aim:policy/selection-policy`).
//
// Among the candidates that are Ready, not derived, run on a GPU model present in the cluster and
// fit the service's overrides, pick the one that needs the fewest GPUs. When several tie on the
// fewest GPUs, or when none qualifies, the embedded default policy decides: it ranks all
// candidates by GPU, metric and precision, and reports why nothing can be selected (not ready,
// none available, ambiguous).
//
// Component model mapping (componentize-js): records are objects with camelCase fields, an absent
// option is `undefined` (tested with `== null` here), enums are their kebab-case names, and the
// error of a `result` is thrown.

import { selectTemplate as defaultSelectTemplate } from 'aim:policy/defaults@0.1.0';

const NAME = 'js-cost-aware-selection';
const VERSION = '0.1.0';

export const metadata = {
  info() {
    return { name: NAME, version: VERSION, implements: ['selection'] };
  },
};

export const selection = {
  selectTemplate(request) {
    const choice = fewestGpus(request);
    if (choice !== undefined) {
      return { index: choice, name: request.candidates[choice].name, count: 1, reason: 'selected' };
    }
    // An error from the default (a `policy-error`) is rethrown as it is and becomes ours.
    return defaultSelectTemplate(request);
  },
};

// The index of the only qualifying candidate with the fewest GPUs, or undefined when there is
// none or several tie.
function fewestGpus({ candidates, availableGpuModels, overrides }) {
  const available = new Set(availableGpuModels.map(fold));
  let best;
  let bestGpus = Infinity;
  let ties = 0;
  candidates.forEach((candidate, index) => {
    if (!qualifies(candidate, available, overrides)) {
      return;
    }
    const gpus = candidate.gpuCount ?? 1;
    if (gpus < bestGpus) {
      best = index;
      bestGpus = gpus;
      ties = 1;
    } else if (gpus === bestGpus) {
      ties += 1;
    }
  });
  return ties === 1 ? best : undefined;
}

function qualifies(candidate, available, overrides) {
  return (
    candidate.status === 'Ready' &&
    !candidate.derived &&
    candidate.gpuModel != null &&
    available.has(fold(candidate.gpuModel)) &&
    fitsOverrides(candidate, overrides)
  );
}

// Every override that is set must equal the candidate's value (strings case-insensitively).
function fitsOverrides(candidate, overrides) {
  if (overrides == null) {
    return true;
  }
  const sameText = (wanted, actual) =>
    wanted == null || (actual != null && fold(wanted) === fold(actual));
  return (
    sameText(overrides.metric, candidate.metric) &&
    sameText(overrides.precision, candidate.precision) &&
    sameText(overrides.gpuModel, candidate.gpuModel) &&
    (overrides.gpuCount == null || overrides.gpuCount === candidate.gpuCount)
  );
}

function fold(text) {
  return text.trim().toLowerCase();
}
