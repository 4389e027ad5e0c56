#!/usr/bin/env bash
# CNN training-step benchmark: FedKit (fedkit-bench cnn) against PyTorch (bench/python/cnn_reference.py),
# same network, data, optimiser and thread count, run alternately so that machine noise hits both.
#
#   bash bench/run-cnn.sh                      # 3 rounds, batch 10 and 64, 2 threads
#   ROUNDS=5 THREADS=1 BATCH_SIZES="10" bash bench/run-cnn.sh
#
# Environment: ROUNDS (3), THREADS (2), BATCH_SIZES ("10 64"), STEPS_PER_BATCH ("10:200 64:40"),
# WARMUP (20), PYTHON (/usr/bin/python3), SCRATCH (swift build --scratch-path, default .build),
# FEDKIT_BENCH (a prebuilt fedkit-bench binary: skips the build).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
BATCH_SIZES=${BATCH_SIZES:-"10 64"}
STEPS_PER_BATCH=${STEPS_PER_BATCH:-"10:200 64:40"}
WARMUP=${WARMUP:-20}
PYTHON=${PYTHON:-/usr/bin/python3}

if [[ -z "${FEDKIT_BENCH:-}" ]]; then
    scratch=()
    [[ -n "${SCRATCH:-}" ]] && scratch=(--scratch-path "$SCRATCH")
    swift build -c release --product fedkit-bench "${scratch[@]}" >&2
    FEDKIT_BENCH="$(swift build -c release "${scratch[@]}" --show-bin-path)/fedkit-bench"
fi
"$PYTHON" -c "import torch" || { echo "run-cnn.sh: $PYTHON cannot import torch" >&2; exit 1; }

steps_for() {
    local b=$1 pair
    for pair in $STEPS_PER_BATCH; do [[ ${pair%%:*} == "$b" ]] && { echo "${pair##*:}"; return; }; done
    echo $(( 2000 / b > 10 ? 2000 / b : 10 ))
}

results=$(mktemp)
trap 'rm -f "$results"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" >&2
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for batch in $BATCH_SIZES; do
    steps=$(steps_for "$batch")
    for ((round = 1; round <= ROUNDS; round++)); do
        fedkit=("$FEDKIT_BENCH" cnn --batch "$batch" --steps "$steps" --warmup "$WARMUP" --threads "$THREADS")
        pytorch=("$PYTHON" bench/python/cnn_reference.py --batch "$batch" --steps "$steps" --warmup "$WARMUP" --threads "$THREADS")
        # Alternate which one goes first.
        if (( round % 2 == 1 )); then order=(fedkit pytorch); else order=(pytorch fedkit); fi
        for impl in "${order[@]}"; do
            if [[ $impl == fedkit ]]; then line=$("${fedkit[@]}"); else line=$("${pytorch[@]}"); fi
            echo "$line" | tee -a "$results" >&2
        done
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$PYTHON" - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print()
print(f"{'batch':>5} {'threads':>7} {'runs':>4} {'FedKit img/s (median, min-max)':>32} {'PyTorch img/s (median, min-max)':>33} {'FedKit/PyTorch':>14}")
for batch in sorted({r["batch"] for r in rows}):
    by = {impl: [r["images_per_s"] for r in rows if r["batch"] == batch and r["impl"] == impl] for impl in ("fedkit", "pytorch")}
    f, p = by["fedkit"], by["pytorch"]
    fm, pm = statistics.median(f), statistics.median(p)
    threads = rows[0]["threads"]
    fs = f"{fm:9.1f} ({min(f):.1f}-{max(f):.1f})"
    ps = f"{pm:9.1f} ({min(p):.1f}-{max(p):.1f})"
    print(f"{batch:>5} {threads:>7} {len(f):>4} {fs:>32} {ps:>33} {fm / pm:>14.3f}")
PY
