#!/usr/bin/env bash
# Builds the Helm CLI that the chart tests (tests/tests/helm_chart.rs) lint and render
# deploy/helm/aim-engine with, from the Go module helm.sh/helm/v3 at HELM_VERSION (versions.env).
#
# Output goes to the same cache as the test control plane, in a directory of its own keyed by the
# Helm version, so bumping Kubernetes leaves Helm alone and the other way round:
#   ${AIM_TESTENV_CACHE:-$HOME/.cache/aim-engine/testenv}/helm-<ver>/bin/helm
# A binary already there is reused. A cold build takes a few minutes on 2 cores; needs only Go and the
# module proxy. Prints the binary's path as its last line.
#
# Built with `go install module/cmd@version`, i.e. against Helm's own go.mod and go.sum (exactly the
# dependency set of Helm's release build), with the Helm module itself verified against the Go
# checksum database on download. That makes a wrapper module with a go.sum of our own unnecessary.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
[[ -n "${HELM_VERSION:-}" ]] || { echo "error: HELM_VERSION missing from $here/versions.env" >&2; exit 1; }

command -v go >/dev/null || { echo "error: 'go' not found in PATH; Helm is built from source with Go" >&2; exit 1; }
# Never fetch a toolchain; a static binary; no VCS stamping (nothing here is a checkout of Helm).
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-buildvcs=false"

cache="${AIM_TESTENV_CACHE:-$HOME/.cache/aim-engine/testenv}"
bin="$cache/helm-${HELM_VERSION}/bin"
module="helm.sh/helm/v3"

now() { date +%s; }
start=$(now)
log() { echo "helm-build [$(( $(now) - start ))s] $*" >&2; }

if [[ -x "$bin/helm" ]]; then
  log "reusing $bin/helm"
  echo "$bin/helm"
  exit 0
fi
mkdir -p "$bin"

# `go mod download -json` reports failures in its JSON on stdout, so that is shown on failure.
if ! info="$(go mod download -json "$module@$HELM_VERSION")"; then
  echo "error: could not download $module@$HELM_VERSION:" >&2; echo "$info" >&2; exit 1
fi
gomod="$(sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p' <<<"$info")"
[[ -f "$gomod" ]] || { echo "error: no go.mod for $module@$HELM_VERSION in:" >&2; echo "$info" >&2; exit 1; }
# Helm's Makefile stamps the default Kubernetes version of `helm template` and `helm lint` from the
# client-go it is built with (client-go v0.X.Y is Kubernetes v1.X); without it both assume v1.20.
client_go="$(sed -n 's/^\tk8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod")"
[[ -n "$client_go" ]] || { echo "error: no k8s.io/client-go requirement in $gomod" >&2; exit 1; }
ldflags="-s -w"
ldflags+=" -X $module/internal/version.version=$HELM_VERSION -X $module/internal/version.gitTreeState=clean"
for pkg in pkg/lint/rules pkg/chartutil; do
  ldflags+=" -X $module/$pkg.k8sVersionMajor=1 -X $module/$pkg.k8sVersionMinor=$client_go"
done

# Installed into a temp dir first, so an interrupted build never leaves a truncated file that looks
# reusable; per process, so concurrent builds never write the same file.
tmp="$(mktemp -d "$bin/.build.XXXXXX")"
trap 'rm -rf -- "$tmp"' EXIT
log "building helm $HELM_VERSION from $module (a cold build takes minutes) ..."
if ! GOBIN="$tmp" go install -trimpath -ldflags "$ldflags" "$module/cmd/helm@$HELM_VERSION"; then
  echo "error: go install of helm $HELM_VERSION failed (see above)" >&2
  exit 1
fi
"$tmp/helm" version --short >/dev/null || { echo "error: the built helm does not run" >&2; exit 1; }
mv -f "$tmp/helm" "$bin/helm"
log "built $bin/helm in $(( $(now) - start ))s"
echo "$bin/helm"
