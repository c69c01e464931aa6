#!/usr/bin/python3
"""Convert the seed's published PyTorch checkpoint (evit_model10, e.g. efficientnetB0_checkpoint89_All)
into the project's model file (safetensors + JSON config).

Runs under Debian's /usr/bin/python3 with python3-torch; needs nothing from PyPI.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import dfd_modelfile  # noqa: E402

EXIT_BAD_CHECKPOINT = 2

DESCRIPTION = """\
Convert the seed model's PyTorch checkpoint (a state_dict of the
noame12/Explainable_Attention_Based_Deepfake_Detector EfficientViT "evit_model10",
optionally wrapped in {'state_dict': ...} or {'model': ...}, keys optionally prefixed
'module.') into a gst-deepfake model file.

The checkpoint is read with torch.load(..., weights_only=True): only tensors and plain
containers are unpickled, so no code stored in the checkpoint can run. Checkpoints that
need arbitrary pickled objects are refused rather than executed.

Every tensor the seed architecture needs is checked by name and shape (8,575,403
parameters, including the unused 1000-class _fc layer); BatchNorm num_batches_tracked
counters are dropped. Exit status 2 for a checkpoint that does not match."""


def fail(message):
    print(f"convert-seed-checkpoint: {message}", file=sys.stderr)
    sys.exit(EXIT_BAD_CHECKPOINT)


def unwrap_state_dict(obj):
    # Training scripts commonly save {'state_dict': sd, 'epoch': ...} or {'model': sd};
    # DataParallel adds 'module.' to every key.
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        fail(f"checkpoint holds a {type(obj).__name__}, not a state_dict")
    if obj and all(isinstance(k, str) and k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def convert(state_dict, config):
    """-> ordered dict name -> float32 tensor, or exit 2 listing every mismatch."""
    import torch

    expected = dfd_modelfile.expected_tensors(config)
    expected_names = {name for name, _ in expected}
    present = {k: v for k, v in state_dict.items() if not k.endswith(".num_batches_tracked")}
    problems = []
    missing = [name for name, _ in expected if name not in present]
    unexpected = sorted(k for k in present if k not in expected_names)
    if missing:
        problems.append(f"{len(missing)} missing tensor(s):\n  " + "\n  ".join(missing))
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensor(s):\n  " + "\n  ".join(unexpected))
    for name, shape in expected:
        value = present.get(name)
        if value is None:
            continue
        if not isinstance(value, torch.Tensor):
            problems.append(f"{name}: not a tensor ({type(value).__name__})")
        elif tuple(value.shape) != tuple(shape):
            problems.append(f"{name}: shape {tuple(value.shape)}, expected {tuple(shape)}")
        elif not value.is_floating_point():
            problems.append(f"{name}: dtype {value.dtype}, expected a float type")
    if problems:
        fail("the checkpoint does not match the seed architecture (evit_model10):\n"
             + "\n".join(problems))
    # Half-precision checkpoints widen exactly; the file format is float32 throughout.
    return {name: present[name].detach().to(torch.float32).contiguous() for name, _ in expected}


def main(argv=None):
    parser = argparse.ArgumentParser(description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="the seed's .pth / state_dict file")
    parser.add_argument("output", help="model file to write (.safetensors)")
    parser.add_argument("--name", help="model name stored in the config "
                        "(default: the checkpoint's file name)")
    parser.add_argument("--source", help="provenance stored in the config (default: the seed "
                        "project and the checkpoint's file name)")
    parser.add_argument("--threshold", type=float, default=0.55,
                        help="decision threshold on sigmoid(logit) (default: the seed's 0.55)")
    args = parser.parse_args(argv)

    if not 0.0 < args.threshold < 1.0:
        parser.error("--threshold must lie strictly between 0 and 1")
    try:
        import torch
    except ImportError:
        print("convert-seed-checkpoint: needs PyTorch (Debian: apt install python3-torch)",
              file=sys.stderr)
        return 1

    base = os.path.basename(args.checkpoint)
    name = args.name or os.path.splitext(base)[0]
    source = args.source or f"noame12/Explainable_Attention_Based_Deepfake_Detector checkpoint {base}"
    config = dfd_modelfile.seed_config(name=name, threshold=args.threshold, source=source)

    try:
        checkpoint = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        fail(f"{args.checkpoint}: no such file")
    except Exception as e:  # the unpickler raises many types; all mean "not loadable safely"
        fail(f"{args.checkpoint}: cannot be read as a weights-only PyTorch checkpoint: {e}")

    tensors = convert(unwrap_state_dict(checkpoint), config)
    dfd_modelfile.write_model(args.output, tensors, config)
    count = sum(t.numel() for n, t in tensors.items() if not dfd_modelfile.is_batchnorm_buffer(n))
    print(f"wrote {args.output}: {len(tensors)} tensors, {count:,} parameters, "
          f"name {name!r}, threshold {args.threshold}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
