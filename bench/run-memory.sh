#!/usr/bin/env bash
# 1,000-client memory check: peak resident memory of `exp run bench/memory-1000-clients.yaml`
# (1,000 whole personal cnn-cifar100 models, 4.2 GB of state) and what the state store spilled;
# with `scaffold`, of bench/memory-1000-clients-scaffold.yaml (SCAFFOLD's 1,000 control variates
# c_k, 4.2 GB of carried client state).
#
#   bash bench/run-memory.sh            # needs data/cifar-10-batches-bin (docs/datasets.md)
#   bash bench/run-memory.sh scaffold
#
# Environment: EXP (a prebuilt exp binary: skips the build), STATE_MB (state_memory_mb, 1024).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${EXP:-}" ]]; then
    swift build -c release --product exp >/dev/null
    EXP="$(swift build -c release --show-bin-path)/exp"
fi
[[ -d data/cifar-10-batches-bin ]] || { echo "run-memory.sh: data/cifar-10-batches-bin missing (docs/datasets.md)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
case "${1:-local}" in
    local) config=bench/memory-1000-clients.yaml; run="$out/memory-1000-clients/local/seed-1"; states_dir=personal ;;
    scaffold) config=bench/memory-1000-clients-scaffold.yaml; run="$out/memory-1000-clients-scaffold/scaffold/seed-1"; states_dir=client-carried ;;
    *) echo "run-memory.sh: unknown case '$1' (local or scaffold)" >&2; exit 2 ;;
esac
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; state_memory_mb=${STATE_MB:-1024}" >&2
/usr/bin/time -v "$EXP" run "$config" --out "$out" --set federation.state_memory_mb="${STATE_MB:-1024}" \
    >"$out/log" 2>"$out/time" || { cat "$out/log" "$out/time" >&2; exit 1; }
rss_kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/time")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$out/time")
checkpoint_files=$(find "$run/checkpoint/$states_dir" -type f | wc -l)
checkpoint_mb=$(du -sm "$run/checkpoint/$states_dir" | cut -f1)
if [[ $states_dir == personal ]]; then
    states=$(awk -F, 'NR > 1 && $6 == "true" {n++} END {print n + 0}' "$run/clients.csv")
    echo "clients with a personal model: $states; their checkpoint: $checkpoint_files files, $checkpoint_mb MB (all of it passed through the store)"
else
    echo "clients with a carried state: $checkpoint_files files in checkpoint/client-carried, $checkpoint_mb MB (all of it passed through the carried-state store)"
fi
echo "peak RSS: $((rss_kib / 1024)) MiB; wall: $wall"
grep -h "personal" "$out/log" | tail -2 || true  # (SCAFFOLD keeps no personal models)
