#!/bin/bash
# FedKit against PFLlib's own code on PFLlib's own split of Fashion-MNIST (docs/results.md, issue 14).
#
#   bench/pfllib/compare.sh setup           # PFLlib into /tmp/pfllib, its Fashion-MNIST split
#   bench/pfllib/compare.sh pfllib SEED ALGO...   # PFLlib's main.py (FedAvg FedProx Local FedPer FedRep Ditto;
#                                                 # issue 11: SCAFFOLD APFL PerAvg pFedMe FedBABU LG-FedAvg FedGen)
#   bench/pfllib/compare.sh fedkit SEED [method,...]  # FedKit on the same folder (per-fedavg, per-fedavg-hf: 2 local epochs, as PerAvg;
#                                                     # issue 11: scaffold apfl pfedme fedbabu lg-fedavg fedgen)
#
# Nothing is downloaded at run time. Prerequisites (once, by hand):
#   apt-get install python3-torch python3-torchvision python3-numpy python3-sklearn python3-ujson \
#                   python3-h5py python3-matplotlib
#   /usr/bin/python3 -m venv --system-site-packages /tmp/pfllib-venv
#   /tmp/pfllib-venv/bin/pip install calmsize 'cvxpy==1.3.*'   # imported by PFLlib's main.py; 1.3 keeps Debian's numpy 1.24
#
# setup: copies PFLlib (commit of the mirror /work/.mirror/TsingZ0+PFLlib/repo) into /tmp/pfllib.
# `git archive HEAD` of the whole mirror fails (some blobs of bundled raw data are absent), so
# only system/ and dataset/ files are written, blob by blob. PFLlib's generator
# (dataset/generate_FashionMNIST.py, run unchanged: `noniid - dir`, i.e. Dirichlet(0.1) over
# train+test pooled, 20 clients, 75 % train per client, numpy seed 1) gets its images from
# torchvision, which downloads them unless the raw IDX files are already in
# FashionMNIST/rawdata/FashionMNIST/raw/: setup puts Debian's Fashion-MNIST files there
# (/usr/share/datasets/fashion-mnist, gunzipped), so torchvision finds them and fetches nothing.
#
# pfllib: PFLlib's main.py through bench/pfllib/run_pfllib.py (which swaps PFLlib's FedAvgCNN
# for FedKit's cnn-fmnist and otherwise passes every argument through). Settings: batch 10,
# lr 0.005, 20 clients all joining every round, 1 local epoch, plain SGD, CPU, 1 torch thread;
# FedProx mu 0.01; Ditto mu (lambda) 1 and 1 personal epoch; FedRep 1 head epoch (PFLlib's
# default plocal_epochs). -gr 10 -eg 10: PFLlib evaluates at the start of iterations 0 and 10,
# so the second evaluation is of the models after 10 rounds of training and aggregation (main.py
# then trains an 11th round it never evaluates; its time is not counted below). Logs go to
# $RUNS/$PFLLIB_DIR/<algo>/seed-<s>.log (PFLLIB_DIR: pfllib unless set).
#
# The PFLlib process ends right after its round-10 evaluation (run_pfllib.py, PFLLIB_FULL=0)
# instead of training that 11th round (Per-FedAvg excepted: its evaluation trains).
#
# fedkit: $EXP (.build/release/exp) on the same folder with bench/pfllib/fmnist-pfllib.yaml, one
# method per process, into $RUNS/$FEDKIT_DIR (default fedkit). Both modes end each log (PFLlib) or $RUNS/$FEDKIT_DIR-cpu/<method>-seed-<s>.txt
# (FedKit) with the run's processor time ("cpu: user U s, system S s, wall W s", GNU time).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MIRROR=${MIRROR:-/work/.mirror/TsingZ0+PFLlib/repo}
PFL=${PFL:-/tmp/pfllib}
PY=${PY:-/tmp/pfllib-venv/bin/python}
RUNS=${RUNS:-$ROOT/experiments/results/runs/pfllib-fmnist}
FMNIST=${FMNIST:-/usr/share/datasets/fashion-mnist}
# EXP: the FedKit binary (a copy outside .build keeps a queue safe from rebuilds mid-run);
# NICE: niceness of the runs (10 on a shared machine, 0 when the comparison has priority).
EXP=${EXP:-$ROOT/.build/release/exp}
NICE=${NICE:-10}
# FEDKIT_DIR: where `fedkit` writes under $RUNS (run folders in $FEDKIT_DIR/fmnist-pfllib/, processor
# times in $FEDKIT_DIR-cpu/); FEDKIT_SET: extra `--set KEY=VALUE` overrides, space-separated. The
# table's second FedKit column: FEDKIT_DIR=fedkit-keep-last FEDKIT_SET=federation.drop_last=false.
FEDKIT_DIR=${FEDKIT_DIR:-fedkit}
FEDKIT_SET=${FEDKIT_SET:-}
# PARTITION: PFLlib's split that `setup` generates: dir (default: Dirichlet(0.1)) or pat (its
# pathological split, 2 classes per client: the counterpart of issue 11's 2-shard setting). Keep
# each in its own copy: PFL=/tmp/pfllib-pat PARTITION=pat bench/pfllib/compare.sh setup, then the
# same PFL for `pfllib` and `fedkit` (FedKit reads $PFL/dataset/FashionMNIST).
PARTITION=${PARTITION:-dir}
case $PARTITION in dir|pat) ;; *) echo "compare.sh: PARTITION must be dir or pat, got '$PARTITION'" >&2; exit 2 ;; esac
# PFLLIB_DIR: where `pfllib` writes its logs under $RUNS (default pfllib); PFLLIB_SET: extra main.py
# arguments after the fixed ones (argparse keeps the last value of an option, so they override).
# Issue 11's hyperparameters on this split: PFLLIB_DIR=pfllib-issue11 PFLLIB_SET="-lr 0.01 -lbs 32 -jr 0.5"
# beside FEDKIT_DIR=fedkit-issue11 FEDKIT_SET="federation.lr=0.01 federation.batch_size=32 federation.fraction=0.5".
PFLLIB_DIR=${PFLLIB_DIR:-pfllib}
PFLLIB_SET=${PFLLIB_SET:-}
# Processor time of a whole run (start-up, data loading, training, evaluations), which the load
# of a shared machine changes far less than wall time: GNU time's line, read by table.py.
CPU_FORMAT='cpu: user %U s, system %S s, wall %e s'

case "${1:-}" in
setup)
    rm -rf "$PFL"; mkdir -p "$PFL"
    git -C "$MIRROR" ls-tree -r HEAD system dataset/utils dataset/generate_FashionMNIST.py |
    while read -r _ type sha path; do
        [ "$type" = blob ] || continue
        mkdir -p "$PFL/$(dirname "$path")"
        git -C "$MIRROR" cat-file blob "$sha" > "$PFL/$path" 2>/dev/null || rm -f "$PFL/$path"
    done
    git -C "$MIRROR" rev-parse HEAD > "$PFL/COMMIT"
    raw="$PFL/dataset/FashionMNIST/rawdata/FashionMNIST/raw"; mkdir -p "$raw"
    for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        gunzip -c "$FMNIST/$f.gz" > "$raw/$f"
    done
    (cd "$PFL/dataset" && nice -n 10 "$PY" generate_FashionMNIST.py noniid - "$PARTITION")
    ;;
pfllib)
    seed=$2; shift 2
    for algo in "$@"; do
        extra=()
        case $algo in
            FedProx) extra=(-mu 0.01) ;;
            Ditto)   extra=(-mu 1 -pls 1) ;;
            FedRep)  extra=(-pls 1) ;;
            # Issue 11's methods, matched to FedKit's presets (docs/results.md, "Not done"):
            SCAFFOLD) extra=(-slr 1) ;;                       # scaffold: server_lr 1 (uniform 1/|S| is PFLlib's too)
            APFL)     extra=(-al 0.75) ;;                     # apfl: alpha 0.75 (initial value, adaptive in both)
            pFedMe)   extra=(-lam 15 -K 5 -lrp 0.01 -bt 1) ;; # pfedme: lambda 15, inner_steps 5, personal_lr 0.01, server_lr 1 (PFLlib's -bt default 0 never updates the global model)
            FedBABU)  extra=(-fte 5) ;;                       # fedbabu: finetune_epochs 5, full (PFLlib fine-tunes base and head)
            # fedgen: generator noise_dim 512, hidden 512, steps 1000, lr 0.005 (main.py's defaults, written out;
            # -lf is not given: argparse's type=bool would read any value as True); fmnist-pfllib.yaml's comment.
            FedGen)   extra=(-nd 512 -hd 512 -se 1000 -glr 0.005) ;;
            # PerAvg: its beta is the local lr, hard-coded (clientperavg), as FedKit's default; its server
            # trains every client twice a round (compare.sh fedkit gives per-fedavg* 2 local epochs); LG-FedAvg: no argument.
        esac
        read -r -a overrides <<< "$PFLLIB_SET"
        mkdir -p "$RUNS/$PFLLIB_DIR/$algo"
        full=0
        # PerAvg's evaluation trains a step, and FedBABU fine-tunes and evaluates after the last iteration: no early stop.
        case $algo in PerAvg|FedBABU) full=1 ;; esac
        (cd "$PFL/system" && PYTHONUNBUFFERED=1 PFLLIB_FULL=$full OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 FEDKIT_SEED=$seed \
            /usr/bin/time -f "$CPU_FORMAT" nice -n "$NICE" "$PY" "$ROOT/bench/pfllib/run_pfllib.py" \
            -data FashionMNIST -m CNN -algo "$algo" -gr 10 -eg 10 -lbs 10 -lr 0.005 -ls 1 -nc 20 -jr 1 \
            -dev cpu -go "seed$seed" "${extra[@]}" "${overrides[@]}") > "$RUNS/$PFLLIB_DIR/$algo/seed-$seed.log" 2>&1
    done
    ;;
fedkit)
    seed=$2; only=${3:-fedavg,fedprox,local,fedper,fedrep,ditto}
    sets=(--set "dataset.path=$PFL/dataset/FashionMNIST")
    for s in $FEDKIT_SET; do sets+=(--set "$s"); done
    mkdir -p "$RUNS/$FEDKIT_DIR-cpu"
    for method in ${only//,/ }; do
        # PFLlib's PerAvg server trains every client twice per round (fmnist-pfllib.yaml's comment).
        epochs=()
        case $method in per-fedavg|per-fedavg-hf) epochs=(--set federation.local_epochs=2) ;; esac
        /usr/bin/time -f "$CPU_FORMAT" -o "$RUNS/$FEDKIT_DIR-cpu/$method-seed-$seed.txt" \
            nice -n "$NICE" "$EXP" run "$ROOT/bench/pfllib/fmnist-pfllib.yaml" --seeds "$seed" --only "$method" \
            "${sets[@]}" "${epochs[@]}" --out "$RUNS/$FEDKIT_DIR"
    done
    ;;
*)
    sed -n 2,6p "$0"; exit 2 ;;
esac
