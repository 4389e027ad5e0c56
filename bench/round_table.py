#!/usr/bin/python3
"""The table of bench/run-rounds.sh: per implementation the median round, its training and
evaluation, evaluation's share, training GFLOP/s, peak memory; then the ratios to FedKit.

    python3 bench/round_table.py results.jsonl

Training FLOPs of a round: 6 x forward MACs per sample (forward + backward ~ 3 x forward, 2 FLOPs
per MAC) x samples x epochs; FedRep's head epoch (a forward pass through the whole model, backward
through the head only) counts 2 x MACs per sample. The MACs are counted per model by the programs
(bench/python/model_flops.py; FedKit's cnn-fmnist is the same model, so FedKit's line uses the
reference's or PFLlib's count: 3,024,384 MACs when no other line is present). "training" is the
round minus its evaluation (it includes aggregation and, for FedBKD, the server steps).
"""
import json
import statistics
import sys

CNN_FMNIST_MACS = 3_024_384  # bench/python/model_flops.py on cnn-fmnist (conv 16, conv 32, fc 128, fc 10; 28x28)


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    if not rows:
        sys.exit("round_table.py: no results in " + sys.argv[1])
    macs = next((r["forward_macs_per_sample"] for r in rows if "forward_macs_per_sample" in r), CNN_FMNIST_MACS)
    impls = [i for i in ("fedkit", "fedkit-off", "fedkit-before", "pytorch", "pfllib") if any(r["impl"] == i for r in rows)]
    stats = {}
    print()
    print(f"{'':13} {'runs':>4} {'median round s':>14} {'fastest':>8} {'training s':>10} {'eval s':>7} {'eval share':>10} "
          f"{'train GFLOP/s':>13} {'peak RSS MiB':>12} {'accuracy':>8}   every round (s)")
    for impl in impls:
        rs = [r for r in rows if r["impl"] == impl]
        rounds = [s for r in rs for s in r["round_seconds"]]
        local = [s for r in rs for s in r["local_seconds"]]
        evals = [s for r in rs for s in r["eval_seconds"]]
        method = rs[0].get("method", "fedavg")
        per_sample = 6 * macs + (2 * macs if method.startswith("fedrep") else 0)
        flops = rs[0]["train_samples"] * rs[0].get("epochs", 1) * per_sample
        median_round, median_local, median_eval = statistics.median(rounds), statistics.median(local), statistics.median(evals)
        share = statistics.median(e / s for e, s in zip(evals, rounds))
        acc = rs[-1].get("personalized_weighted")
        stats[impl] = median_round
        gflops = flops / median_local / 1e9 if method != "fedbkd" else float("nan")
        print(f"{impl:13} {len(rs):>4} {median_round:>14.2f} {min(rounds):>8.2f} {median_local:>10.2f} {median_eval:>7.2f} "
              f"{share:>9.1%} {gflops:>13.1f} {max(r['max_rss_mib'] for r in rs):>12.0f} "
              f"{acc if acc is not None else float('nan'):>8.4f}   {' '.join(f'{s:.1f}' for s in rounds)}")
    print(f"\nmethod {rows[0].get('method')}, {rows[0]['clients']} clients, {rows[0]['train_samples']} training samples, "
          f"forward {macs:,} MACs per sample")
    bases = [i for i in impls if i.startswith("fedkit")]
    for base in bases:
        for impl in impls:
            if impl != base and not (impl.startswith("fedkit") and bases.index(impl) < bases.index(base)):
                print(f"{impl} / {base} time per round (median rounds): {stats[impl] / stats[base]:.2f}x")
    loads = [r[k] for r in rows for k in ("load_before", "load_after") if k in r]
    if loads:
        print(f"load average around the runs {min(loads):.2f}-{max(loads):.2f} (the benchmark itself counts: about 2)")


if __name__ == "__main__":
    main()
