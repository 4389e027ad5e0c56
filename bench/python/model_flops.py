"""Multiply-accumulates of one forward pass, counted layer by layer with forward hooks.

    macs = forward_macs(model, torch.zeros(1, 1, 28, 28))

Conv2d: output elements x (input channels / groups) x kernel area; Linear: input x output features
(biases, activations and pooling are not counted: they are a rounding error for these models).
The benchmarks quote training FLOPs as 3 x forward MACs x 2 per sample (backward ~ 2 x forward).
"""
import torch
import torch.nn as nn


def forward_macs(model, example):
    """MACs of one forward pass of `example` (batch 1), per sample."""
    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total[0] += output.numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):
            total[0] += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in handles:
            h.remove()
    return total[0] // example.shape[0]


def training_flops_per_sample(model, example):
    """Forward + backward FLOPs of one training sample: 3 x forward MACs x 2."""
    return 6 * forward_macs(model, example)
