#!/usr/bin/python3
"""Regenerates the golden files: small fixed-weight models of both architectures with the
independent PyTorch reference's logits and relevancy grids for the committed face crops, so
that the C++ suite (tests/test_golden.cpp) checks the engine's numbers without Python.

    /usr/bin/python3 tests/golden/make_goldens.py          (from the repository root)

A whole model is megabytes of weights, so a golden file stores a recipe instead:
  * every weight tensor except the BatchNorm running statistics is generated, value i of
    tensor NAME being  offset + scale * (2 u - 1)  with u = (splitmix64 state >> 40) / 2^24,
    the state starting at seed ^ fnv1a64(NAME) and advancing by 0x9E3779B97F4A7C15 per value;
    the arithmetic is done in float64 and rounded once to float32, so C++ and numpy agree to
    the bit. Metadata "generate:NAME" holds "offset scale checksum", the checksum being
    sum((i + 1) * float32_bits(value i)) mod 2^64, which the C++ expansion must reproduce;
  * the BatchNorm running statistics are stored (float16): they are calibrated here, layer by
    layer on synthetic natural-image-like pictures, then perturbed, so that activations stay
    O(1) and depend on the image, as in a trained network (see make_random_models.py);
  * "golden.logits" (float64, one per crop) and "golden.relevancy" (float64, crop x grid) are
    the reference's outputs, computed in float64 through the model's own preprocessing.
Metadata "config" is the model file's config; "crops" names the crops in crops/.

The models: "seed" (the seed architecture: EfficientNet-B0 with squeeze-and-excitation, BGR,
no normalisation, 1024 channel tokens, 6 blocks) and "lite0" (the shipped configuration:
EfficientNet-Lite0, RGB, (v - 127) / 128, 4 blocks of width 256). The crops (crops/*.png,
lossless) are cut from tests/data/faces so that each takes one of the resize paths: shrinking
(INTER_AREA), none (long side already 224), enlarging (INTER_CUBIC).

Interpreter: Debian's /usr/bin/python3 with the PyPI packages in .pydeps (.ci/install-deps).
"""

import argparse
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path[:0] = [os.path.join(REPO, "tests", "reference"), os.path.join(REPO, "src", "tools")]
import reference_models as rm  # noqa: E402  (puts .pydeps on sys.path)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import dfd_modelfile as mf  # noqa: E402
import make_random_models  # noqa: E402

GENERATOR = "splitmix64-uniform-v1"
SEED = 20250611
GOLDEN = 0x9E3779B97F4A7C15
MASK64 = (1 << 64) - 1
COMMAND = "/usr/bin/python3 tests/golden/make_goldens.py"

# name, source image, (x, y, w, h) in it: one crop per resize path.
CROPS = [
    ("face-100-shrink.png", "real-photos-100.jpg", (18, 57, 209, 230)),
    ("face-137-exact.png", "real-photos-137.jpg", (18, 0, 224, 194)),
    ("face-156-enlarge.png", "real-photos-156.jpg", (70, 30, 114, 120)),
]


# ---- the generator (mirrored in tests/golden_model.h) -------------------------------------------

def fnv1a64(text):
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & MASK64
    return h


def generate(name, count, offset, scale, seed=SEED):
    """float32 values of a generated tensor (see the module docstring)."""
    with np.errstate(over="ignore"):
        state = np.uint64(seed ^ fnv1a64(name)) + np.arange(1, count + 1, dtype=np.uint64) * np.uint64(GOLDEN)
        z = state
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    return (offset + scale * (2.0 * u - 1.0)).astype(np.float32)


def checksum(values):
    bits = np.ascontiguousarray(values, dtype=np.float32).reshape(-1).view(np.uint32).astype(np.uint64)
    with np.errstate(over="ignore"):
        return int((bits * np.arange(1, bits.size + 1, dtype=np.uint64)).sum(dtype=np.uint64))


# ---- which distribution each tensor gets ----------------------------------------------------------

SQRT3 = math.sqrt(3.0)  # uniform(-a, a) has standard deviation a / sqrt(3)


def distribution(name, shape, config):
    """(offset, scale) of the uniform values: the same spreads as make_random_models.py's
    normal ones, which keep activations O(1) and attention neither flat nor one-hot."""
    dim = config["transformer"]["dim"]
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    leaf = name.rsplit(".", 1)[-1]
    if name.startswith("efficient_net."):
        if "_bn" in name:
            return (1.0, 0.5) if leaf == "weight" else (0.0, 0.1)
        if name.startswith("efficient_net._fc."):
            return (0.0, 0.01 * SQRT3) if leaf == "weight" else (0.0, 0.0)
        if leaf == "bias":  # squeeze-and-excitation convolutions
            return 0.0, 0.1 * SQRT3
        # He gain before swish/ReLU6; the linear bottleneck and the SE convolutions get 1.
        gain = 1.0 if ("_project_conv" in name or "_se_" in name) else math.sqrt(2.0)
        return 0.0, gain * SQRT3 / math.sqrt(fan_in)
    if name == "cls_token":
        return 0.0, 0.5 * SQRT3
    if name == "pos_embedding":
        return 0.0, 0.1 * SQRT3
    if name.endswith(("norm1.weight", "norm2.weight")) or name == "norm.weight":
        return 1.0, 0.2
    if name.endswith(("norm1.bias", "norm2.bias")) or name == "norm.bias":
        return 0.0, 0.05 * SQRT3
    if name == "patch_to_embedding.weight" and config["architecture"] == "seed":
        return 0.0, SQRT3 / math.sqrt(shape[-1])
    if leaf == "bias":
        return 0.0, 0.02 * SQRT3
    if name.endswith("to_qkv.weight"):
        return 0.0, math.sqrt(2.0 / dim) * SQRT3
    if name in ("head.weight", "mlp_head.0.weight"):
        return 0.0, SQRT3 / math.sqrt(dim)
    if name == "mlp_head.2.weight":
        return 0.0, math.sqrt(2.0 / config["transformer"]["head_hidden"]) * SQRT3
    return 0.0, 0.02 * SQRT3


# ---- models ---------------------------------------------------------------------------------------

def configs():
    seed = mf.seed_config(name="golden-seed", threshold=0.55,
                          source=f"tests/golden/make_goldens.py, generated weights ({GENERATOR})")
    lite0 = mf.spatial_config("golden-lite0", f"tests/golden/make_goldens.py, generated weights ({GENERATOR})",
                              dim=256, depth=4, heads=4, dim_head=64, mlp_dim=512, dropout=0.1,
                              emb_dropout=0.1, threshold=0.55, color_order="RGB", mean=(127.0,) * 3,
                              std=(128.0,) * 3, backbone="efficientnet-lite0")
    return {"seed": seed, "lite0": lite0}


def build(config):
    """-> (reference model in float32 with calibrated statistics, {name: stored float16 stats},
    {name: (offset, scale, checksum)} of the generated tensors)."""
    model = rm.build_model(config).eval()
    generated, stored = {}, {}
    state = {}
    for name, shape in mf.expected_tensors(config):
        if mf.is_batchnorm_buffer(name):
            continue
        offset, scale = distribution(name, shape, config)
        values = generate(name, int(np.prod(shape)), offset, scale).reshape(shape)
        generated[name] = (offset, scale, checksum(values))
        state[name] = torch.from_numpy(values)
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not mf.is_batchnorm_buffer(k)
               and not k.endswith(".num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise SystemExit(f"generated weights do not fit the reference: {missing} {result.unexpected_keys}")

    # Network order, each layer on the output of the calibrated ones before it; the float16
    # rounding is applied before the next layer sees it, so that what is stored is what was
    # calibrated.
    rng = np.random.RandomState(SEED)
    names = {module: name for name, module in model.named_modules()}

    def calibrate(bn, inputs):
        x = inputs[0].detach().double()
        mean = x.mean(dim=(0, 2, 3)).numpy()
        var = x.var(dim=(0, 2, 3), unbiased=False).numpy()
        mean = compact(mean + rng.normal(size=mean.shape) * 0.1 * np.sqrt(var))
        var = compact(var * rng.uniform(0.5, 1.5, size=var.shape))
        stored[names[bn] + ".running_mean"], stored[names[bn] + ".running_var"] = mean, var
        bn.running_mean.copy_(torch.from_numpy(mean.astype(np.float32)))
        bn.running_var.copy_(torch.from_numpy(var.astype(np.float32)))

    handles = [m.register_forward_pre_hook(calibrate) for m in model.modules()
               if isinstance(m, nn.BatchNorm2d)]
    size = config["input"]["size"]
    pictures = make_random_models.synthetic_images(8, size, SEED)
    with torch.no_grad():
        model(torch.stack([rm.preprocess(p, config) for p in pictures]))
    for h in handles:
        h.remove()
    return model, stored, generated


def compact(values):
    """float16 where every value fits its range (the stem's statistics on 0..255 input need
    not), float32 otherwise."""
    half = values.astype(np.float16)
    return half if np.all(np.isfinite(half)) and np.abs(values).max() < 60000 else values.astype(np.float32)


# ---- crops and outputs ----------------------------------------------------------------------------

def make_crops():
    os.makedirs(os.path.join(HERE, "crops"), exist_ok=True)
    for name, source, (x, y, w, h) in CROPS:
        image = cv2.imread(os.path.join(REPO, "tests", "data", "faces", source), cv2.IMREAD_COLOR)
        cv2.imwrite(os.path.join(HERE, "crops", name), image[y:y + h, x:x + w],
                    [cv2.IMWRITE_PNG_COMPRESSION, 9])


def write_golden(label, config, model, stored, generated):
    model = model.double()
    logits, grids = [], []
    for name, _, _ in CROPS:
        image = cv2.imread(os.path.join(HERE, "crops", name), cv2.IMREAD_COLOR)
        logit, grid = rm.relevancy(model, rm.preprocess(image, config))
        logits.append(logit)
        grids.append(grid)
        print(f"  {label} {name}: logit {logit:+.6f}, relevancy {grid.shape[1]}x{grid.shape[0]} "
              f"max {grid.max():.4g} at {np.unravel_index(grid.argmax(), grid.shape)}")
    metadata = {"format": "gst-deepfake-golden", "config": json.dumps(config, separators=(",", ":")),
                "generator": GENERATOR, "seed": str(SEED), "crops": ",".join(n for n, _, _ in CROPS),
                "regenerate": COMMAND}
    for name, (offset, scale, check) in generated.items():
        metadata[f"generate:{name}"] = f"{offset!r} {scale!r} {check}"
    tensors = dict(stored)
    tensors["golden.logits"] = np.asarray(logits, dtype=np.float64)
    tensors["golden.relevancy"] = np.stack(grids).astype(np.float64)
    path = os.path.join(HERE, f"{label}.golden.safetensors")
    mf.write_safetensors(path, tensors, metadata, keep_dtypes=True)
    print(f"wrote {os.path.relpath(path, REPO)} ({os.path.getsize(path) / 1024:.0f} kB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep-crops", action="store_true",
                        help="do not cut the crops again from tests/data/faces")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.set_flush_denormal(True)
    if not args.keep_crops:
        make_crops()
    for label, config in configs().items():
        model, stored, generated = build(config)
        write_golden(label, config, model, stored, generated)


if __name__ == "__main__":
    main()
