#!/usr/bin/env bash
# The project's virtualenv: installs uv when missing, then `uv sync --frozen` into <repo>/.venv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

UV_VERSION=0.13.9

if command -v uv >/dev/null; then
    uv=(uv)
else
    say "installing uv $UV_VERSION"
    python3 -m pip install -q "uv==$UV_VERSION"
    uv=(python3 -m uv) # the console script may not be on PATH yet (pyenv shims)
fi
cd "$ROOT"
"${uv[@]}" sync --frozen --quiet
