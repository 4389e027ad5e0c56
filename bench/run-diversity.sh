#!/usr/bin/env bash
# The generator diversity loss (FedBKD's and FedGen's L_div) forward + backward: FedKit's pairwise
# L1 kernels (fedkit-bench diversity) against torch.cdist (bench/python/diversity_reference.py),
# same shapes and thread count, run alternately so that machine noise hits both; prints one JSON
# line per run and the median ms/step per implementation and shape (docs/benchmarks.md).
#
#   bash bench/run-diversity.sh                   # 200 samples of 784 (Fashion-MNIST) and 3072 (CIFAR) values
#   REPS=5 DIMS="3072" SAMPLES=500 bash bench/run-diversity.sh
#
# Environment: REPS (3), SAMPLES (200: 2 classes x 100 fixed inputs, one FedBKD teacher's batch),
# DIMS ("784 3072"), STEPS (20), THREADS (1: the server steps' thread count), PYTHON
# (/usr/bin/python3), FEDKIT_BENCH (a prebuilt fedkit-bench binary: skips the build).
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}; SAMPLES=${SAMPLES:-200}; DIMS=${DIMS:-"784 3072"}; STEPS=${STEPS:-20}; THREADS=${THREADS:-1}
PYTHON=${PYTHON:-/usr/bin/python3}
if [[ -z "${FEDKIT_BENCH:-}" ]]; then
    swift build -c release --product fedkit-bench >/dev/null
    FEDKIT_BENCH="$(swift build -c release --show-bin-path)/fedkit-bench"
fi
results=$(mktemp); trap 'rm -f "$results"' EXIT
for _ in $(seq "$REPS"); do
    for d in $DIMS; do
        args=(--samples "$SAMPLES" --dims "$d" --steps "$STEPS" --threads "$THREADS")
        "$FEDKIT_BENCH" diversity "${args[@]}" | tee -a "$results"
        "$PYTHON" bench/python/diversity_reference.py "${args[@]}" | tee -a "$results"
    done
done
"$PYTHON" - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for d in sorted({r["dims"] for r in rows}):
    med = {i: statistics.median(r["ms_per_step"] for r in rows if r["dims"] == d and r["impl"] == i) for i in ("fedkit", "pytorch")}
    print(f"dims {d}: fedkit {med['fedkit']:.2f} ms/step, pytorch {med['pytorch']:.2f} ms/step, ratio {med['pytorch'] / med['fedkit']:.2f}x")
PY
