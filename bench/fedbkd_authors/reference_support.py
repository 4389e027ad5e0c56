"""What bench/fedbkd_authors/distill_reference.py and generator_reference.py share: importing the
FedBKD authors' modules outside their main_fedbkd.py, and the summary of a parameter's change that
Tests/FedKitTests/FedBKDReferenceTests.swift compares."""
import argparse
import logging
import sys
import types

import torch


def options(description):
    """The scripts' one option, --authors (their files, from `bash bench/fedbkd_authors/run.sh setup`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--authors", default="/tmp/fedbkd-authors", help="their files (run.sh setup)")
    return parser.parse_args()


def prepare_authors_import(authors):
    """Puts their folder on sys.path and replaces what fails at import outside main_fedbkd.py:
    - their modules parse the command line at import (utils/options.py): it is emptied;
    - utils/train_utils.py (imported for its transforms) imports log_utils/logger.py, which reads
      the undefined `args.function` and creates log folders in the working directory: a stand-in
      module with the one name train_utils takes from it;
    - GAN_train.py calls `CrossEntropyLoss().cuda()` at import: `nn.Module.cuda` is the identity.
    One torch thread, as run_authors.py."""
    sys.argv = sys.argv[:1]
    sys.path.insert(0, authors)
    logger = types.ModuleType("log_utils.logger")
    logger.data_logger = logging.getLogger("fedbkd-authors")
    sys.modules["log_utils.logger"] = logger
    torch.nn.Module.cuda = lambda self, *a, **k: self
    torch.set_num_threads(1)


def commit(authors):
    """The authors' commit that run.sh setup wrote beside their files."""
    with open(f"{authors}/COMMIT") as f:
        return f.read().strip()


def change(name, after, before, **extra):
    """A parameter's change from `before` to `after`: sum, L2 norm, largest magnitude, first 8 values."""
    delta = (after - before).flatten().double()
    return {
        "name": name, **extra, "shape": list(before.shape), "sum": delta.sum().item(), "norm": delta.norm().item(),
        "max_abs": delta.abs().max().item(), "first": delta[:8].tolist()}
