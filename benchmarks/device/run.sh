#!/usr/bin/env bash
# Runs on a GPU machine lent by the `device` tool (see benchmarks/device/bundle.py, which packs
# what this needs and prints the two calls):
#   bash benchmarks/device/run.sh stage                  # call 1: keep .device/part1 (first piece of the encoder)
#   bash benchmarks/device/run.sh blurb SECONDS WORKERS  # call 2: install, rebuild, run the BLURB sweep
# BLURB_ARGS passes more arguments to every worker, e.g. BLURB_ARGS="--stage main --stage heads".
# The sweep is benchmarks.blurb unchanged: WORKERS processes (2 cores each, pinned) share the GPU
# and take the next unclaimed run, resuming from the runs the tree already holds. Every 20 s the
# finished runs are written to $OUT/blurb_runs.tar.gz, so a call stopped at its limit still brings
# back every run that finished; the workers are stopped SECONDS after the start.
set -euo pipefail
cd "$(dirname "$0")/../.."
STASH=/tmp/biomedserve-device
OUT="${OUT:-/tmp/biomedserve-device/out}"
mkdir -p "$STASH" "$OUT"

case "${1:-}" in
stage)
  cp .device/part1/encoder.part1 "$STASH/"
  ls -l "$STASH"
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  ;;
blurb)
  seconds="${2:-480}"
  workers="${3:-8}"
  part1="$STASH/encoder.part1"
  [ -f "$part1" ] || part1=.device/part1/encoder.part1  # a local rehearsal, or the tree kept it
  cat "$part1" .device/part2/encoder.part2 > "$STASH/encoder.tar"
  python3 - "$STASH/encoder.tar" .device/part2/manifest.json <<'PY'
import hashlib, json, sys
digest = hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()
expected = json.load(open(sys.argv[2]))["encoder.tar"]
sys.exit(0 if digest == expected else f"encoder checksum mismatch: {digest} != {expected}")
PY
  site="$STASH/site"
  if [ -z "${DEVICE_RUN_SKIP_WHEELS:-}" ]; then  # a rehearsal on another Python keeps its own packages
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .device/part2/whl/*.whl
  fi
  mkdir -p "$site" data
  tar xf "$STASH/encoder.tar" -C "$site"
  [ -d data/blurb ] || tar xJf .device/part2/blurb.tar.xz -C data
  export PYTHONPATH="$site:$PWD" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
  python3 -c "import torch, transformers, biomedserve.modeling.encoders as e; print('torch', torch.__version__, 'transformers', transformers.__version__, 'gpu', torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, 'encoder', e.default_encoder_path())"
  nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null || true
  results=benchmarks/results
  runs="$results/blurb_runs"
  marker="$STASH/started"
  touch "$marker"
  sleep 1
  cores=$(nproc)
  # ONNX Runtime is CPU-only in the device image: dev and test are scored by the same weights in
  # PyTorch on the GPU there (checked against the graph at export), else through the graph
  score_backend=$(python3 -c "import torch; print('torch' if torch.cuda.is_available() else 'onnx')")
  pids=()
  for i in $(seq 0 $((workers - 1))); do
    first=$(( (2 * i) % cores ))
    pin=(); command -v taskset >/dev/null && pin=(taskset -c "$first,$(( (first + 1) % cores ))")
    "${pin[@]}" python3 -m benchmarks.blurb --threads 2 --score-backend "$score_backend" \
      --max-hours "$(python3 -c "print(max($seconds - 120, 60) / 3600)")" ${BLURB_ARGS:-} > "$STASH/worker$i.log" 2>&1 &
    pids+=($!)
    sleep 2  # staggered: each claims a different first run
  done
  snapshot() {
    (cd "$runs" && find . -name '*.json' -not -path '*/.work/*' -newer "$marker" -print0 | tar czf "$OUT/.blurb_runs.tar.gz" --null -T -)
    mv "$OUT/.blurb_runs.tar.gz" "$OUT/blurb_runs.tar.gz"
    for i in "${!pids[@]}"; do tail -c 20000 "$STASH/worker$i.log" > "$STASH/tail$i.log"; done
    tar czf "$OUT/worker_logs.tar.gz" -C "$STASH" $(cd "$STASH" && ls tail*.log)
  }
  while [ "$SECONDS" -lt "$seconds" ]; do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 1 ] || break
    sleep 20
    snapshot
    echo "[$SECONDS s] finished runs: $(find "$runs" -name '*.json' -not -path '*/.work/*' -newer "$marker" | wc -l)"
  done
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait || true
  snapshot
  grep -h -E '^\[|test ' "$STASH"/worker*.log | tail -n 60
  echo "finished runs: $(find "$runs" -name '*.json' -not -path '*/.work/*' -newer "$marker" | wc -l)"
  ;;
*)
  echo "usage: $0 stage | blurb [SECONDS] [WORKERS]" >&2
  exit 2
  ;;
esac
