#!/usr/bin/env bash
# One FL round, three implementations side by side on the same samples (docs/benchmarks.md,
# "Rounds against PyTorch and PFLlib", issue 13):
#   fedkit   fedkit-bench fedavg --method M: FedKit's engine (SimulationRun, as `exp run`), 2 workers x 1 thread,
#            federation.batched_clients: auto (clients trained as stacks where the trainer allows it)
#   fedkit-off  the same with batched_clients: off (every client trained alone), when asked for in IMPLS
#   fedkit-before  fedkit-off with another build, $FEDKIT_BENCH_BEFORE (a change measured side by side)
#   pytorch  bench/python/fedavg_reference.py: FedAvg as FL research code is usually written (FedAvg only)
#   pfllib   PFLlib's own main.py (bench/pfllib/run_pfllib.py: its FedAvgCNN swapped for cnn-fmnist)
# Setting (issue 13): Fashion-MNIST (Debian's files), Dirichlet(ALPHA) over CLIENTS clients, every
# client every round, 1 local epoch, batch 10, lr 0.005, plain SGD (no momentum, no weight decay),
# cnn-fmnist, every round evaluated. fedkit-bench writes the partition (each client's training
# indices and its matched test split, FedKit's local_test: matched; no validation split, so every
# training sample is trained on, as in the other two); bench/pfllib/partition_to_pfllib.py writes
# the same samples as a PFLlib data folder under $PFL/dataset/. The programs run alternately (the
# order rotates every repetition) so that machine noise hits all of them; every one prints a JSON
# line with the wall time of every round, of its training and of its evaluation, the model's
# forward MACs per sample and its peak resident memory.
#
#   bash bench/run-rounds.sh                                  # FedAvg, 20 clients, 3 rounds, 2 repetitions
#   METHOD=fedrep bash bench/run-rounds.sh                    # FedRep: fedkit and pfllib (1 head epoch + 1 body epoch)
#   METHOD=fedbkd IMPLS=fedkit bash bench/run-rounds.sh       # FedBKD (FedKit only: server steps included)
#   CLIENTS=1000 ROUNDS=2 REPS=1 bash bench/run-rounds.sh
#   METHOD=fedbkd IMPLS=fedkit-off CLIENTS=1000 PER_ROUND=10 bash bench/run-rounds.sh   # 10 of 1,000 clients per round (FedKit only)
#
# Environment: METHOD (fedavg | fedrep | fedbkd), IMPLS (default: the ones that have METHOD),
# CLIENTS (20), PER_ROUND (clients sampled per round, default CLIENTS; below CLIENTS only for FedKit), ROUNDS (3), REPS (2), ALPHA (0.1), SEED (1), LR (0.005), EVAL_BATCH (250, FedKit and the reference),
# WORKERS (2), THREADS_PER_WORKER (1), PYTHON (/usr/bin/python3, for the reference), PFL
# (/tmp/pfllib: PFLlib's copy, made by `bench/pfllib/compare.sh setup`), PFL_PYTHON
# (/tmp/pfllib-venv/bin/python), FEDKIT_BENCH (a prebuilt fedkit-bench: skips the build), OUT
# (keep the JSON lines in this file), FEDKIT_BENCH_BEFORE (for fedkit-before), OMP_WAIT_POLICY (PASSIVE, for all three; see run-fedavg.sh).
# PY_THREADS (2): the reference's torch.set_num_threads, as in run-fedavg.sh; PFLlib runs with its
# own default (it sets no thread count; torch.get_num_threads() is 1 in this environment), reported
# in its line as threads_per_worker.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

METHOD=${METHOD:-fedavg}
CLIENTS=${CLIENTS:-20}
PER_ROUND=${PER_ROUND:-$CLIENTS}
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-2}
ALPHA=${ALPHA:-0.1}
SEED=${SEED:-1}
LR=${LR:-0.005}
EVAL_BATCH=${EVAL_BATCH:-250}
WORKERS=${WORKERS:-2}
THREADS_PER_WORKER=${THREADS_PER_WORKER:-1}
PYTHON=${PYTHON:-/usr/bin/python3}
PY_THREADS=${PY_THREADS:-2}
PFL=${PFL:-/tmp/pfllib}
PFL_PYTHON=${PFL_PYTHON:-/tmp/pfllib-venv/bin/python}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

case $METHOD in
    fedavg) fedkit_method=fedavg; pfllib_algo=FedAvg; pfllib_extra=(); default_impls="fedkit pytorch pfllib" ;;
    fedrep) fedkit_method='{ name: fedrep, trainer: { head_epochs: 1 } }'; pfllib_algo=FedRep; pfllib_extra=(-pls 1)
            default_impls="fedkit pfllib" ;;
    fedbkd) fedkit_method=fedbkd; pfllib_algo=; pfllib_extra=(); default_impls="fedkit" ;;
    *) echo "run-rounds.sh: METHOD must be fedavg, fedrep or fedbkd, got '$METHOD'" >&2; exit 2 ;;
esac
read -r -a impls <<< "${IMPLS:-$default_impls}"
[[ $PER_ROUND =~ ^[0-9]+$ ]] && (( PER_ROUND >= 1 && PER_ROUND <= CLIENTS )) \
    || { echo "run-rounds.sh: PER_ROUND must be between 1 and CLIENTS ($CLIENTS), got '$PER_ROUND'" >&2; exit 2; }
for impl in "${impls[@]}"; do
    case $impl in
        fedkit | fedkit-off) ;;
        fedkit-before) [[ -x "${FEDKIT_BENCH_BEFORE:-}" ]] || { echo "run-rounds.sh: fedkit-before needs FEDKIT_BENCH_BEFORE, a fedkit-bench binary" >&2; exit 2; } ;;
        pytorch | pfllib) (( PER_ROUND == CLIENTS )) || { echo "run-rounds.sh: PER_ROUND below CLIENTS is for FedKit only ($impl trains every client every round here)" >&2; exit 2; } ;;&
        pytorch) [[ $METHOD == fedavg ]] || { echo "run-rounds.sh: the PyTorch reference runs FedAvg only" >&2; exit 2; }
                 "$PYTHON" -c "import torch, numpy" || { echo "run-rounds.sh: $PYTHON cannot import torch and numpy" >&2; exit 1; } ;;
        pfllib)  [[ -n $pfllib_algo ]] || { echo "run-rounds.sh: PFLlib has no $METHOD" >&2; exit 2; }
                 # PFLlib's train() divides by the number of rounds after its first.
                 (( ROUNDS >= 2 )) || { echo "run-rounds.sh: PFLlib needs ROUNDS >= 2" >&2; exit 2; }
                 [[ -f $PFL/system/main.py ]] || { echo "run-rounds.sh: no PFLlib copy at $PFL (run: bash bench/pfllib/compare.sh setup)" >&2; exit 1; } ;;
        *) echo "run-rounds.sh: unknown implementation '$impl' (fedkit, fedkit-off, pytorch, pfllib)" >&2; exit 2 ;;
    esac
done

if [[ -z "${FEDKIT_BENCH:-}" ]]; then
    swift build -c release --product fedkit-bench >&2
    FEDKIT_BENCH="$(swift build -c release --show-bin-path)/fedkit-bench"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=${OUT:-$work/results.jsonl}
: > "$results"
partition="$work/partition.json"
common=(--clients "$CLIENTS" --alpha "$ALPHA" --seed "$SEED" --validation 0)
"$FEDKIT_BENCH" fedavg "${common[@]}" --partition-out "$partition" --partition-only 1
fedkit=("$FEDKIT_BENCH" fedavg "${common[@]}" --clients-per-round "$PER_ROUND" --method "$fedkit_method" --rounds "$ROUNDS" --batch 10 --lr "$LR"
        --momentum 0 --epochs 1 --eval-batch "$EVAL_BATCH" --workers "$WORKERS" --threads "$THREADS_PER_WORKER")
pytorch=("$PYTHON" bench/python/fedavg_reference.py --partition "$partition" --rounds "$ROUNDS" --batch 10 --lr "$LR"
         --momentum 0 --epochs 1 --eval-batch "$EVAL_BATCH" --threads "$PY_THREADS"
         --seed "$SEED")
if [[ " ${impls[*]} " == *" pfllib "* ]]; then
    data_name="FMNIST-fedkit-$CLIENTS-$SEED-$$"
    "$PYTHON" bench/pfllib/partition_to_pfllib.py "$partition" "$PFL/dataset/$data_name"
    trap 'rm -rf "$work" "$PFL/dataset/$data_name"' EXIT
fi
run_pfllib() {
    # -gr R-1: PFLlib trains rounds 0..R-1; -eg 1 evaluates (at the start of) every one of them.
    (cd "$PFL/system" && FEDKIT_SEED=$SEED FEDKIT_BENCH_OUT="$1" "$PFL_PYTHON" "$ROOT/bench/pfllib/run_pfllib.py" \
        -data "$data_name" -m CNN -algo "$pfllib_algo" -gr $((ROUNDS - 1)) -eg 1 -lbs 10 -lr "$LR" -ls 1 \
        -nc "$CLIENTS" -jr 1 -dev cpu -go bench "${pfllib_extra[@]}") > "$work/pfllib.log" 2>&1 \
        || { tail -20 "$work/pfllib.log" >&2; return 1; }
    cat "$1"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(free -g | awk '/Mem:/ {print $2}') GiB" >&2
echo "method $METHOD, $CLIENTS clients ($PER_ROUND per round), $ROUNDS rounds x $REPS repetitions, implementations: ${impls[*]}; OMP_WAIT_POLICY=$OMP_WAIT_POLICY" >&2
n=${#impls[@]}
for ((rep = 1; rep <= REPS; rep++)); do
    for ((i = 0; i < n; i++)); do
        impl=${impls[$(((i + rep - 1) % n))]}   # the order rotates every repetition
        load=$(cut -d' ' -f1 /proc/loadavg)
        case $impl in
            fedkit) line=$("${fedkit[@]}" --batched auto) ;;
            fedkit-off) line=$("${fedkit[@]}" --batched off); line=${line/\"impl\": \"fedkit\"/\"impl\": \"fedkit-off\"} ;;
            fedkit-before) line=$("$FEDKIT_BENCH_BEFORE" "${fedkit[@]:1}" --batched off)
                           line=${line/\"impl\": \"fedkit\"/\"impl\": \"fedkit-before\"} ;;
            pytorch) line=$("${pytorch[@]}") ;;
            pfllib) rm -f "$work/pfllib.json"; line=$(run_pfllib "$work/pfllib.json") ;;
        esac
        line="${line%\}}, \"load_before\": $load, \"load_after\": $(cut -d' ' -f1 /proc/loadavg)}"
        echo "$line" | tee -a "$results" >&2
    done
done

"$PYTHON" bench/round_table.py "$results"
