#!/usr/bin/python3
"""Table of bench/fedbkd_authors/run.sh's runs: one FedBKD round, the authors' code against FedKit.

    python3 bench/fedbkd_authors/table.py OUT      # OUT: run.sh's $OUT (default /tmp/fedbkd-bench)

Reads OUT/authors-<tag>.jsonl (run_authors.py, round 0 of each run) with OUT/authors-<tag>.cpu, and
OUT/fedkit-w<W>-<tag>/cifar10-shards2/fedbkd/seed-1/timings.jsonl (round 1) with
OUT/fedkit-w<W>-<tag>.cpu (GNU time of the whole process; tags r<k> are repetitions, any other
tag a variant shown as its own program), and prints one markdown row per run
(phases in seconds of wall time), then the ratios authors / FedKit of the medians per phase.
Phases: local = the sampled clients' local training; generator = FedKit's generator.seconds,
the authors' DF_gan.__init__ + train_generator + generate_data; distillation = FedKit's
distill.seconds, the authors' LocalUpdateDFGAN (both directions, all clients); evaluation =
FedKit's eval_s, the authors' test_img_local_all; round = FedKit's total_s, the authors' own
round time; process CPU = user + system of the whole process (start-up and data loading
included), from GNU time.
"""
import glob
import json
import os
import re
import statistics
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/fedbkd-bench"


def gnu_time(path):
    if not os.path.exists(path):
        return None
    m = re.search(r"user ([\d.]+) s, system ([\d.]+) s, wall ([\d.]+) s, maxrss (\d+) KiB", open(path).read())
    if not m:
        return None
    return {"cpu": float(m[1]) + float(m[2]), "wall": float(m[3]), "rss_mib": int(m[4]) / 1024}


rows = []
for path in sorted(glob.glob(os.path.join(out, "authors-*.jsonl"))):
    tag = os.path.basename(path)[len("authors-"):-len(".jsonl")]
    lines = [json.loads(l) for l in open(path) if l.strip()]
    if not lines:
        continue
    r = lines[0]
    t = gnu_time(path[:-len(".jsonl")] + ".cpu")
    rows.append({
        "program": "authors' main_fedbkd.py, 1 thread", "tag": tag,
        "local": r["local_s"], "generator": r["gen_init_s"] + r["gen_train_s"] + r["gen_data_s"],
        "distill": r["distill_s"], "eval": r["eval_s"], "round": r["round_s"],
        "round_cpu": r["cpu_s"], "cpu": t and t["cpu"], "rss": t and t["rss_mib"],
        "load": r["loadavg"][0],
    })
for path in sorted(glob.glob(os.path.join(out, "fedkit-w*-*/cifar10-shards2/fedbkd/seed-1/timings.jsonl"))):
    run = path[len(out) + 1:].split("/")[0]
    workers, tag = re.match(r"fedkit-w(\d+)-(.+)", run).groups()
    r = [json.loads(l) for l in open(path) if l.strip()][0]
    steps = r.get("server_steps_s", {})
    t = gnu_time(os.path.join(out, run + ".cpu"))
    rows.append({
        # runs tagged r<k> are repetitions; any other tag is a variant (e.g. `augment`: FEDKIT_SET=dataset.augment=true)
        "program": f"FedKit exp, {workers} worker{'s' if workers != '1' else ''}"
                   + ("" if re.fullmatch(r"r\d+", tag) else f" ({tag})"), "tag": tag,
        "local": r["local_s"], "generator": steps.get("generator.seconds", float("nan")),
        "distill": steps.get("distill.seconds", float("nan")), "eval": r["eval_s"], "round": r["total_s"],
        "round_cpu": None, "cpu": t and t["cpu"], "rss": t and t["rss_mib"], "load": None,
    })


def f(x, digits=1):
    return "-" if x is None else f"{x:,.{digits}f}"


print("| program | run | local s | generator s | distillation s | evaluation s | round s | process CPU s | peak RSS MiB |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['program']} | {r['tag']} | {f(r['local'])} | {f(r['generator'])} | {f(r['distill'])} | "
          f"{f(r['eval'])} | {f(r['round'])} | {f(r['cpu'])} | {f(r['rss'], 0)} |")

phases = ["local", "generator", "distill", "eval", "round", "cpu"]
progs = sorted({r["program"] for r in rows})
med = {p: {k: statistics.median([r[k] for r in rows if r["program"] == p and r[k] is not None] or [float("nan")])
           for k in phases} for p in progs}
authors = [p for p in progs if p.startswith("authors")]
print()
for a in authors:
    for p in progs:
        if p == a:
            continue
        print(f"{a} / {p} (medians): " + ", ".join(f"{k} {med[a][k] / med[p][k]:.1f}x" for k in phases))
