#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager) and the OCI registry
# the registry tests use (CNCF distribution) from the Go modules pinned in this directory, and copies
# third-party CRD YAML next to them.
#
# Output goes to a cache outside the repo, keyed by version, so a second run (and every CI job with a
# restored cache) reuses the binaries:
#   ${AIM_TESTENV_CACHE:-$HOME/.cache/aim-engine/testenv}/k8s-<ver>-etcd-<ver>/bin/
#     (the registry is registry-<ver> there: versioned by name, so bumping it leaves the rest alone)
#   ${AIM_TESTENV_CACHE:-$HOME/.cache/aim-engine/testenv}/crds/
# A cold build takes several minutes and a few GB of Go build cache; needs only Go and the module proxy.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

command -v go >/dev/null || { echo "error: 'go' not found in PATH; the test control plane is built from source with Go" >&2; exit 1; }
# The pinned go.sum files are the trust anchor: never let a build rewrite them or fetch a toolchain.
# No VCS stamping either: the wrapper module sits in this repo, whose state must not matter.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"

cache="${AIM_TESTENV_CACHE:-$HOME/.cache/aim-engine/testenv}"
bin="$cache/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}/bin"
crds="$cache/crds"
mkdir -p "$bin"

ver="${K8S_VERSION#v}"; major="${ver%%.*}"; minor="${ver#*.}"; minor="${minor%%.*}"
# Without these, /version reports a dev version and version-gated behaviour in clients misfires.
ldx=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldx+=" -X $pkg.gitVersion=${K8S_VERSION} -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldx+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

now() { date +%s; }
start=$(now)
log() { echo "testenv-build [$(( $(now) - start ))s] $*"; }

# Builds one main package of the module in $1 into $bin/$3 unless it is already there. The binary goes
# to a temp name first so an interrupted build never leaves a truncated file that looks reusable.
# Binaries are built one at a time: they share most packages, so the second reuses the Go build cache.
build() {
  local moddir="$1" ldflags="$2" name="$3" pkg="$4" t0 tmp
  if [[ -x "$bin/$name" ]]; then log "reusing $bin/$name"; return 0; fi
  tmp="$bin/.$name.$$.tmp" # per process: concurrent builds must not write the same file
  t0=$(now)
  log "building $name from $pkg (a cold build takes minutes) ..."
  if ! (cd "$moddir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp" "$pkg"); then
    rm -f "$tmp"; echo "error: go build of $name failed (see above)" >&2; exit 1
  fi
  mv -f "$tmp" "$bin/$name"
  log "built $name in $(( $(now) - t0 ))s"
}

build "$here/etcd" "" etcd go.etcd.io/etcd/server/v3
build "$here" "$ldx" kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build "$here" "$ldx" kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
# Version stamped the way the registry's own release build does, so `registry --version` is truthful.
build "$here/registry" "-X github.com/distribution/distribution/v3/version.version=${DISTRIBUTION_VERSION}" \
  "registry-${DISTRIBUTION_VERSION}" github.com/distribution/distribution/v3/cmd/registry

# Module directory in the Go module cache, at the version pinned in crds/go.mod.
moddir() { (cd "$here/crds" && go mod download -json "$1") | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }
kserve="$(moddir github.com/kserve/kserve)"
gateway="$(moddir sigs.k8s.io/gateway-api)"
[[ -d "$kserve" && -d "$gateway" ]] || { echo "error: could not download the CRD source modules" >&2; exit 1; }

# Refreshed on every run (it is cheap) so a version bump never leaves stale CRDs behind.
tmp="$(mktemp -d "$cache/.crds.XXXXXX")"
for f in inferenceservices servingruntimes clusterservingruntimes; do
  cp "$kserve/config/crd/full/serving.kserve.io_$f.yaml" "$tmp/"
done
for f in gatewayclasses gateways httproutes referencegrants; do
  cp "$gateway/config/crd/standard/gateway.networking.k8s.io_$f.yaml" "$tmp/"
done
chmod -R u+w "$tmp"
rm -rf "$crds"; mv "$tmp" "$crds"
log "CRDs (kserve ${KSERVE_VERSION}, gateway-api ${GATEWAY_API_VERSION}) in $crds"
log "ready: $bin"
