#!/usr/bin/env bash
# FedAvg round benchmark: FedKit's engine (fedkit-bench fedavg: 2 workers x 1 torch thread) against
# a PyTorch reference written the way FL research code usually is (bench/python/fedavg_reference.py:
# clients one after another, a DataLoader and a deepcopy per client, torch.set_num_threads(2)).
# Same data (Fashion-MNIST from Debian's dataset-fashion-mnist), same partition (Dirichlet 0.1 over
# 20 clients, written by fedkit-bench and read by the reference), same model (cnn-fmnist), 1 local
# epoch, batch 10, lr 0.01, momentum 0.5, every client every round, and the same evaluation every
# round (global model on the test set + every client's model on its own test split).
# The two run alternately so that machine noise hits both; each run reports the wall time of every
# round (training + aggregation + evaluation) and its peak resident memory (getrusage).
#
#   bash bench/run-fedavg.sh                  # 3 rounds per run, 2 repetitions of each
#   ROUNDS=2 REPS=1 bash bench/run-fedavg.sh
#
# Environment: ROUNDS (3), REPS (2), CLIENTS (20), ALPHA (0.1), SEED (1), PYTHON (/usr/bin/python3),
# PY_THREADS (2), WORKERS (2), THREADS_PER_WORKER (1), SCRATCH (swift build --scratch-path, default
# .build), FEDKIT_BENCH (a prebuilt fedkit-bench: skips the build), OUT (keep the JSON lines in this file),
# OMP_WAIT_POLICY (PASSIVE).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
REPS=${REPS:-2}
CLIENTS=${CLIENTS:-20}
ALPHA=${ALPHA:-0.1}
SEED=${SEED:-1}
PYTHON=${PYTHON:-/usr/bin/python3}
PY_THREADS=${PY_THREADS:-2}
WORKERS=${WORKERS:-2}
THREADS_PER_WORKER=${THREADS_PER_WORKER:-1}

# libgomp's default active waiting makes idle OpenMP threads spin; on a 2-core machine that also
# runs anything else this slows a 2-thread PyTorch process several-fold (docs/benchmarks.md, "CNN
# training step"). `exp run` sets PASSIVE for itself; both programs get it here so that the
# comparison does not reward FedKit for the reference's spinning. OMP_WAIT_POLICY=ACTIVE to compare as shipped.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

if [[ -z "${FEDKIT_BENCH:-}" ]]; then
    scratch=()
    [[ -n "${SCRATCH:-}" ]] && scratch=(--scratch-path "$SCRATCH")
    swift build -c release --product fedkit-bench "${scratch[@]}" >&2
    FEDKIT_BENCH="$(swift build -c release "${scratch[@]}" --show-bin-path)/fedkit-bench"
fi
"$PYTHON" -c "import torch, numpy" || { echo "run-fedavg.sh: $PYTHON cannot import torch and numpy" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=${OUT:-$work/results.jsonl}
: > "$results"
partition="$work/partition.json"

common=(--clients "$CLIENTS" --alpha "$ALPHA" --seed "$SEED")
"$FEDKIT_BENCH" fedavg "${common[@]}" --partition-out "$partition" --partition-only 1
fedkit=("$FEDKIT_BENCH" fedavg "${common[@]}" --rounds "$ROUNDS" --batch 10 --lr 0.01 --momentum 0.5 --epochs 1
        --workers "$WORKERS" --threads "$THREADS_PER_WORKER")
pytorch=("$PYTHON" bench/python/fedavg_reference.py --partition "$partition" --rounds "$ROUNDS" --batch 10 --lr 0.01
         --momentum 0.5 --epochs 1 --threads "$PY_THREADS" --seed "$SEED")

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(free -g | awk '/Mem:/ {print $2}') GiB" >&2
echo "torch (python): $("$PYTHON" -c 'import torch; print(torch.__version__)'), OMP_WAIT_POLICY=$OMP_WAIT_POLICY" >&2
for ((rep = 1; rep <= REPS; rep++)); do
    # Alternate which one goes first.
    if (( rep % 2 == 1 )); then order=(fedkit pytorch); else order=(pytorch fedkit); fi
    for impl in "${order[@]}"; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        if [[ $impl == fedkit ]]; then line=$("${fedkit[@]}"); else line=$("${pytorch[@]}"); fi
        line="${line%\}}, \"load_before\": $load, \"load_after\": $(cut -d' ' -f1 /proc/loadavg)}"
        echo "$line" | tee -a "$results" >&2
    done
done

"$PYTHON" - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {impl: [r for r in rows if r["impl"] == impl] for impl in ("fedkit", "pytorch")}
print()
print(f"{'':8} {'runs':>4} {'s/round: median run':>20} {'median round':>13} {'fastest round':>14} {'all rounds':>38} {'peak RSS MiB':>12} {'global acc':>10}")
stats = {}
for impl, rs in by.items():
    means = [r["mean_round_s"] for r in rs]
    rounds = [s for r in rs for s in r["round_seconds"]]
    stats[impl] = (statistics.median(means), statistics.median(rounds), min(rounds))
    print(f"{impl:8} {len(rs):>4} {stats[impl][0]:>20.2f} {stats[impl][1]:>13.2f} {stats[impl][2]:>14.2f} "
          f"{' '.join(f'{s:.1f}' for s in rounds):>38} {max(r['max_rss_mib'] for r in rs):>12.0f} "
          f"{statistics.mean(r['global_accuracy'] for r in rs):>10.4f}")
loads = [r[k] for r in rows for k in ("load_before", "load_after")]
f, p = stats["fedkit"], stats["pytorch"]
print(f"\nPyTorch / FedKit time per round: {p[0] / f[0]:.2f}x by the median run, {p[1] / f[1]:.2f}x by the median round, "
      f"{p[2] / f[2]:.2f}x by the fastest round")
print(f"peak memory: FedKit {max(r['max_rss_mib'] for r in by['fedkit']):.0f} MiB, PyTorch {max(r['max_rss_mib'] for r in by['pytorch']):.0f} MiB; "
      f"load average around the runs {min(loads):.2f}-{max(loads):.2f} (the benchmark itself counts: about 2)")
PY
