#!/usr/bin/python3
"""Runs the FedBKD authors' own main_fedbkd.py (FedBKD/FedBKD at a4ec319) on CPU, unchanged, and
logs the time of every phase of each round (docs/benchmarks.md, "FedBKD round against the
authors' code"; issue 13).

    cd WORKDIR && python3 run_authors.py --authors /tmp/fedbkd-authors \
        --cifar-bin data/cifar-10-batches-bin --rounds 1 --timings OUT.jsonl -- \
        --dataset cifar10 --model cnn ... (main_fedbkd.py's own arguments)

Their files are not edited and nothing is copied into their folder: this script puts the copy
(bench/fedbkd_authors/run.sh setup) on sys.path, patches at import what stops it running here, and
runs main_fedbkd.py as __main__ with runpy. The working directory receives their logs
(logging/, save_fedbkd_*/).

What is patched, and why (docs/fedbkd.md, "Differences from the authors' code", items 1-3):
- Arguments. scripts/FedBKD_cifar10_2shards.sh passes --gen_eps and --gen_train_nums, which
  utils/options.py does not define (it has --gan_eps, --gan_train_nums): argparse rejects them,
  so they are renamed before parsing. `args.function` (log_utils/logger.py), `args.attention`
  (main_fedbkd.py) and `args.algorithm` (GAN_train.py) are read but never defined: after their
  parser runs they are set to "authors-bench", 0 and args.alg ("fedbkd").
- GAN_train.create_generative_model looks up GENERATORCONFIGS['cifar10-cnn1'] (KeyError): that
  key is added as an alias of GENERATORCONFIGS['cifar10'] (the only CIFAR-10 entry).
- The round-0 embedding. DF_gan.init_y_input computes the fixed generator inputs once per run
  as [eps, embedding_layer(label)] and keeps them with their graph to round 0's embedding table;
  update_generator_ then calls loss.backward(retain_graph=True) after every Adam step. On torch
  1.13 the second backward stops with "one of the variables needed for gradient computation has
  been modified by an inplace operation: [torch.FloatTensor [10, 64]] is at version 2; expected
  version 1" (GAN_train.py line 472): the table, saved for the backward, was changed in place by
  the first Adam step. Their requirements.txt pins torch 0.4.1, where the run went through and
  Adam kept updating a table that the stored inputs, never recomputed, no longer read. The
  inputs are detached here (init_y_input wrapped): the generator sees the same inputs and its
  other parameters get the same gradients; only the unused table's updates are gone
  (docs/fedbkd.md, item 12: FedKit's `label_embedding: fixed`).
- CUDA. GAN_train.py calls `CrossEntropyLoss().cuda()` at import and main_fedbkd.py moves the
  aggregated weights to torch.device('cuda:0') (`.to(cuda0)`) whatever --gpu says (--gpu -1
  makes 'cuda:-1', an error). This torch has no CUDA: nn.Module.cuda returns the module
  unchanged, and Tensor.to maps a CUDA device to the CPU. args.device is already 'cpu' (their
  `torch.cuda.is_available()` test).
- Data. utils/train_utils.get_data builds torchvision.datasets.CIFAR10('data/cifar10',
  download=True): replaced by BinaryCIFAR10 below, which reads the CIFAR-10 binary files
  (data_batch_1..5.bin, test_batch.bin; the same images in the same order as torchvision's
  python-pickle version) and behaves as torchvision's class (uint8 HWC array, PIL image through
  the given transform, .targets). Nothing is downloaded.
- pandas. main_fedbkd.py imports it to write a CSV after the last round; this script stops after
  --rounds rounds, before that, so when pandas is missing a stub module stands in.
- Python's `random`. utils/sampling.noniid shuffles the shard labels with `random.shuffle`,
  which their code never seeds: seeded with --seed here so that the partition is reproducible.
- Threads. Their code sets no thread count; --threads (default 1) calls torch.set_num_threads.

Stopping: main_fedbkd.py needs --epochs 100 as in their script (with --epochs E, iteration E-1
trains all 100 clients, and iteration E is a fine-tuning round). This script ends the process
after --rounds rounds, at their own end-of-round line ("each epoch  cost time").

Timings: one JSON line per round appended to --timings, from wrappers around their functions
(wall time, time.perf_counter):
  local_s        models/Update.py LocalUpdate.train (each sampled client's local epochs);
  gen_init_s     GAN_train.py DF_gan.__init__ (new generator, Adam, and in round 0 the fixed inputs);
  gen_train_s    DF_gan.train_generator (6 epochs x 10 teachers x 5 Adam steps);
  gen_data_s     DF_gan.generate_data (the 1,000 distillation samples);
  distill_s      models/Update.py LocalUpdateDFGAN.__init__ + LocalUpdateDFGAN.train (both directions);
  eval_s         models/test.py test_img_local_all (every client's test split);
  round_s        their own round time (the printed "each epoch cost time", from epoch_start);
  cpu_s          this process's CPU time (user + system) during the round;
  other_s        round_s minus the phases above (aggregation, the copies of w_locals, the
                 per-client torch.cat of the synthetic set, LocalUpdate's DataLoader set-up).
"""
import argparse
import json
import os
import random
import resource
import runpy
import sys
import time
import types

import numpy as np
import torch
import torch.nn
from PIL import Image


def parse_own(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--authors", default="/tmp/fedbkd-authors", help="the copy written by run.sh setup")
    p.add_argument("--cifar-bin", required=True, help="folder with data_batch_1..5.bin, test_batch.bin")
    p.add_argument("--rounds", type=int, default=1, help="rounds to run before stopping")
    p.add_argument("--timings", required=True, help="JSON lines file, one line per round")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    if "--" in argv:
        i = argv.index("--")
        own, theirs = argv[:i], argv[i + 1:]
    else:
        own, theirs = argv, []
    return p.parse_args(own), theirs


OWN, THEIRS = parse_own(sys.argv[1:])
RENAMED = {"--gen_eps": "--gan_eps", "--gen_train_nums": "--gan_train_nums"}
THEIRS = [RENAMED.get(a, a) for a in THEIRS]
sys.argv = [os.path.join(OWN.authors, "main_fedbkd.py")] + THEIRS
sys.path.insert(0, OWN.authors)
torch.set_num_threads(OWN.threads)

# --- CUDA -> CPU -------------------------------------------------------------------------------
torch.nn.Module.cuda = lambda self, *a, **k: self
_tensor_to = torch.Tensor.to


def _cpu_if_cuda(d):
    if isinstance(d, torch.device) and d.type == "cuda":
        return torch.device("cpu")
    if isinstance(d, str) and d.startswith("cuda"):
        return "cpu"
    return d


def _to(self, *args, **kwargs):
    if args:
        args = (_cpu_if_cuda(args[0]),) + args[1:]
    if "device" in kwargs:
        kwargs["device"] = _cpu_if_cuda(kwargs["device"])
    return _tensor_to(self, *args, **kwargs)


torch.Tensor.to = _to

# --- pandas ----------------------------------------------------------------------------------------
try:
    import pandas  # noqa: F401
except ImportError:
    sys.modules["pandas"] = types.ModuleType("pandas")  # used only after the last round

# --- data ------------------------------------------------------------------------------------------
import torchvision.datasets  # noqa: E402


class BinaryCIFAR10(torch.utils.data.Dataset):
    """torchvision.datasets.CIFAR10 from the binary files (1 label byte + 3,072 CHW pixel bytes)."""

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False):
        names = [f"data_batch_{i}.bin" for i in range(1, 6)] if train else ["test_batch.bin"]
        raw = np.concatenate([np.fromfile(os.path.join(OWN.cifar_bin, n), dtype=np.uint8) for n in names])
        raw = raw.reshape(-1, 3073)
        self.targets = [int(t) for t in raw[:, 0]]
        self.data = raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()  # N x 32 x 32 x 3
        self.transform, self.target_transform = transform, target_transform
        self.train = train

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img, target = Image.fromarray(self.data[index]), self.targets[index]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target


torchvision.datasets.CIFAR10 = BinaryCIFAR10

# --- arguments -------------------------------------------------------------------------------------
import utils.options  # noqa: E402

_args_parser = utils.options.args_parser


def args_parser():
    args = _args_parser()
    for name, value in (("function", "authors-bench"), ("attention", 0), ("algorithm", args.alg)):
        if not hasattr(args, name):
            setattr(args, name, value)
    return args


utils.options.args_parser = args_parser
random.seed(int(THEIRS[THEIRS.index("--seed") + 1]) if "--seed" in THEIRS else 1)

# --- their modules (log_utils.logger parses the arguments on import) ---------------------------
import GAN_train  # noqa: E402
import models.test  # noqa: E402
import models.Update  # noqa: E402

if "cifar10-cnn1" not in GAN_train.GENERATORCONFIGS:
    GAN_train.GENERATORCONFIGS["cifar10-cnn1"] = GAN_train.GENERATORCONFIGS["cifar10"]

_init_y_input = GAN_train.DF_gan.init_y_input


def init_y_input(self):
    y_input, eps, label = _init_y_input(self)
    return y_input.detach(), eps, label  # see the docstring: the round-0 embedding


GAN_train.DF_gan.init_y_input = init_y_input

# --- timing --------------------------------------------------------------------------------------------
PHASES = ["local_s", "gen_init_s", "gen_train_s", "gen_data_s", "distill_s", "eval_s"]
acc = {k: 0.0 for k in PHASES}


def timed(owner, name, key):
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            acc[key] += time.perf_counter() - t0

    wrapper.__wrapped__ = original
    setattr(owner, name, wrapper)


timed(models.Update.LocalUpdate, "train", "local_s")
timed(GAN_train.DF_gan, "__init__", "gen_init_s")
timed(GAN_train.DF_gan, "train_generator", "gen_train_s")
timed(GAN_train.DF_gan, "generate_data", "gen_data_s")
timed(models.Update.LocalUpdateDFGAN, "__init__", "distill_s")
timed(models.Update.LocalUpdateDFGAN, "train", "distill_s")
timed(models.test, "test_img_local_all", "eval_s")


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


state = {"round": 0, "cpu": cpu_seconds(), "start": time.time()}
STARTED = time.time()


def hooked_print(*args, **kwargs):
    print(*args, **kwargs)
    sys.stdout.flush()
    if args and isinstance(args[0], str) and args[0].startswith("each epoch  cost time:"):
        round_s = float(args[0].split(":", 1)[1])
        cpu = cpu_seconds()
        line = {"round": state["round"], **{k: round(v, 3) for k, v in acc.items()}}
        line["round_s"] = round(round_s, 3)
        line["other_s"] = round(round_s - sum(acc.values()), 3)
        line["cpu_s"] = round(cpu - state["cpu"], 3)
        line["threads"] = torch.get_num_threads()
        line["loadavg"] = list(os.getloadavg())
        line["since_start_s"] = round(time.time() - STARTED, 3)
        with open(OWN.timings, "a") as f:
            f.write(json.dumps(line) + "\n")
        print("[run_authors] " + json.dumps(line), flush=True)
        for k in acc:
            acc[k] = 0.0
        state["cpu"] = cpu
        state["round"] += 1
        if state["round"] >= OWN.rounds:
            r = resource.getrusage(resource.RUSAGE_SELF)
            print(f"[run_authors] stopping after {state['round']} round(s); peak RSS {r.ru_maxrss / 1024:.0f} MiB",
                  flush=True)
            sys.exit(0)


runpy.run_path(os.path.join(OWN.authors, "main_fedbkd.py"), init_globals={"print": hooked_print},
               run_name="__main__")
