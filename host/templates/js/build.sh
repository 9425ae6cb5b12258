#!/usr/bin/env bash
# Builds the policy component into policy.wasm with componentize-js, through jco, at the versions
# package-lock.json pins. Needs Node.js 20 or newer and npm.
set -euo pipefail
cd "$(dirname "$0")"
[[ -d node_modules/@bytecodealliance/jco ]] || npm ci --no-audit --no-fund --loglevel=error
# stdio stays enabled, so an uncaught exception prints its message (shown with PolicyTrapped);
# the policy needs no other WASI feature.
./node_modules/.bin/jco componentize policy.js --bundle --wit wit --world-name {{world}} \
  --disable http random clocks fetch-event --out policy.wasm
echo "built policy.wasm ($(wc -c <policy.wasm) bytes)"
