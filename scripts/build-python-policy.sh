#!/usr/bin/env bash
# Builds the example Python policy (policies/python-cost-center) into a WebAssembly component for
# the `planner-policy` world of wit/.
#
#   scripts/build-python-policy.sh OUT.wasm
#
# componentize-py, pinned in the policy's requirements.txt, is installed once into a virtualenv
# under ${XDG_CACHE_HOME:-$HOME/.cache}/aim-engine/ and reused afterwards. Needs python3 with venv
# and pip (PYTHON=... picks another interpreter for the virtualenv).
set -euo pipefail

if [[ $# -ne 1 || "$1" == -* ]]; then
  echo "usage: $0 OUT.wasm" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
policy="$root/policies/python-cost-center"
requirements="$policy/requirements.txt"

out_dir="$(dirname -- "$1")"
mkdir -p -- "$out_dir"
out="$(cd -- "$out_dir" && pwd)/$(basename -- "$1")"

version="$(sed -n 's/^componentize-py==\([^[:space:]]*\).*$/\1/p' "$requirements")"
if [[ -z "$version" ]]; then
  echo "error: $requirements must pin componentize-py==VERSION" >&2
  exit 1
fi

python="${PYTHON:-python3}"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/aim-engine/componentize-py-$version"
if [[ ! -x "$venv/bin/componentize-py" ]] \
    || [[ "$("$venv/bin/componentize-py" --version 2>/dev/null)" != "componentize-py $version" ]]; then
  echo "==> installing componentize-py $version into $venv"
  rm -rf -- "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
fi

# componentize-py runs the module once while building and writes bytecode next to it; a copy of
# the sources in a scratch directory keeps the work tree clean, and is the only Python path, so
# nothing from the virtualenv or the system Python is bundled into the component.
stage="$(mktemp -d "${TMPDIR:-/tmp}/python-cost-center.XXXXXX")"
trap 'rm -rf -- "$stage"' EXIT
cp -- "$policy"/src/*.py "$stage"/

echo "==> building $out"
start=$(date +%s%N)
(
  cd "$stage"
  unset VIRTUAL_ENV PYTHONPATH
  "$venv/bin/componentize-py" --quiet -d "$root/wit" -w planner-policy \
    componentize cost_center -p "$stage" -o "$out"
)
end=$(date +%s%N)

size=$(stat -c %s -- "$out")
awk -v out="$out" -v size="$size" -v ns="$((end - start))" 'BEGIN {
  printf "==> %s: %d bytes (%.1f MiB), built in %.1f s\n", out, size, size / 1048576, ns / 1e9
}'
