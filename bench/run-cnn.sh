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
    build_log=$(mktemp)
    echo "building fedkit-bench (release)..." >&2
    swift build -c release --product fedkit-bench "${scratch[@]}" >"$build_log" 2>&1 \
        || { cat "$build_log" >&2; rm -f "$build_log"; exit 1; }
    rm -f "$build_log"
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
# On a shared machine, the best run is the least disturbed one: the ratio of bests is the headline.
# Medians, the median of per-round ratios (each pair ran back to back) and throughput per CPU-second
# are shown as checks.
print()
print("images/s, FedKit vs PyTorch (same network, data, optimiser and threads; runs alternated)")
print(f"{'batch':>5} {'threads':>7} {'runs':>4} | {'FedKit best':>11} {'median':>8} | {'PyTorch best':>12} {'median':>8} |"
      f" {'ratio best':>10} {'median':>7} {'paired':>7} {'per-CPU-s':>9}")
for batch in sorted({r["batch"] for r in rows}):
    runs = {impl: [r for r in rows if r["batch"] == batch and r["impl"] == impl] for impl in ("fedkit", "pytorch")}
    f = [r["images_per_s"] for r in runs["fedkit"]]
    p = [r["images_per_s"] for r in runs["pytorch"]]
    paired = statistics.median(a / b for a, b in zip(f, p))
    cpu = statistics.median(r["cpu_seconds"] for r in runs["pytorch"]) / statistics.median(r["cpu_seconds"] for r in runs["fedkit"])
    threads = runs["fedkit"][0]["threads"]
    print(f"{batch:>5} {threads:>7} {len(f):>4} | {max(f):>11.1f} {statistics.median(f):>8.1f} | {max(p):>12.1f} "
          f"{statistics.median(p):>8.1f} | {max(f) / max(p):>10.3f} {statistics.median(f) / statistics.median(p):>7.3f} "
          f"{paired:>7.3f} {cpu:>9.3f}")
PY
