#!/usr/bin/env bash
# `exp sweep --backend slurm` against a real one-node Slurm on this machine (scripts/slurm-local.sh):
# a 4-task array of experiments/sweep-synthetic.yaml runs through sbatch, task 0 is requeued while
# it runs (scontrol requeue) and must resume from its checkpoint, and the collected summary.csv and
# every run's rounds.jsonl must be identical to the same sweep run with `--backend local`.
#
# Installs slurm-wlm and munge when missing (root, apt). When the Slurm daemons cannot start here
# (a sandbox without the rights they need), prints SKIPPED with the reason and exits 0: the sbatch
# script itself is covered by the dry-run tests of the test suite. Any other failure exits 1.
# Takes about a minute. Uses EXP (default .build/debug/exp, built when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
exp=${EXP:-.build/debug/exp}
[ -x "$exp" ] || swift build --product exp
exp=$(cd "$(dirname "$exp")" && pwd)/$(basename "$exp")

if ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null
    else
        echo "test-slurm: SKIPPED: slurm-wlm and munge are not installed and cannot be installed here (needs root and apt-get)"
        exit 0
    fi
fi

work=$(mktemp -d /tmp/fedkit-slurm-test.XXXXXX)
slurm=$work/slurm
if ! started=$(bash scripts/slurm-local.sh start "$slurm" 2>&1); then
    echo "test-slurm: SKIPPED: the Slurm daemons could not start in this environment:"
    echo "$started" | sed 's/^/  /'
    bash scripts/slurm-local.sh stop "$slurm" >/dev/null 2>&1 || true
    rm -rf "$work"
    exit 0
fi
trap 'bash scripts/slurm-local.sh stop "$slurm" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export SLURM_CONF=$slurm/slurm.conf

fail() { echo "test-slurm: FAILED: $*" >&2; exit 1; }
file=experiments/sweep-synthetic.yaml
sets=(--set federation.rounds=10)
dir=sweep-synthetic

echo "test-slurm: reference sweep with --backend local"
"$exp" sweep "$file" "${sets[@]}" --out "$work/local" --jobs 2 >/dev/null 2>"$work/local.err" || { cat "$work/local.err"; fail "local sweep"; }

echo "test-slurm: the same sweep through sbatch (a 4-task array; each round slowed to 0.5 s so that task 0 can be requeued mid-run)"
FEDKIT_TEST_ROUND_DELAY=0.5 "$exp" sweep "$file" "${sets[@]}" --out "$work/slurm" --backend slurm >"$work/job" 2>"$work/submit.err" \
    || { cat "$work/submit.err"; fail "exp sweep --backend slurm"; }
job=$(cat "$work/job")
collect=$(sed -n 's/.*collect job \([0-9]*\).*/\1/p' "$work/submit.err")
[ -n "$job" ] && [ -n "$collect" ] || { cat "$work/submit.err"; fail "no job ids from exp sweep"; }
grep -q -- "--array=0-3" "$work/slurm/$dir/sweep.sbatch" || fail "sweep.sbatch has no --array=0-3"

# Requeue task 0 once it has a checkpoint (checkpoint_every: 2) and before it ends.
status=$work/slurm/$dir/lr=0.05/fedavg/seed-1/status.json
requeued=""
for _ in $(seq 1200); do
    round=$(sed -n 's/.*"round" : \([0-9]*\).*/\1/p' "$status" 2>/dev/null || true)
    if [ -n "$round" ] && [ "$round" -ge 3 ] && [ "$round" -lt 10 ]; then
        scontrol requeue "${job}_0" && requeued=$round
        break
    fi
    sleep 0.1
done
[ -n "$requeued" ] || fail "task 0 was not seen running between rounds 3 and 9"
echo "test-slurm: requeued task ${job}_0 at round $requeued"
# Slurm holds a requeued job back for a while (BeginTime); release it now to keep the test short.
for _ in $(seq 50); do
    if squeue -h -j "${job}_0" -o '%T %r' 2>/dev/null | grep -q "PENDING BeginTime"; then
        scontrol update jobid="${job}_0" StartTime=now
        break
    fi
    sleep 0.2
done

for _ in $(seq 900); do
    [ -z "$(squeue -h -j "$job,$collect" 2>/dev/null)" ] && break
    sleep 0.2
done
[ -z "$(squeue -h -j "$job,$collect" 2>/dev/null)" ] || fail "jobs $job and $collect still queued after 3 minutes"

log=$work/slurm/$dir/logs/slurm-${job}_0.log
grep -q "resuming after round" "$log" || { cat "$log"; fail "task 0 did not resume from its checkpoint after the requeue"; }
grep "resuming after round" "$log" | sed 's/^/test-slurm:   /'
"$exp" sweep "$file" "${sets[@]}" --out "$work/slurm" --status > "$work/status" || fail "exp sweep --status"
grep -q "4 task(s): 4 done" "$work/status" || { cat "$work/status"; fail "not every task is done"; }
cmp "$work/local/$dir/summary.csv" "$work/slurm/$dir/summary.csv" || fail "summary.csv differs between the local and Slurm backends"
cmp "$work/local/$dir/tasks.jsonl" "$work/slurm/$dir/tasks.jsonl" || fail "tasks.jsonl differs"
for rounds in "$work"/local/$dir/*/*/seed-*/rounds.jsonl; do
    cmp "$rounds" "${rounds/$work\/local/$work/slurm}" || fail "${rounds#$work/local/} differs"
done
echo "test-slurm: OK: 4 tasks through sbatch, task 0 requeued at round $requeued and resumed; summary.csv and rounds.jsonl identical to --backend local"
