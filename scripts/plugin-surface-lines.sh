#!/bin/bash
# Lines each issue-11 method took (docs/plugins.md §8, "Lines per method from git log"): the files
# added or changed by the commits of branches baselines and baselines2 (their own commits, merges
# excluded: a merge only resolves conflicts), with lines added and removed summed over those
# commits (`git log --numstat`). Each file is attributed to the method it was written for, or to
# "shared" (protocol extensions and engine changes used by several methods) with the methods that
# use it. Run from the repository root; needs the branches' history (main holds it).
#
#   scripts/plugin-surface-lines.sh            # the per-file table
#   scripts/plugin-surface-lines.sh --methods  # summed per method (plugin code, preset, tests)
set -euo pipefail

# Branch start points (reflog: "branch: Created from main") and tips; both are merged into main.
B1_BASE=c8b576c B1_TIP=1840f3a   # baselines: the seven personalised-FL methods
B2_BASE=8f73f2f B2_TIP=4f58ce9   # baselines2: FedGen, FedDF, FedFTG
for c in $B1_TIP $B2_TIP; do
    git merge-base --is-ancestor "$c" HEAD || { echo "error: commit $c is not in HEAD's history" >&2; exit 1; }
done
commits="$(git log --first-parent --no-merges --format=%h $B1_BASE..$B1_TIP) $(git log --first-parent --no-merges --format=%h $B2_BASE..$B2_TIP)"

# path -> "kind|method(s)"; kind: plugin, preset, shared, test, doc, other.
owner() {
    case "$1" in
        plugins/methods/*.yaml) m=${1#plugins/methods/}; echo "preset|${m%.yaml}" ;;
        plugins/Trainers/FedBABUTrainer.swift) echo "plugin|fedbabu" ;;
        plugins/Trainers/ScaffoldTrainer.swift|plugins/Aggregators/ScaffoldAggregator.swift) echo "plugin|scaffold" ;;
        plugins/Trainers/APFLTrainer.swift) echo "plugin|apfl" ;;
        plugins/Trainers/PerFedAvgTrainer.swift) echo "plugin|per-fedavg" ;;
        plugins/Trainers/PFedMeTrainer.swift) echo "plugin|pfedme" ;;
        plugins/Trainers/L2GDTrainer.swift|plugins/Aggregators/L2GDAggregator.swift) echo "plugin|l2gd" ;;
        plugins/Trainers/FedGenTrainer.swift|plugins/Generators/FeatureSpaceGenerator.swift) echo "plugin|fedgen" ;;
        Sources/FedKit/Training/FeatureGenerator.swift) echo "plugin|fedgen" ;;
        plugins/Distillers/EnsembleDistiller.swift) echo "plugin|feddf,fedftg" ;;
        plugins/Aggregators/WeightedAverage.swift) echo "shared|lg-fedavg (scope top),pfedme (server_lr)" ;;
        plugins/Trainers/LocalLoop.swift) echo "shared|scaffold (gradient hook, own SGD settings)" ;;
        Sources/FedKit/Experiment/MethodPreset.swift) echo "shared|lg-fedavg (personal: unshared)" ;;
        Sources/FedKit/Experiment/ExperimentSpec.swift) echo "shared|lg-fedavg,fedgen (generator without distiller)" ;;
        Sources/FedKit/Plugins/PluginProtocols.swift) echo "shared|fedgen (samplesModelInputs)" ;;
        Sources/FedKit/Plugins/RoundPayloadSource.swift) echo "shared|scaffold,l2gd,fedgen (server state, round payload)" ;;
        Sources/FedKit/Plugins/EvaluationComposition.swift) echo "shared|apfl,per-fedavg,fedbabu (composed evaluation)" ;;
        Sources/FedKit/Plugins/ParticipantRefresh.swift) echo "shared|l2gd (server step on personal states)" ;;
        Sources/FedKit/Output/RunWriter+CarriedState.swift) echo "shared|scaffold,apfl (carried client state in checkpoints)" ;;
        Sources/FedKit/Simulation/ClientTrainingContext.swift) echo "shared|all (carried state, payload)" ;;
        Sources/FedKit/Simulation/SimulationRun.swift) echo "shared|all (engine: carried state, payloads, refresh, composition)" ;;
        Sources/FedKit/Simulation/ServerStepSupport.swift|plugins/Generators/ServerModels.swift)
            echo "shared|fedgen,feddf,fedftg (moved from ServerModels.swift)" ;;
        plugins/*/*Catalog.swift) echo "shared|all (registration)" ;;
        Tests/*) echo "test|-" ;;
        docs/*) echo "doc|-" ;;
        *) echo "other|-" ;;
    esac
}

table=$(git log --no-walk --numstat --format= $commits | awk 'NF == 3 { a[$3] += $1; d[$3] += $2 } END { for (f in a) print f, a[f], d[f] }' | sort)

if [ "${1:-}" = "--methods" ]; then
    # Per method: its own plugin files and preset (net lines = added - removed, i.e. the file's
    # size after the branch for a new file); shared files are listed, not summed.
    while read -r f a d; do
        IFS='|' read -r kind who <<<"$(owner "$f")"
        [ "$kind" = plugin ] || [ "$kind" = preset ] || continue
        echo "$who $kind $f $((a - d))"
    done <<<"$table" | sort
    exit 0
fi

echo "| file | kind | for | added | removed |"
echo "|---|---|---|---:|---:|"
while read -r f a d; do
    IFS='|' read -r kind who <<<"$(owner "$f")"
    echo "| \`$f\` | $kind | $who | $a | $d |"
done <<<"$table"
echo
echo "commits: $(echo $commits | wc -w) ($(echo $commits | tr '\n' ' '))"
