#!/usr/bin/python3
"""The seed's explanation path in eager PyTorch, timed, for the side-by-side benchmark.

Per face, "explain_b1" does what the seed's explain_model.py does for each image: a
prediction forward (gradients enabled, as the seed leaves them), then generate_relevance: a
second forward with hooks on the attention maps, zero_grad, a full backward from the raw logit
through the whole network (backbone included; blocks 0-12 frozen as evit_model10 freezes
them, which spares their weight gradients but not the backward through them), and the
rollout with full 1025 x 1025 (seed) relevancy matrices. "explain_b1_single_pass" is the same
without the separate prediction forward (the logit comes from the explaining forward).
"classify_b1"/"classify_b8" are no_grad forwards at batch 1 and 8. Images are read and
preprocessed once, before timing (its cost is reported separately), so the figures compare
model work only.

Either architecture loads (the model file says which) into the independent reference
implementation in tests/reference/reference_models.py.

Interpreter: Debian's /usr/bin/python3 (python3-torch, python3-opencv) plus efficientnet_pytorch
and einops in $DFD_PYDEPS (default <repo>/.pydeps). For figures comparable with the C++
benchmark run both under the same GLIBC_TUNABLES and BLAS (see shared/reference/build-notes.md);
both are reported in the output.

Prints one JSON object.
"""

import argparse
import glob
import json
import math
import os
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "reference"))

import torch  # noqa: E402

import reference_models as rm  # noqa: E402

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def image_list(items):
    files = []
    for item in items:
        if os.path.isdir(item):
            files += sorted(p for p in glob.glob(os.path.join(item, "*")) if p.lower().endswith(IMAGE_SUFFIXES))
        else:
            files.append(item)
    return files


def freeze_like_seed(model):
    # evit_model10.__init__: only the last 3 of the 16 MBConv blocks train.
    blocks = model.efficient_net._blocks
    for i, block in enumerate(blocks):
        for p in block.parameters():
            p.requires_grad = i >= len(blocks) - 3


def generate_relevance(model, x):
    """explain_model.generate_relevance, on the CPU."""
    output = model(x, register_hook=True)
    model.zero_grad()
    output.backward(retain_graph=True)
    blocks = model.transformer.blocks
    tokens = blocks[0].attn.attention_map.shape[-1]
    # The seed runs the rollout with autograd on; here it runs under no_grad (same arithmetic):
    # with autograd the rollout's graph, tied to the retained one, was never freed (about
    # 1.1 GB lost per seed face, measured, gc.collect() notwithstanding).
    with torch.no_grad():
        R = torch.eye(tokens, tokens, device=x.device)
        for block in blocks:
            grad = block.attn.attn_gradients
            cam = block.attn.attention_map
            grad = grad.reshape(-1, grad.shape[-2], grad.shape[-1])
            cam = cam.reshape(-1, cam.shape[-2], cam.shape[-1])
            cam = (grad * cam).clamp(min=0).mean(dim=0)
            R += torch.matmul(cam, R)
    return output, R[0, 1:]


def explain_seed_way(model, x):
    torch.sigmoid(model(x))  # the seed's pred_score forward, with autograd recording
    _, grid = generate_relevance(model, x)
    return grid


def explain_single_pass(model, x):
    output, grid = generate_relevance(model, x)
    return torch.sigmoid(output), grid


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, inputs, count, warmup, faces_per_call):
    """Run fn over inputs (cycling) `warmup` times, then time enough calls for `count` faces."""
    device = inputs[0].device
    for i in range(warmup):
        fn(inputs[i % len(inputs)])
    synchronize(device)
    calls = max(1, math.ceil(count / faces_per_call))
    start = time.perf_counter()
    for i in range(calls):
        fn(inputs[i % len(inputs)])
    synchronize(device)
    seconds = time.perf_counter() - start
    return calls * faces_per_call / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model file (.safetensors), seed or spatial")
    parser.add_argument("--images", nargs="+", required=True, help="image files and/or folders")
    parser.add_argument("--count", type=int, default=40, help="faces timed per mode (default 40)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per mode first (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    args = parser.parse_args()
    device = torch.device(args.device)

    torch.set_num_threads(args.threads)
    # Denormals would make timings meaningless (build-notes: 56 ms instead of 17 for B0).
    torch.set_flush_denormal(True)

    files = image_list(args.images)
    if not files:
        parser.error("no images found")
    model, config = rm.load_model(args.model)
    freeze_like_seed(model)
    model.to(device)

    start = time.perf_counter()
    images = [rm.load_image(p, config) for p in files[:max(args.count, 8)]]
    preprocess_ms = 1000 * (time.perf_counter() - start) / len(images)
    singles = [x.unsqueeze(0).to(device) for x in images]
    batches = [torch.stack([images[(i + j) % len(images)] for j in range(8)]).to(device)
               for i in range(0, len(images), 8)]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def classify(x):
        with torch.no_grad():
            return torch.sigmoid(model(x))

    fps = {
        "explain_b1": timed(lambda x: explain_seed_way(model, x), singles, args.count, args.warmup, 1),
        "explain_b1_single_pass": timed(lambda x: explain_single_pass(model, x), singles, args.count,
                                        args.warmup, 1),
        "classify_b1": timed(classify, singles, args.count, args.warmup, 1),
        "classify_b8": timed(classify, batches, args.count, args.warmup, 8),
    }
    result = {
        "tool": "benchmarks/reference_explain.py",
        "implementation": "PyTorch eager reference (efficientnet_pytorch 0.7.1 backbone), the seed's explain path",
        "model": args.model,
        "name": config["name"],
        "architecture": config["architecture"],
        "torch": torch.__version__,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "flush_denormal": True,
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""),
        "images": len(images),
        "count": args.count,
        "warmup": args.warmup,
        "preprocess_ms_per_image": round(preprocess_ms, 3),
        "faces_per_second": {k: round(v, 3) for k, v in fps.items()},
        "ms_per_face": {k: round(1000.0 / v, 2) for k, v in fps.items()},
    }
    if device.type == "cuda":
        result["peak_device_mib"] = round(torch.cuda.max_memory_allocated(device) / 1048576.0, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
