#!/usr/bin/python3
"""The FedBKD authors' own distillation step (models/Update.py `LocalUpdateDFGAN`, FedBKD/FedBKD at
a4ec319), run on fixed models, fixed synthetic samples and fixed mini-batch orders, summarised in
Tests/FedKitTests/Reference/fedbkd-distill-reference.json. `FedBKDReferenceTests` runs FedKit's
published distiller (the `fedbkd` preset's) on the same inputs and checks that it changes the
weights as the authors' code does.

    bash bench/fedbkd_authors/run.sh setup      # their files, from the read-only mirror, into /tmp/fedbkd-authors
    /usr/bin/python3 bench/fedbkd_authors/distill_reference.py --authors /tmp/fedbkd-authors \
        > Tests/FedKitTests/Reference/fedbkd-distill-reference.json

The setting is main_fedbkd.py's distillation loop (lines 293-320) for two clients on CIFAR-10
(`CNNCifarMulti`, the body = conv1, conv2, fc1, fc2: `w_glob_keys` of weight_keys [4, 3, 0, 1]),
with scripts/FedBKD_cifar10_2shards.sh's values: lr 0.01, local_bs 10 (batches of 20),
server_glo_eps 4, tem 10. For each client, in their order: global -> local (their call without
`global_kd_local`: the client model learns from the fixed aggregated model), then local -> global
(`global_kd_local=True`: the running global model learns from the client model before its
global -> local step); the global model carries from client to client.

Everything random comes from torch CPU generators that FedKit's `RandomGenerator(seed:)` equals
(at::CPUGeneratorImpl with the same seed; both link the same libtorch):
- generator 2026, in this order: the global model's, client 0's and client 1's parameters
  (`named_parameters` order; weights N(0, 1) / sqrt(fan-in), biases 0.1 N(0, 1)), then client 0's
  and client 1's 40 samples (N(0, 1), 3 x 32 x 32);
- generator 7 (FedKit's server-round generator): the mini-batch orders, drawn in FedKit's order
  (randperm(40) per epoch: client 0's 4 global -> local epochs, client 1's 4, then client 0's 3
  local -> global epochs, client 1's 3). FedKit runs every client's global -> local step before
  the local -> global steps (docs/fedbkd.md, item 10); the orders are replayed into the authors'
  DataLoader (`shuffle=True`) call by call, so both programs see the same batches.

Only the DataLoader is replaced (by one that replays the given orders), and what fails at import
outside main_fedbkd.py (reference_support.prepare_authors_import); their code is not edited.
Output: per result (client 0 and client 1 after global -> local, the global model after both
local -> global steps) and parameter, the change from the start: its sum, L2 norm, largest
magnitude and first 8 values; plus probes of the random streams, so that a test can tell a
different libtorch from a different algorithm.
"""
import argparse
import copy
import json
import math
import sys

import torch

import reference_support

SAMPLES = 40
INIT_SEED = 2026
ORDER_SEED = 7
G2L_EPOCHS = 4
L2G_EPOCHS = 3


def main():
    options = reference_support.options(__doc__.split("\n")[0])
    reference_support.prepare_authors_import(options.authors)
    from models import Update
    from models.Nets import CNNCifarMulti

    args = argparse.Namespace(
        dataset="cifar10", num_classes=10, local_bs=10, server_glo_eps=G2L_EPOCHS, server_rep_eps=1,
        tem=10.0, device="cpu", local_updates=1000000, lr=0.01)

    init = torch.Generator().manual_seed(INIT_SEED)

    def fill(net):
        with torch.no_grad():
            for name, p in net.named_parameters():
                if name.endswith("weight"):
                    p.copy_(torch.randn(p.shape, generator=init) / math.sqrt(p[0].numel()))
                else:
                    p.copy_(0.1 * torch.randn(p.shape, generator=init))
        return net

    global_net = fill(CNNCifarMulti(args))
    clients = [fill(CNNCifarMulti(args)) for _ in range(2)]
    samples = [torch.randn([SAMPLES, 3, 32, 32], generator=init) for _ in range(2)]

    order = torch.Generator().manual_seed(ORDER_SEED)
    g2l_orders = [[torch.randperm(SAMPLES, generator=order) for _ in range(G2L_EPOCHS)] for _ in range(2)]
    l2g_orders = [[torch.randperm(SAMPLES, generator=order) for _ in range(L2G_EPOCHS)] for _ in range(2)]

    class ReplayLoader:
        """Their DataLoader(DatasetSplitDFGAN(...), batch_size, shuffle=True), with the shuffles given."""

        pending = []

        def __init__(self, dataset, batch_size, shuffle):
            assert shuffle, "LocalUpdateDFGAN shuffles its synthetic samples"
            self.x = torch.stack([dataset[i] for i in range(len(dataset))])
            self.batch_size = batch_size
            self.orders = ReplayLoader.pending.pop(0)

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __iter__(self):
            permutation = self.orders.pop(0)
            for start in range(0, len(self.x), self.batch_size):
                yield self.x[permutation[start:start + self.batch_size]]

    Update.DataLoader = ReplayLoader

    # main_fedbkd.py, lines 293-320, for the two clients.
    w_glob = copy.deepcopy(global_net.state_dict())
    w_locals = [copy.deepcopy(c.state_dict()) for c in clients]
    keys = [k for pair in (global_net.weight_keys[i] for i in [4, 3, 0, 1]) for k in pair]
    net_per = CNNCifarMulti(args)
    net_per.load_state_dict(w_glob)
    tmp_global_model = copy.deepcopy(net_per)
    w_global = copy.deepcopy(w_glob)
    distilled = []
    for idx in range(2):
        ReplayLoader.pending.append(list(g2l_orders[idx]) + list(l2g_orders[idx]))
        global_model = Update.LocalUpdateDFGAN(args=args, dataset={"x": samples[idx]})
        w_idx_local, _ = global_model.train(
            net_per=net_per, w_glob_keys=keys, lr=args.lr, w_locals=w_locals, idx=idx)
        tmp_global_model.load_state_dict(w_global)
        w_global, _ = global_model.train(
            net_per=tmp_global_model, w_glob_keys=keys, lr=args.lr, w_locals=w_locals, idx=idx,
            global_kd_local=True)
        distilled.append(w_idx_local)
        for k in w_idx_local:
            w_locals[idx][k] = w_idx_local[k]

    def change(after, before):
        return [reference_support.change(name, after[name], before[name]) for name, _ in global_net.named_parameters()]

    result = {
        "source": "bench/fedbkd_authors/distill_reference.py: FedBKD/FedBKD models/Update.py LocalUpdateDFGAN",
        "authors_commit": reference_support.commit(options.authors),
        "torch": torch.__version__,
        "samples": SAMPLES, "init_seed": INIT_SEED, "order_seed": ORDER_SEED,
        "g2l_epochs": G2L_EPOCHS, "l2g_epochs": L2G_EPOCHS, "batch_size": 2 * args.local_bs, "lr": args.lr,
        "probe": {
            "global_conv1_weight_first": global_net.conv1.weight.flatten()[:4].tolist(),
            "client1_samples_first": samples[1].flatten()[:4].tolist(),
            "first_order": g2l_orders[0][0].tolist(),
        },
        "g2l": [change(distilled[k], clients[k].state_dict()) for k in range(2)],
        "l2g": change(w_global, w_glob),
    }
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
