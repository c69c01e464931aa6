#!/usr/bin/python3
"""Random-weight models for the C++/Python cross-check, built in Python with a fixed seed.

Writes into OUTDIR:
  seed_state_dict.pth  the seed architecture as a plain torch state_dict in the seed's own key
                       layout (lukemelas names, num_batches_tracked included), i.e. what a real
                       checkpoint looks like; the check converts it with convert-seed-checkpoint.py
  spatial.safetensors  a spatial-token model (dim 256, depth 4, heads 4, dim_head 64, mlp 512)
                       written directly as a project model file

Random weights must behave like trained ones where it matters for a numerical comparison:
activations O(1) (no saturation, no denormals, which also ruin timings), logits O(1) that
differ between images, and attention that is neither uniform nor one-hot so the relevancy
grids are far from trivial. Plain Kaiming convolutions with BatchNorm statistics drawn
independently of the activations lose the image: measured, the image-dependent part of the
backbone features fell to 0.5% of their spread after 16 blocks, because each block shrank
the signal while the random BN offsets re-added constants. So the BN statistics are first
calibrated on synthetic, natural-image-like pictures (deterministic, no data needed) and then
perturbed: running_var x U(0.5,1.5), running_mean + small noise, gamma ~ U(0.5,1.5), beta small.

Interpreter: Debian's /usr/bin/python3 plus $DFD_PYDEPS (see reference_models.py).
Usage: make_random_models.py OUTDIR [--seed N] [--report IMAGE...]
"""

import argparse
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_models as rm  # noqa: E402  (also puts src/tools and the pydeps on sys.path)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import dfd_modelfile  # noqa: E402

DEFAULT_SEED = 20240611
SPATIAL_SHAPE = dict(dim=256, depth=4, heads=4, dim_head=64, mlp_dim=512)
FLOAT32_TINY = 1.1754944e-38  # smallest normal float32 (np.finfo warns under flush-denormal)


class _Rng:
    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def normal(self, shape, std, mean=0.0):
        return torch.randn(shape, generator=self.g) * std + mean

    def uniform(self, shape, lo, hi):
        return torch.rand(shape, generator=self.g) * (hi - lo) + lo


def synthetic_images(count, size, seed):
    """Deterministic "dead leaves" pictures, uint8 BGR: overlapping discs of random colour with
    power-law sizes plus a smooth shading and mild noise. Such images share the statistics of
    natural photographs (sharp edges, 1/f spectrum) that decide activation scales; smooth
    random fields alone underestimated real faces' activations several fold."""
    rs = np.random.RandomState(seed)
    images = []
    for _ in range(count):
        img = np.empty((size, size, 3), np.float32)
        img[:] = rs.uniform(60, 200, size=3)
        for _ in range(300):
            radius = size * 0.01 * (1.0 - rs.uniform()) ** -0.9  # heavy tail: few big, many small
            centre = tuple(int(v) for v in rs.uniform(0, size, size=2))
            colour = tuple(float(v) for v in rs.uniform(20, 235, size=3))
            cv2.circle(img, centre, int(min(radius, size / 2)), colour, -1, lineType=cv2.LINE_AA)
        shade = cv2.resize(rs.randn(3, 3, 3).astype(np.float32) * 25, (size, size),
                           interpolation=cv2.INTER_CUBIC)
        img += shade + rs.randn(size, size, 3).astype(np.float32) * 4
        images.append(np.clip(img, 0, 255).astype(np.uint8))
    return images


def _init_backbone(net, rng):
    for name, module in net.named_modules():
        if isinstance(module, nn.Conv2d):
            # He gain before swish; the linear bottleneck (project) and SE convs get gain 1.
            gain = 1.0 if ("_project_conv" in name or "_se_" in name) else math.sqrt(2.0)
            module.weight.copy_(rng.normal(module.weight.shape, gain / math.sqrt(module.weight[0].numel())))
            if module.bias is not None:
                module.bias.copy_(rng.normal(module.bias.shape, 0.1))
        elif isinstance(module, nn.Linear):  # the seed's unused _fc
            module.weight.copy_(rng.normal(module.weight.shape, 0.01))
            module.bias.zero_()


def _calibrate_and_perturb_bn(net, images, rng):
    """Set each BN's statistics from the input it actually receives on `images`, then perturb
    them, in one eval-mode pass in network order: every layer is calibrated on the output of
    the already-perturbed layers before it. (Calibrating all layers at once and perturbing
    afterwards compounds the mismatch: features grew a thousandfold over the 49 BN layers.)"""

    def calibrate(bn, inputs):
        x = inputs[0].detach()
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=False)
        bn.running_mean.copy_(mean + rng.normal(mean.shape, 0.1) * var.sqrt())
        bn.running_var.copy_(var * rng.uniform(var.shape, 0.5, 1.5))
        # What a checkpoint after some training would carry; dropped by the converter.
        bn.num_batches_tracked.fill_(100000)

    handles = []
    for bn in (m for m in net.modules() if isinstance(m, nn.BatchNorm2d)):
        bn.weight.copy_(rng.uniform(bn.weight.shape, 0.5, 1.5))
        bn.bias.copy_(rng.normal(bn.bias.shape, 0.1))
        handles.append(bn.register_forward_pre_hook(calibrate))
    net.eval()
    net.extract_features(images)
    for h in handles:
        h.remove()


def _init_transformer(model, rng, dim):
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and not name.startswith("efficient_net"):
            std = 0.02
            if name.endswith("to_qkv"):
                # Attention logits have spread about dim * std^2 * sqrt(dim_head) * scale
                # = dim * std^2; 2/dim gives about 2: peaky enough for a non-trivial
                # relevancy, not so peaky that softmax saturates (0.2 for the seed's dim 49).
                std = math.sqrt(2.0 / dim)
            module.weight.copy_(rng.normal(module.weight.shape, std))
            if module.bias is not None:
                module.bias.copy_(rng.normal(module.bias.shape, 0.02))
        elif isinstance(module, nn.LayerNorm):
            module.weight.copy_(rng.uniform(module.weight.shape, 0.8, 1.2))
            module.bias.copy_(rng.normal(module.bias.shape, 0.05))
        elif isinstance(module, nn.Conv1d):  # the seed's patch_to_embedding over 1280 features
            module.weight.copy_(rng.normal(module.weight.shape, 1.0 / math.sqrt(module.weight.shape[-1])))
            module.bias.copy_(rng.normal(module.bias.shape, 0.02))
    model.cls_token.copy_(rng.normal(model.cls_token.shape, 0.5))
    model.pos_embedding.copy_(rng.normal(model.pos_embedding.shape, 0.1))


@torch.no_grad()
def randomize(model, config, seed):
    rng = _Rng(seed)
    model.eval()
    _init_backbone(model.efficient_net, rng)
    size = config["input"]["size"]
    calib = torch.stack([rm.preprocess(img, config) for img in synthetic_images(8, size, seed)])
    _calibrate_and_perturb_bn(model.efficient_net, calib, rng)
    _init_transformer_and_head(model, config, rng)
    return model


@torch.no_grad()
def randomize_transformer(model, config, seed):
    """Random transformer and head on a backbone that keeps the weights it has (a pretrained
    one, say)."""
    model.eval()
    _init_transformer_and_head(model, config, _Rng(seed))
    return model


def _init_transformer_and_head(model, config, rng):
    _init_transformer(model, rng, config["transformer"]["dim"])
    # Heads with variance-preserving (rather than 0.02) weights, so the logit is O(1) and
    # varies between images instead of sitting near the bias.
    if config["architecture"] == "seed":
        dim, hidden = config["transformer"]["dim"], config["transformer"]["head_hidden"]
        model.mlp_head[0].weight.copy_(rng.normal(model.mlp_head[0].weight.shape, 1.0 / math.sqrt(dim)))
        model.mlp_head[2].weight.copy_(rng.normal(model.mlp_head[2].weight.shape, math.sqrt(2.0 / hidden)))
    else:
        dim = config["transformer"]["dim"]
        model.head.weight.copy_(rng.normal(model.head.weight.shape, 1.0 / math.sqrt(dim)))


def make_seed(seed):
    config = dfd_modelfile.seed_config(name="random-seed", source=f"random weights, make_random_models.py seed {seed}")
    return randomize(rm.build_model(config), config, seed), config


def make_spatial(seed):
    config = dfd_modelfile.spatial_config(
        name="random-spatial", source=f"random weights, make_random_models.py seed {seed}",
        training={"method": "random-init", "seed": seed}, **SPATIAL_SHAPE)
    return randomize(rm.build_model(config), config, seed + 1), config


def make_models(outdir, seed=DEFAULT_SEED):
    """-> {'seed_state_dict': path, 'spatial': path}"""
    os.makedirs(outdir, exist_ok=True)
    seed_model, _ = make_seed(seed)
    seed_path = os.path.join(outdir, "seed_state_dict.pth")
    torch.save(seed_model.state_dict(), seed_path)

    spatial_model, spatial_cfg = make_spatial(seed)
    spatial_path = os.path.join(outdir, "spatial.safetensors")
    tensors = {k: v for k, v in spatial_model.state_dict().items() if not k.endswith(".num_batches_tracked")}
    dfd_modelfile.write_model(spatial_path, tensors, spatial_cfg)
    return {"seed_state_dict": seed_path, "spatial": spatial_path}


# ---- diagnostics --------------------------------------------------------------------------------

def report(model, config, images):
    """Print what makes random weights usable for the comparison (see the module docstring)."""
    denormals, smallest = [0], [math.inf]

    def hook(_module, _inp, out):
        if isinstance(out, torch.Tensor):
            a = out.detach().abs()
            denormals[0] += int(((a > 0) & (a < FLOAT32_TINY)).sum())
            nz = a[a > 0]
            if nz.numel():
                smallest[0] = min(smallest[0], float(nz.min()))

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    x = torch.stack([rm.load_image(p, config) for p in images])
    with torch.no_grad():
        features = model.efficient_net.extract_features(x)
        logits = rm.classify(model, x)
    for h in handles:
        h.remove()
    print(f"{config['name']}: {rm.parameter_count(model):,} parameters")
    print(f"  features: std {float(features.std()):.3f}, max {float(features.abs().max()):.2f}, "
          f"image-dependent part {float(features.std(0).mean() / features.std()):.3f} of the spread")
    print(f"  logits: {', '.join(f'{v:.3f}' for v in logits.tolist())}")
    print(f"  denormal activations: {denormals[0]}, smallest non-zero |activation| {smallest[0]:.3g}")
    blocks = model.transformer.blocks
    for p in images[:2]:
        x = rm.load_image(p, config)
        with torch.no_grad():  # relevancy() drops the maps, so look at them on a plain pass
            model(x.unsqueeze(0))
            entropy = [float(-(a * a.clamp_min(1e-30).log()).sum(-1).mean())
                       for a in (b.attn.attention_map for b in blocks)]
        tokens = blocks[0].attn.attention_map.shape[-1]
        logit, grid = rm.relevancy(model, x)
        flat = grid.ravel()
        print(f"  {os.path.basename(p)}: logit {logit:.4f}; attention entropy per block "
              f"{', '.join(f'{e:.2f}' for e in entropy)} (uniform {math.log(tokens):.2f}); relevancy grid "
              f"{grid.shape[0]}x{grid.shape[1]} min {flat.min():.3g} max {flat.max():.3g} "
              f"mean {flat.mean():.3g}, {int((flat > 0.01 * flat.max()).sum())} cells above 1% of max")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--report", nargs="+", metavar="IMAGE",
                        help="also print activation, logit, attention and relevancy statistics on these images")
    args = parser.parse_args()
    torch.set_num_threads(2)
    paths = make_models(args.outdir, args.seed)
    for path in paths.values():
        print(f"wrote {path}")
    if args.report:
        seed_file = os.path.join(args.outdir, "seed.safetensors")
        subprocess.run([sys.executable, os.path.join(rm.REPO, "src", "tools", "convert-seed-checkpoint.py"),
                        paths["seed_state_dict"], seed_file], check=True)
        for path in (seed_file, paths["spatial"]):
            model, config = rm.load_model(path)
            report(model, config, args.report)


if __name__ == "__main__":
    main()
