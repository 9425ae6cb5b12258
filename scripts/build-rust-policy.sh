#!/usr/bin/env bash
# Builds the example Rust policy (policies/rust-team-routes) as a wasm32-wasip2 component.
# Usage: scripts/build-rust-policy.sh OUT.wasm
set -euo pipefail
out=${1:?usage: scripts/build-rust-policy.sh OUT.wasm}
root=$(cd "$(dirname "$0")/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}/wasm
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
cargo build --quiet --locked --release --package aim-policy-team-routes \
  --target wasm32-wasip2 --manifest-path "$root/Cargo.toml" \
  --config 'profile.release.opt-level="s"' --config 'profile.release.lto=true' \
  --config 'profile.release.codegen-units=1' --config 'profile.release.strip=true' \
  --config 'profile.release.panic="abort"' \
  --target-dir "$target_dir"
mkdir -p "$(dirname "$out")"
cp "$target_dir/wasm32-wasip2/release/aim_policy_team_routes.wasm" "$out"
echo "built $out ($(stat -c %s "$out") bytes)"
