#!/usr/bin/env bash
# Batched clients (issue 13): FedAvg rounds with federation.batched_clients off and auto,
# alternating, on bench/batched-clients.yaml (Fashion-MNIST, Dirichlet 0.1, 20 clients all joining,
# cnn-fmnist, 1 local epoch, batch 10, lr 0.005, 2 workers x 1 thread). Prints, per run, each
# round's local-training, evaluation and total seconds (timings.jsonl), the training images/s and
# the final global accuracy, and the whole process's CPU seconds (user + system, loading included).
#
#   bash bench/run-batched.sh            # REPS=2 runs of each, 3 rounds per run
# Environment: REPS (2), ROUNDS (3), EXP (a prebuilt exp: skips the release build), OUT (runs/bench-batched).
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-2}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-runs/bench-batched}
mkdir -p "$OUT"
if [[ -z "${EXP:-}" ]]; then
    swift build -c release --product exp >&2
    EXP="$(swift build -c release --show-bin-path)/exp"
fi
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start, $(date -u +%FT%TZ)"
for rep in $(seq 1 "$REPS"); do
    for mode in off auto; do
        dir="$OUT/$mode-$rep"
        rm -rf "$dir"
        /usr/bin/time -f "%U %S" -o "$OUT/$mode-$rep.cpu" "$EXP" run bench/batched-clients.yaml --set "output=$dir" --set "federation.rounds=$ROUNDS" \
            --set "federation.batched_clients=$mode" > /dev/null
        run="$dir/batched-clients/fedavg/seed-1"
        python3 - "$run" "$mode" "$OUT/$mode-$rep.cpu" <<'PY'
import json, sys
run, mode, cpu = sys.argv[1], sys.argv[2], sys.argv[3]
user, system = map(float, open(cpu).read().split()[-2:])
timings = [json.loads(l) for l in open(f"{run}/timings.jsonl")]
rounds = [json.loads(l) for l in open(f"{run}/rounds.jsonl")]
rows = open(f"{run}/clients.csv").read().split("\n")[1:]
images = sum(int(r.split(",")[1]) for r in rows if r)  # 1 local epoch, every client every round
local = " ".join(f"{t['local_s']:.2f}" for t in timings)
evals = " ".join(f"{t['eval_s']:.2f}" for t in timings)
total = " ".join(f"{t['total_s']:.2f}" for t in timings)
rate = " ".join(f"{images / t['local_s']:.0f}" for t in timings)
print(f"batched_clients={mode}: local s/round {local} | train images/s {rate} | eval s {evals} | total s {total}"
      f" | global accuracy {rounds[-1]['global_accuracy']:.4f} | process CPU s {user + system:.1f}")
PY
    done
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at end, $(date -u +%FT%TZ)"
