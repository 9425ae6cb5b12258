#!/usr/bin/env bash
# Runs every check and test of aim-engine, from a fresh clone: installs the wasm target, builds the
# test control plane (cached after the first run), then formats, lints and tests the workspace,
# and builds and tests the example policies. The tests include the natively compiled default
# policy (feature `native-policy`), which release binaries leave out.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: adding the wasm32-wasip2 target"
rustup target add wasm32-wasip2

step "formatting"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked --features aim-engine/native-policy -- -D warnings

step "test control plane"
# shellcheck source=scripts/testenv.sh
source scripts/testenv.sh

step "tests"
cargo test --workspace --locked --no-fail-fast --features aim-engine/native-policy

step "example policies: build in three languages, run their fixtures"
scripts/test-policies.sh
