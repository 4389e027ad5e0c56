#!/bin/bash
# One FedBKD round: the authors' own code (FedBKD/FedBKD) against FedKit's `fedbkd` preset on the
# same setting (docs/benchmarks.md, "FedBKD round against the authors' code"; issue 13).
#
#   bench/fedbkd_authors/run.sh setup             # their code into /tmp/fedbkd-authors (from the mirror)
#   bench/fedbkd_authors/run.sh authors TAG       # their main_fedbkd.py, ROUNDS rounds -> $OUT/authors-TAG.*
#   bench/fedbkd_authors/run.sh fedkit TAG W      # FedKit's fedbkd, 1 round, W workers -> $OUT/fedkit-wW-TAG.*
#   bench/fedbkd_authors/run.sh alternate         # REPS (2) x: fedkit r<k> 1, fedkit r<k> 2, authors r<k>
#   bench/fedbkd_authors/run.sh table             # the table of everything in $OUT
#
# Setting: CIFAR-10 (binary files, $CIFAR), 100 clients with 2 shards each, 10 % sampled per
# round, the hyperparameters of the authors' scripts/FedBKD_cifar10_2shards.sh (local_ep 11,
# local_rep_ep 1, local_bs 10, lr 0.01, server_glo_eps 4, server_rep_eps 1, gen_eps 6,
# gen_train_nums 1000, tem 10), seed 1. Two changes to their command line, both for this
# benchmark: --gpu stays 0 (their code has no CPU path for the aggregation; run_authors.py maps
# CUDA to the CPU) and --test_freq 1 instead of 50, so that round 0 is evaluated (with 50, the
# first evaluation is after round 49). --epochs stays 100 (see run_authors.py: stopping).
#
# setup: writes the files of the mirror's HEAD (/work/.mirror/FedBKD+FedBKD/repo, read-only),
# blob by blob, into $AUTHORS (as bench/pfllib/compare.sh setup does for PFLlib); the commit goes
# to $AUTHORS/COMMIT. Nothing is fetched, and nothing of ours is written into that folder.
# Python: Debian's /usr/bin/python3 with python3-torch 1.13, python3-torchvision, python3-numpy,
# python3-pil (pandas is optional, see run_authors.py).
#
# Every run is niced ($NICE, default 5) and timed by GNU time (processor time of the whole
# process: "cpu: user U s, system S s, wall W s, maxrss K KiB").
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MIRROR=${MIRROR:-/work/.mirror/FedBKD+FedBKD/repo}
AUTHORS=${AUTHORS:-/tmp/fedbkd-authors}
PY=${PY:-/usr/bin/python3}
CIFAR=${CIFAR:-$ROOT/data/cifar-10-batches-bin}
EXP=${EXP:-$ROOT/.build/release/exp}
OUT=${OUT:-/tmp/fedbkd-bench}
NICE=${NICE:-5}
ROUNDS=${ROUNDS:-1}
THREADS=${THREADS:-1}
CPU_FORMAT='cpu: user %U s, system %S s, wall %e s, maxrss %M KiB'

case "${1:-}" in
setup)
    rm -rf "$AUTHORS"; mkdir -p "$AUTHORS"
    git -C "$MIRROR" ls-tree -r HEAD | while read -r _ type sha path; do
        [ "$type" = blob ] || continue
        mkdir -p "$AUTHORS/$(dirname "$path")"
        git -C "$MIRROR" cat-file blob "$sha" > "$AUTHORS/$path"
    done
    git -C "$MIRROR" rev-parse HEAD > "$AUTHORS/COMMIT"
    echo "authors' code $(cat "$AUTHORS/COMMIT") in $AUTHORS"
    ;;
authors)
    tag=$2; mkdir -p "$OUT"; work="$OUT/authors-$tag.work"; rm -rf "$work"; mkdir -p "$work"
    rm -f "$OUT/authors-$tag.jsonl"
    (cd "$work" && PYTHONUNBUFFERED=1 OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS \
        /usr/bin/time -f "$CPU_FORMAT" -o "$OUT/authors-$tag.cpu" nice -n "$NICE" "$PY" \
        "$ROOT/bench/fedbkd_authors/run_authors.py" --authors "$AUTHORS" --cifar-bin "$CIFAR" \
        --rounds "$ROUNDS" --threads "$THREADS" --timings "$OUT/authors-$tag.jsonl" -- \
        --dataset cifar10 --model cnn --num_classes 10 --epochs 100 --alg fedbkd --lr 0.01 \
        --num_users 100 --gpu 0 --shard_per_user 2 --test_freq 1 --local_ep 11 --frac 0.1 \
        --local_rep_ep 1 --local_bs 10 --server_glo_eps 4 --server_rep_eps 1 --gen_eps 6 \
        --gen_train_nums 1000 --tem 10 --seed 1 ${AUTHORS_SET:-}) > "$OUT/authors-$tag.log" 2>&1
    cat "$OUT/authors-$tag.cpu"
    ;;
fedkit)
    # FEDKIT_SET: extra `--set KEY=VALUE` overrides, space-separated (e.g. dataset.augment=true).
    tag=$2; workers=$3; mkdir -p "$OUT"; dir="$OUT/fedkit-w$workers-$tag"; rm -rf "$dir"
    extra=(); for s in ${FEDKIT_SET:-}; do extra+=(--set "$s"); done
    OMP_NUM_THREADS=1 /usr/bin/time -f "$CPU_FORMAT" -o "$dir.cpu" nice -n "$NICE" "$EXP" run \
        "$ROOT/experiments/results/cifar10-shards2.yaml" --only fedbkd --seeds 1 \
        --set federation.rounds="$ROUNDS" --set eval.validation_fraction=0 \
        --set federation.workers="$workers" \
        --set dataset.root="$CIFAR" "${extra[@]}" --out "$dir" > "$dir.log" 2>&1
    cat "$dir.cpu"
    ;;
alternate)
    # REPS repetitions of: FedKit 1 worker, FedKit 2 workers, the authors' code (one after the other).
    for rep in $(seq 1 "${REPS:-2}"); do
        "$0" fedkit "r$rep" 1; "$0" fedkit "r$rep" 2; "$0" authors "r$rep"
    done
    ;;
table)
    "$PY" "$ROOT/bench/fedbkd_authors/table.py" "$OUT"
    ;;
*)
    sed -n '2,8p' "$0"; exit 2 ;;
esac
