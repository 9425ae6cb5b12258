#!/usr/bin/env bash
# The scale benchmark (docs/BENCHMARKS.md): builds the test control plane (cached after the first
# time), aim-engine and scale-bench in release, then runs scale-bench with the arguments given:
#
#   scripts/scale-bench.sh --services 100,1000 --engine wasm,native
#
# Both binaries come from the same build, so the operator measured is the code checked out.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 >/dev/null
tests/k8s/build.sh
cargo build --release --locked -p aim-engine -p aim-tests --bin aim-engine --bin scale-bench \
    --features aim-engine/native-policy
exec "${CARGO_TARGET_DIR:-target}/release/scale-bench" "$@"
