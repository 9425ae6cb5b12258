#!/usr/bin/env bash
# Builds the policy component into policy.wasm.
set -euo pipefail
cd "$(dirname "$0")"
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
cargo build --release --locked --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{crate}}.wasm" policy.wasm
echo "built policy.wasm ($(wc -c <policy.wasm) bytes)"
