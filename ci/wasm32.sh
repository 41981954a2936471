#!/usr/bin/env bash
# The 32-bit WebAssembly job (ci/wasm32.py): core tests and Excel functions inside CPython for wasm32, offline once
# its runtime is in the cache folder.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 ci/wasm32.py "$@"
