#!/usr/bin/env bash
# Checks that a change leaves results unchanged: runs the quick start (experiments/quickstart.yaml,
# every method, seed 1; or $EXPERIMENT) at 2 rounds and compares every rounds.jsonl byte for byte
# with a kept run.
#
#   scripts/check-same-results.sh --keep DIR   # before the change: run and keep the results in DIR
#   scripts/check-same-results.sh DIR          # after it: run again and compare with DIR
#   scripts/check-same-results.sh DIR NEW      # compare two kept folders, without running
#
# EXP (default .build/release/exp; build it with `swift build -c release --product exp`) is the
# binary that runs; EXPERIMENT (default experiments/quickstart.yaml) the experiment file, e.g.
# scripts/same-results-server-steps.yaml for the generator and distiller methods. Exit status 0:
# every rounds.jsonl is identical; 1: a file differs or is missing on one side; 2: usage or run
# failure. Only rounds.jsonl is compared: timings.jsonl and manifest.json hold times and the
# build's commit, which differ by design.
#
# Wall-clock metrics: some server steps report their own duration as a round metric
# (`server` entries whose name ends in `.seconds`, e.g. fedbkd's `distill.seconds`), which no two
# runs share. A file that differs only there is reported as "identical but for wall-clock
# metrics" (status 0), naming the keys; any other difference fails.
set -euo pipefail
cd "$(dirname "$0")/.."
exp="${EXP:-.build/release/exp}"
experiment="${EXPERIMENT:-experiments/quickstart.yaml}"

usage() { echo "usage: $0 [--keep] DIR | DIR NEW" >&2; exit 2; }
keep=false
if [ "${1:-}" = "--keep" ]; then keep=true; shift; fi
[ $# -eq 1 ] || [ $# -eq 2 ] || usage
kept="$1"
given="${2:-}"
if $keep || [ -z "$given" ]; then
    [ -x "$exp" ] || { echo "error: $exp not found; build it with: swift build -c release --product exp" >&2; exit 2; }
fi

# same_but_wall_time A B: succeeds when A and B hold the same records once every `server` entry
# named *.seconds is removed; prints the removed keys that differed.
same_but_wall_time() {
    python3 - "$1" "$2" <<'PY'
import json, sys
def load(path):
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
a, b = load(sys.argv[1]), load(sys.argv[2])
if len(a) != len(b):
    sys.exit(1)
keys = set()
for x, y in zip(a, b):
    for record in (x, y):
        server = record.get("server") or {}
        for key in [k for k in server if k.endswith(".seconds")]:
            if x.get("server", {}).get(key) != y.get("server", {}).get(key):
                keys.add(key)
            del server[key]
    if x != y:
        sys.exit(1)
print(", ".join(sorted(keys)))
PY
}

run() {  # run DIR: the experiment at 2 rounds into DIR
    "$exp" run "$experiment" --set federation.rounds=2 --out "$1" > "$1.log" 2>&1 \
        || { echo "error: the run failed; see $1.log" >&2; exit 2; }
}

if $keep; then
    [ ! -e "$kept" ] || { echo "error: $kept exists; remove it or name another folder" >&2; exit 2; }
    mkdir -p "$kept"
    run "$kept"
    echo "kept $(find "$kept" -name rounds.jsonl | wc -l) rounds.jsonl files in $kept"
    exit 0
fi

[ -d "$kept" ] || { echo "error: $kept is not a folder of kept results (make one with --keep)" >&2; exit 2; }
if [ -n "$given" ]; then
    fresh="$given"
    [ -d "$fresh" ] || { echo "error: $fresh is not a folder" >&2; exit 2; }
else
    fresh="$(mktemp -d "${TMPDIR:-/tmp}/check-same-results.XXXXXX")"
    run "$fresh"
fi
status=0
compared=0
wall=0
while IFS= read -r file; do
    rel="${file#"$kept"/}"
    if [ ! -f "$fresh/$rel" ]; then
        echo "missing in the new run: $rel"; status=1
    elif ! cmp -s "$file" "$fresh/$rel"; then
        if keys="$(same_but_wall_time "$file" "$fresh/$rel")"; then
            echo "identical but for wall-clock metrics ($keys): $rel"; wall=$((wall + 1))
        else
            echo "differs: $rel"; cmp "$file" "$fresh/$rel" || true; status=1
        fi
    else
        compared=$((compared + 1))
    fi
done < <(cd "$kept" && find . -name rounds.jsonl | sort | sed "s|^\./|$kept/|")
while IFS= read -r rel; do
    [ -f "$kept/$rel" ] || { echo "new in this run (not kept): $rel"; status=1; }
done < <(cd "$fresh" && find . -name rounds.jsonl | sort | sed 's|^\./||')
if [ $status -eq 0 ]; then
    echo "identical: $compared rounds.jsonl files byte for byte, $wall more but for wall-clock metrics ($fresh vs $kept)"
    [ -n "$given" ] || rm -rf "$fresh" "$fresh.log"
fi
exit $status
