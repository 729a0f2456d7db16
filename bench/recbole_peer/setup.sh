#!/usr/bin/env bash
# Create the RecBole peer venv at .cache/recbole-venv (git-ignored), separate from lmrec's .venv.
#
# Usage (from the repository root):  bash bench/recbole_peer/setup.sh
# Environment:
#   PYTHON          interpreter for the venv (default: python3; RecBole 1.2.1 was run here on 3.11)
#   RECBOLE_VENV    where to create it (default: .cache/recbole-venv)
#   TORCH_INDEX_URL optional extra index holding PyTorch's CPU wheels, for machines without a local
#                   CPU wheel of torch 2.13.0 (without one, pip takes PyPI's CUDA build, several GB)
# Re-running is cheap: the venv is reused and pip only installs what is missing. Delete the folder
# to start over.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-python3}"
VENV="${RECBOLE_VENV:-.cache/recbole-venv}"
REQ="bench/recbole_peer/requirements.txt"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
extra=()
if [ -n "${TORCH_INDEX_URL:-}" ]; then
    extra+=(--extra-index-url "$TORCH_INDEX_URL")
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "${extra[@]}" -r "$REQ"
# Fail here, not an hour into training, when the stack does not import.
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
import recbole.config, recbole.data, recbole.trainer  # noqa: F401
from recbole.model.sequential_recommender import SASRec  # noqa: F401
import torch
print("recbole", md.version("recbole"), "| torch", torch.__version__, "| numpy", md.version("numpy"))
PY
touch "$VENV/.installed"
