#!/usr/bin/python3
"""The FedBKD authors' own generator training (GAN_train.py `DF_gan.train_generator`, FedBKD/FedBKD
at a4ec319), run from a fixed generator and fixed inputs, summarised in
Tests/FedKitTests/Reference/fedbkd-generator-reference.json. `FedBKDReferenceTests` trains the
`fedbkd` preset's generator from the same start and checks that its weights change as theirs do.

    bash bench/fedbkd_authors/run.sh setup      # their files, from the read-only mirror, into /tmp/fedbkd-authors
    /usr/bin/python3 bench/fedbkd_authors/generator_reference.py --authors /tmp/fedbkd-authors \
        > Tests/FedKitTests/Reference/fedbkd-generator-reference.json

Setting: CIFAR-10 (their `Generator('cifar10-cnn1')` = GENERATORCONFIGS['cifar10']: noise 64,
embedding 64, hidden 512, output 3,072; Adam lr 3e-4, weight decay 1e-2 and ensemble_eta 1 from
RUNCONFIGS['cifar']), 2 teachers (`Student`, eval mode) that have seen classes {0, 1} and {2, 3},
20 fixed inputs per class (200), 2 epochs of 3 Adam steps per teacher (their script: 6 x 5, and
10 teachers; fewer here so that the reference takes seconds). Each step: G on all fixed inputs of
the teacher's classes, L_div on G's raw output, CE of the teacher on the uint8 / PIL /
`trans_cifar10_train` images (no gradient reaches G through them), loss = CE + eta L_div, one
Adam step (`update_generator_`).

The start is FedKit's, drawn from a torch CPU generator with seed 11 exactly as
`ConditionalMLPGenerator` draws it from the round's generator (at::CPUGeneratorImpl, which
`RandomGenerator(seed:)` is; both link the same libtorch): the label embedding N(0, 1) [10, 64],
the first Linear's weight and bias U(-1/sqrt(128), 1/sqrt(128)), the last Linear's
U(-1/sqrt(512), 1/sqrt(512)), then the fixed noise U(0, 1) [200, 64], inputs ordered by class
(docs/fedbkd.md, item 11). They go into their `Generator` (state loaded in place, so their Adam
holds the same tensors) and their `DF_gan` as the stored inputs (`y_input`, `eps`, `label`: the
round > 0 path of `main_fedbkd.py`). The teachers' weights (N(0, 1) / sqrt(fan-in), biases
0.1 N(0, 1), seed 12) affect only the CE, which does not reach G.

Patched to run: what fails at import outside main_fedbkd.py (reference_support.prepare_authors_import),
and GENERATORCONFIGS['cifar10-cnn1'] (KeyError) aliases GENERATORCONFIGS['cifar10'], as in
run_authors.py. Their code is not edited.
Output: per generator parameter, the change from the start (sum, L2 norm, largest magnitude, first
8 values), plus probes of the random streams.
"""
import argparse
import contextlib
import json
import math
import sys

import torch

import reference_support

SEED = 11
TEACHER_SEED = 12
PER_CLASS = 20
CLASSES = 10
EPOCHS = 2
STEPS = 3
TEACHER_CLASSES = [[0, 1], [2, 3]]


def main():
    options = reference_support.options(__doc__.split("\n")[0])
    reference_support.prepare_authors_import(options.authors)
    with contextlib.redirect_stdout(sys.stderr):  # their progress prints; stdout is the reference
        reference = run(options)
    json.dump(reference, sys.stdout, indent=1)
    print()


def run(options):
    import GAN_train
    GAN_train.GENERATORCONFIGS["cifar10-cnn1"] = GAN_train.GENERATORCONFIGS["cifar10"]

    hidden, output, _, _, noise_dim = GAN_train.GENERATORCONFIGS["cifar10"]
    g = torch.Generator().manual_seed(SEED)

    def uniform(shape, fan_in):
        bound = 1 / math.sqrt(fan_in)
        return torch.zeros(shape).uniform_(-bound, bound, generator=g)

    embedding = torch.randn([CLASSES, noise_dim], generator=g)
    w1, b1 = uniform([hidden, 2 * noise_dim], 2 * noise_dim), uniform([hidden], 2 * noise_dim)
    w2, b2 = uniform([output, hidden], hidden), uniform([output], hidden)
    labels = torch.arange(CLASSES).repeat_interleave(PER_CLASS)
    eps = torch.rand([CLASSES * PER_CLASS, noise_dim], generator=g)

    args = argparse.Namespace(
        dataset="cifar10", num_classes=CLASSES, num_glob_iters=1, num_users=len(TEACHER_CLASSES),
        algorithm="fedbkd", alg="fedbkd", embedding=1, n_teacher_iters=STEPS,
        gan_train_nums=CLASSES * PER_CLASS, device="cpu")
    teacher_init = torch.Generator().manual_seed(TEACHER_SEED)
    w_locals = []
    for _ in TEACHER_CLASSES:
        student = GAN_train.Student(args)
        with torch.no_grad():
            for name, p in student.named_parameters():
                draw = torch.randn(p.shape, generator=teacher_init)
                p.copy_(draw / math.sqrt(p[0].numel()) if name.endswith("weight") else 0.1 * draw)
        w_locals.append(student.state_dict())

    y_input = torch.cat([eps, embedding[labels]], dim=1)
    df_gan = GAN_train.DF_gan(
        args=args, seed=1, w_locals=w_locals, selected_users=list(range(len(TEACHER_CLASSES))), dataset_test=None,
        dict_users_test=None, user_label_dict={k: c for k, c in enumerate(TEACHER_CLASSES)},
        y_input=y_input, eps=eps, label=labels)
    generator = df_gan.generative_model
    fc, bn = generator.fc_layers[0], generator.fc_layers[1]
    with torch.no_grad():
        generator.embedding_layer.weight.copy_(embedding)
        fc.weight.copy_(w1)
        fc.bias.copy_(b1)
        generator.representation_layer.weight.copy_(w2)
        generator.representation_layer.bias.copy_(b2)
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    df_gan.train_generator(epoches=EPOCHS)
    after = generator.state_dict()

    # Their names, FedKit's (ConditionalGeneratorNetwork: embedding, trunk.0 Linear, trunk.1 BatchNorm,
    # trunk.3 Linear) beside them. Not the batch norm's running statistics: neither program reads
    # them (their generate_data and FedKit's `sample_batchnorm: batch` run G on batch statistics),
    # and each runs G once more after training on other rows (their generate_data on all inputs,
    # FedKit's teacher-accuracy metric on the teachers' classes).
    names = [
        ("fc_layers.0.weight", "trunk.0.weight"), ("fc_layers.0.bias", "trunk.0.bias"),
        ("fc_layers.1.weight", "trunk.1.weight"), ("fc_layers.1.bias", "trunk.1.bias"),
        ("representation_layer.weight", "trunk.3.weight"), ("representation_layer.bias", "trunk.3.bias"),
    ]
    changes = [reference_support.change(theirs, after[theirs], before[theirs], fedkit=ours) for theirs, ours in names]

    return {
        "source": "bench/fedbkd_authors/generator_reference.py: FedBKD/FedBKD GAN_train.py DF_gan.train_generator",
        "authors_commit": reference_support.commit(options.authors),
        "torch": torch.__version__,
        "seed": SEED, "per_class": PER_CLASS, "epochs": EPOCHS, "steps": STEPS, "teacher_classes": TEACHER_CLASSES,
        "eta": df_gan.ensemble_eta, "lr": df_gan.ensemble_lr, "weight_decay": df_gan.weight_decay,
        "probe": {"embedding_first": embedding.flatten()[:4].tolist(), "noise_first": eps.flatten()[:4].tolist(),
                  "last_bias_first": b2[:4].tolist()},
        "changes": changes,
    }


if __name__ == "__main__":
    main()
