#!/usr/bin/env bash
# Builds the policy component into policy.wasm with componentize-py (pinned in requirements.txt),
# installed once into .venv. Needs python3 with venv and pip.
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -x .venv/bin/componentize-py ]]; then
  "${PYTHON:-python3}" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
fi
# The sources are bundled from a scratch copy, so componentize-py's bytecode stays out of src/.
stage="$(mktemp -d)"
trap 'rm -rf -- "$stage"' EXIT
cp src/*.py "$stage"/
(cd "$stage" && unset VIRTUAL_ENV PYTHONPATH && \
  "$OLDPWD/.venv/bin/componentize-py" --quiet -d "$OLDPWD/wit" -w {{world}} \
    componentize policy -p "$stage" -o "$OLDPWD/policy.wasm")
echo "built policy.wasm ($(wc -c <policy.wasm) bytes)"
