#!/usr/bin/env bash
# Builds the example policies in policies/ (Rust, JavaScript through componentize-js, Python
# through componentize-py) and runs each against its fixtures with `aim-engine policy test`.
# The toolchains are installed on first use (npm packages pinned by package-lock.json,
# componentize-py pinned by requirements.txt, both cached).
#
#   scripts/test-policies.sh [--update]   # --update rewrites the expected outputs
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/policies
mkdir -p "$out"
cargo build --quiet --locked -p aim-engine
engine=${CARGO_TARGET_DIR:-target}/debug/aim-engine

declare -A fixtures=(
  [team-routes]=policies/rust-team-routes/fixtures
  [js-cost-aware-selection]=policies/js-cost-aware-selection/fixtures
  [python-cost-center]=policies/python-cost-center/fixtures
)
scripts/build-rust-policy.sh "$out/team-routes.wasm"
scripts/build-js-policy.sh "$out/js-cost-aware-selection.wasm"
scripts/build-python-policy.sh "$out/python-cost-center.wasm"

failed=0
for policy in team-routes js-cost-aware-selection python-cost-center; do
  echo "==> policy test $policy"
  "$engine" policy check "$out/$policy.wasm" | sed 's/^/    /'
  "$engine" policy test "$out/$policy.wasm" "${fixtures[$policy]}" "$@" || failed=1
done
exit "$failed"
