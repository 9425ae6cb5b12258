#!/usr/bin/env bash
# Runs one test control plane (etcd, kube-apiserver, kube-controller-manager) for a whole test run,
# so every test binary shares it instead of starting its own.
#
#   source scripts/testenv.sh            # starts it; exports KUBECONFIG, AIM_TESTENV_SHARED=1 and
#                                        # AIM_TESTENV_HELM (the Helm CLI the chart tests use);
#                                        # stops it when the sourcing shell exits (EXIT trap)
#   scripts/testenv.sh cargo test ...    # runs one command against it, then stops it
#
# The first run builds the control plane and Helm from source (minutes; see tests/k8s/build.sh and
# tests/k8s/build-helm.sh).

_testenv_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

testenv_down() {
  local pid
  pid="$(cat "$TESTENV_DIR/pid" 2>/dev/null || echo "${TESTENV_PID:-}")"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
  fi
  [[ -n "${TESTENV_DIR:-}" ]] && rm -rf -- "$TESTENV_DIR"
  unset TESTENV_PID
}

testenv_up() {
  "$_testenv_root/tests/k8s/build.sh" || return 1
  # The Helm CLI the chart tests use (tests/tests/helm_chart.rs); the script prints only its path.
  local helm
  helm="$("$_testenv_root/tests/k8s/build-helm.sh")" || return 1
  # Compiled first, so the start-up timeout below never includes a cold cargo build.
  (cd "$_testenv_root" && cargo build -q -p aim-tests --bin testenv) || return 1
  TESTENV_DIR="$(mktemp -d "${TMPDIR:-/tmp}/aim-testenv-run.XXXXXX")"
  (cd "$_testenv_root" && exec cargo run -q -p aim-tests --bin testenv -- up \
      --kubeconfig "$TESTENV_DIR/kubeconfig" --pidfile "$TESTENV_DIR/pid") >"$TESTENV_DIR/testenv.log" 2>&1 &
  TESTENV_PID=$!
  trap testenv_down EXIT

  local deadline=$((SECONDS + 120))
  # testenv writes the kubeconfig only once the control plane is ready and every CRD is established.
  until [[ -f "$TESTENV_DIR/kubeconfig" ]]; do
    if ! kill -0 "$TESTENV_PID" 2>/dev/null || ((SECONDS >= deadline)); then
      echo "error: the test control plane did not become ready; its log:" >&2
      cat "$TESTENV_DIR/testenv.log" >&2
      testenv_down
      return 1
    fi
    sleep 0.1
  done
  grep -m1 '^testenv ready' "$TESTENV_DIR/testenv.log" || true
  export KUBECONFIG="$TESTENV_DIR/kubeconfig" AIM_TESTENV_SHARED=1 AIM_TESTENV_HELM="$helm"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  testenv_up || exit 1
  if (($#)); then "$@"; fi
else
  testenv_up || return 1
fi
