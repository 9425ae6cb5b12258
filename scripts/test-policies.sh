#!/usr/bin/env bash
# Builds the example policies in policies/ (Rust, JavaScript through componentize-js, Python
# through componentize-py) and runs each against its fixtures with `aim-engine policy test`; then
# creates a project with `aim-engine policy new` in each language and builds and tests it
# unchanged, as an author would start. The toolchains are installed on first use (npm packages
# pinned by package-lock.json, componentize-py pinned by requirements.txt, both cached; the new
# projects reuse them).
#
#   scripts/test-policies.sh [--update]   # --update rewrites the examples' expected outputs
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

out=${CARGO_TARGET_DIR:-target}/policies
mkdir -p "$out"
out=$(cd "$out" && pwd)
cargo build --quiet --locked -p aim-engine
engine=$(cd "${CARGO_TARGET_DIR:-target}/debug" && pwd)/aim-engine
# Where new Rust projects build: shared with the test that builds one, so their dependencies
# compile once.
scaffold_target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/scaffold

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

# New projects, one per language, for the world with every interface. The JavaScript and Python
# toolchains the examples installed above are the same pinned versions: linked, not installed
# again.
componentize_py_version=$(sed -n 's/^componentize-py==\([^[:space:]]*\).*$/\1/p' policies/python-cost-center/requirements.txt)
for lang in rust js python; do
  project="$out/new-$lang"
  rm -rf "$project"
  echo "==> policy new --lang $lang"
  "$engine" policy new --lang "$lang" --world policy "$project" --name "new-$lang-policy" >/dev/null
  case $lang in
    js) ln -s "$root/policies/js-cost-aware-selection/node_modules" "$project/node_modules" ;;
    python) ln -s "${XDG_CACHE_HOME:-$HOME/.cache}/aim-engine/componentize-py-$componentize_py_version" "$project/.venv" ;;
  esac
  (cd "$project" && CARGO_TARGET_DIR="$scaffold_target" ./build.sh) || { failed=1; continue; }
  "$engine" policy test "$project/policy.wasm" "$project/fixtures" || failed=1
done
exit "$failed"
