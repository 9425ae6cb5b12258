#!/usr/bin/env bash
# Builds the example JavaScript selection policy (policies/js-cost-aware-selection) into a policy
# component with componentize-js, through jco, at the versions pinned in its package-lock.json.
#
#   scripts/build-js-policy.sh OUT.wasm
#
# Needs Node.js 20+ and npm (jco 1.34.0 and componentize-js 0.22.0: newer jco cannot read the WIT
# directory). Every optional WASI feature of the JavaScript engine but stdio is disabled: with
# stdio, an uncaught exception prints its message, which aim-engine shows with PolicyTrapped.
set -euo pipefail

usage() {
  echo "usage: $0 OUT.wasm" >&2
  exit 2
}
[[ $# -eq 1 && -n "$1" && "$1" != -* ]] || usage

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
policy_dir="$repo/policies/js-cost-aware-selection"
wit_dir="$repo/wit"
world="selection-policy"

out_dir="$(dirname -- "$1")"
mkdir -p "$out_dir"
out="$(cd "$out_dir" && pwd)/$(basename -- "$1")"

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found on PATH" >&2; exit 1; }
done

echo "==> installing the pinned toolchain (npm ci)" >&2
(cd "$policy_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

# Build next to the output and move it into place, so a failed build never leaves a partial file.
tmp="$(mktemp "$out.XXXXXX")"
trap 'rm -f "$tmp"' EXIT

echo "==> componentizing $policy_dir/policy.js (world $world)" >&2
(cd "$policy_dir" && ./node_modules/.bin/jco componentize policy.js \
  --wit "$wit_dir" \
  --world-name "$world" \
  --disable http random clocks fetch-event \
  --out "$tmp" >&2)

[[ -s "$tmp" ]] || { echo "error: jco componentize wrote no component" >&2; exit 1; }
mv -f "$tmp" "$out"
trap - EXIT

size="$(wc -c <"$out" | tr -d ' ')"
echo "$out: $size bytes ($((size / 1024)) KiB)"
