"""Python side of the project's model file: safetensors with the model config in the header.

A model file is a safetensors file whose ``__metadata__["config"]`` holds the JSON config
(schema in ``seed_config``/``spatial_config`` below; the C++ reader rejects unknown keys).
This module needs only numpy, so the converter and the tests can use it without the PyPI
extras; torch tensors are accepted on write when torch happens to be loaded.

Runs under Debian's /usr/bin/python3 (python3-numpy; torch is optional here).
"""

import json
import os
import struct
import tempfile

import numpy as np

FORMAT = "gst-deepfake-model"
FORMAT_VERSION = 1
CONFIG_KEY = "config"

# Real headers are a few hundred KiB; the limit only stops a corrupt length from making us
# read gigabytes. Same figure as the C++ reader.
MAX_HEADER_BYTES = 16 << 20

_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}


class ModelFileError(ValueError):
    pass


def _as_float32_array(name, value):
    # torch is optional: duck-type on .detach() so this module never imports it.
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind != "f":
        raise ModelFileError(f"tensor {name!r}: expected a float tensor, got {array.dtype}")
    return np.ascontiguousarray(array, dtype="<f4")


def write_safetensors(path, tensors, metadata=None, keep_dtypes=False):
    """Write float32 tensors (name -> numpy array or torch tensor), data in the given order.
    With keep_dtypes, numpy arrays of another safetensors dtype (float16, float64, ...) are
    written as they are instead (the test goldens store float16 and float64 values).

    The header is padded with spaces to a multiple of 8 so the data section stays aligned
    for readers that map the file. Written to a temporary file and renamed, so an
    interrupted write never leaves a torn model behind.
    """
    metadata = dict(metadata or {})
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ModelFileError("safetensors metadata must map str to str")
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    arrays = []
    offset = 0
    for name, value in tensors.items():
        if name == "__metadata__":
            raise ModelFileError("'__metadata__' is not a tensor name")
        dtype = "F32"
        if keep_dtypes and isinstance(value, np.ndarray) and value.dtype != np.float32:
            dtype = next((k for k, v in _DTYPES.items() if v == value.dtype.newbyteorder("<")), None)
            if dtype is None:
                raise ModelFileError(f"tensor {name!r}: no safetensors dtype for {value.dtype}")
            array = np.ascontiguousarray(value, dtype=_DTYPES[dtype])
        else:
            array = _as_float32_array(name, value)
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
        arrays.append(array)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)

    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(struct.pack("<Q", len(header_bytes)))
            out.write(header_bytes)
            for array in arrays:
                out.write(array.tobytes(order="C"))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_safetensors(path):
    """Read a safetensors file -> (dict name -> numpy array, metadata dict).

    Checks the header length, that every tensor's byte range lies inside the data section,
    matches its dtype and shape, and that ranges neither overlap nor leave holes.
    """
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ModelFileError(f"{path}: too short for a safetensors file ({len(data)} bytes)")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > MAX_HEADER_BYTES or 8 + header_len > len(data):
        raise ModelFileError(f"{path}: header length {header_len} exceeds the file or the limit")
    try:
        header = json.loads(data[8:8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path}: header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ModelFileError(f"{path}: __metadata__ must map strings to strings")

    body = memoryview(data)[8 + header_len:]
    tensors = {}
    ranges = []
    for name, info in header.items():
        try:
            dtype = _DTYPES[info["dtype"]]
            shape = [int(d) for d in info["shape"]]
            begin, end = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ModelFileError(f"{path}: tensor {name!r}: bad or unsupported entry {info!r}") from None
        if any(d < 0 for d in shape):
            raise ModelFileError(f"{path}: tensor {name!r}: negative dimension in {shape}")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if not 0 <= begin <= end <= len(body) or end - begin != nbytes:
            raise ModelFileError(f"{path}: tensor {name!r}: byte range [{begin}, {end}) does not fit "
                                 f"the data section ({len(body)} bytes) or its shape {shape}")
        tensors[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(shape).copy()
        ranges.append((begin, end, name))
    position = 0
    for begin, end, name in sorted(ranges):
        if begin != position:
            raise ModelFileError(f"{path}: tensor {name!r} starts at {begin}, expected {position} "
                                 "(overlapping tensors or a hole in the data section)")
        position = end
    if position != len(body):
        raise ModelFileError(f"{path}: {len(body) - position} trailing bytes after the last tensor")
    return tensors, metadata


# ---- config -------------------------------------------------------------------------------

def _base_config(name, architecture, source, threshold, size, color_order, mean, std, training):
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "architecture": architecture,
        "backbone": "efficientnet-b0",
        "input": {"size": int(size), "color_order": color_order,
                  "mean": [float(v) for v in mean], "std": [float(v) for v in std],
                  "resize": "isotropic-pad"},
    }
    return config, {"threshold": float(threshold), "source": source,
                    **({"training": training} if training is not None else {})}


def seed_config(name="seed-efficientnetB0-checkpoint89", threshold=0.55,
                source="noame12/Explainable_Attention_Based_Deepfake_Detector", training=None):
    """The seed's fixed architecture (spec section 1): only name, provenance and threshold vary."""
    config, tail = _base_config(name, "seed", source, threshold, 224, "BGR",
                                [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], training)
    config["transformer"] = {"dim": 49, "depth": 6, "heads": 8, "dim_head": 64, "mlp_dim": 2048,
                             "head_hidden": 2048, "tokens": 1024,
                             "dropout": 0.15, "emb_dropout": 0.15}
    config.update(tail)
    return config


def spatial_config(name, source, dim=256, depth=4, heads=4, dim_head=64, mlp_dim=512, size=224,
                   dropout=0.15, emb_dropout=0.15, threshold=0.5, color_order="BGR",
                   mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), training=None,
                   backbone="efficientnet-b0"):
    """One token per backbone feature cell ((size/32)^2 tokens), final LayerNorm, Linear head."""
    if size % 32:
        raise ModelFileError(f"input size {size} is not a multiple of 32")
    config, tail = _base_config(name, "spatial", source, threshold, size, color_order,
                                mean, std, training)
    config["backbone"] = backbone
    config["transformer"] = {"dim": int(dim), "depth": int(depth), "heads": int(heads),
                             "dim_head": int(dim_head), "mlp_dim": int(mlp_dim),
                             "dropout": float(dropout), "emb_dropout": float(emb_dropout)}
    config.update(tail)
    return config


def config_metadata(config):
    return {CONFIG_KEY: json.dumps(config, separators=(",", ":"))}


def config_from_metadata(metadata, label="model"):
    try:
        config = json.loads(metadata[CONFIG_KEY])
    except KeyError:
        raise ModelFileError(f"{label}: no '{CONFIG_KEY}' entry in the safetensors metadata") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{label}: metadata '{CONFIG_KEY}' is not a {FORMAT} config")
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{label}: unsupported format_version {config.get('format_version')!r}")
    return config


def read_model(path):
    """-> (tensors, config) of a project model file."""
    tensors, metadata = read_safetensors(path)
    return tensors, config_from_metadata(metadata, path)


def write_model(path, tensors, config):
    write_safetensors(path, tensors, config_metadata(config))


# ---- expected tensors, from the spec alone ---------------------------------------------------
# Derived from the EfficientNet-B0 block table rather than from efficientnet_pytorch, so the
# converter runs without the PyPI extras; the reference tests check this list against the
# lukemelas module's own state_dict.

# (repeats, kernel, stride, expand ratio, input filters, output filters); SE ratio 0.25.
_B0_STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
              (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192),
              (1, 3, 1, 6, 192, 320)]


def _bn(prefix, channels):
    return [(f"{prefix}.{p}", (channels,)) for p in ("weight", "bias", "running_mean", "running_var")]


def efficientnet_b0_tensors(include_fc, squeeze_excitation=True):
    """(name, shape) of the lukemelas EfficientNet-B0 state_dict without num_batches_tracked.
    Without squeeze-and-excitation it is EfficientNet-Lite0's (same blocks, stem and head)."""
    out = [("_conv_stem.weight", (32, 3, 3, 3))] + _bn("_bn0", 32)
    index = 0
    for repeats, kernel, _stride, expand, cin, cout in _B0_STAGES:
        for r in range(repeats):
            inp = cin if r == 0 else cout
            mid = inp * expand
            squeezed = max(1, int(inp * 0.25))  # lukemelas: from the block's input filters
            p = f"_blocks.{index}"
            if expand != 1:
                out += [(f"{p}._expand_conv.weight", (mid, inp, 1, 1))] + _bn(f"{p}._bn0", mid)
            out += [(f"{p}._depthwise_conv.weight", (mid, 1, kernel, kernel))] + _bn(f"{p}._bn1", mid)
            if squeeze_excitation:
                out += [(f"{p}._se_reduce.weight", (squeezed, mid, 1, 1)),
                        (f"{p}._se_reduce.bias", (squeezed,)),
                        (f"{p}._se_expand.weight", (mid, squeezed, 1, 1)),
                        (f"{p}._se_expand.bias", (mid,))]
            out += [(f"{p}._project_conv.weight", (cout, mid, 1, 1))] + _bn(f"{p}._bn2", cout)
            index += 1
    out += [("_conv_head.weight", (1280, 320, 1, 1))] + _bn("_bn1", 1280)
    if include_fc:
        out += [("_fc.weight", (1000, 1280)), ("_fc.bias", (1000,))]
    return out


def _block_tensors(prefix, dim, heads, dim_head, mlp_dim):
    inner = heads * dim_head
    return [(f"{prefix}.norm1.weight", (dim,)), (f"{prefix}.norm1.bias", (dim,)),
            (f"{prefix}.attn.to_qkv.weight", (3 * inner, dim)),
            (f"{prefix}.attn.to_out.0.weight", (dim, inner)), (f"{prefix}.attn.to_out.0.bias", (dim,)),
            (f"{prefix}.norm2.weight", (dim,)), (f"{prefix}.norm2.bias", (dim,)),
            (f"{prefix}.mlp.net.0.weight", (mlp_dim, dim)), (f"{prefix}.mlp.net.0.bias", (mlp_dim,)),
            (f"{prefix}.mlp.net.3.weight", (dim, mlp_dim)), (f"{prefix}.mlp.net.3.bias", (dim,))]


def expected_tensors(config):
    """[(name, shape)] a model file of this config must hold, in torch's state_dict order
    (a module's own parameters before its children's: pos_embedding and cls_token first)."""
    t = config["transformer"]
    dim, depth = t["dim"], t["depth"]
    arch = config["architecture"]
    if arch == "seed":
        tokens = t["tokens"]
        out = [("pos_embedding", (1, tokens + 1, dim)), ("cls_token", (1, 1, dim))]
        out += [("efficient_net." + n, s) for n, s in efficientnet_b0_tensors(include_fc=True)]
        out += [("patch_to_embedding.weight", (tokens, 1, 1280)), ("patch_to_embedding.bias", (tokens,))]
    elif arch == "spatial":
        cells = (config["input"]["size"] // 32) ** 2
        out = [("pos_embedding", (1, cells + 1, dim)), ("cls_token", (1, 1, dim))]
        lite = config.get("backbone") == "efficientnet-lite0"
        out += [("efficient_net." + n, s)
                for n, s in efficientnet_b0_tensors(include_fc=False, squeeze_excitation=not lite)]
        out += [("patch_to_embedding.weight", (dim, 1280)), ("patch_to_embedding.bias", (dim,))]
    else:
        raise ModelFileError(f"unknown architecture {arch!r}")
    for i in range(depth):
        out += _block_tensors(f"transformer.blocks.{i}", dim, t["heads"], t["dim_head"], t["mlp_dim"])
    if arch == "seed":
        hidden = t["head_hidden"]
        out += [("mlp_head.0.weight", (hidden, dim)), ("mlp_head.0.bias", (hidden,)),
                ("mlp_head.2.weight", (1, hidden)), ("mlp_head.2.bias", (1,))]
    else:
        out += [("norm.weight", (dim,)), ("norm.bias", (dim,)),
                ("head.weight", (1, dim)), ("head.bias", (1,))]
    return out


def is_batchnorm_buffer(name):
    return name.endswith(".running_mean") or name.endswith(".running_var")
