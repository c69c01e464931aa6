"""Independent PyTorch reference for the project's two architectures and the relevancy rule.

Written from the spec (shared/reference/seed-model.md) and the seed's own evit_model10 code
structure, NOT from the C++: the backbone is the very library the seed used
(efficientnet_pytorch 0.7.1, lukemelas) or, for EfficientNet-Lite0 (the shipped model's
backbone), the library its ImageNet weights were converted for (efficientnet_lite_pytorch 0.1.0,
ML Illustrated's fork of lukemelas's), the seed's tokens come from einops.rearrange plus a
Conv1d exactly as in evit_model10, and relevancy is computed the plain (slow) way: hooks on
the attention maps, a full backward from the logit through the whole network, full T x T
relevancy matrices, batch 1. Agreement with the C++ (which uses a different formulation)
therefore means something.

Interpreter: Debian's /usr/bin/python3 (python3-torch, python3-opencv, python3-numpy) with
the PyPI packages of .ci/pydeps.txt in $DFD_PYDEPS (default <repo>/.pydeps), which
.ci/install-deps installs there.
"""

import os
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def pydeps_dir():
    return os.environ.get("DFD_PYDEPS") or os.path.join(REPO, ".pydeps")


def _add_paths():
    for path in (os.path.join(REPO, "src", "tools"), pydeps_dir()):
        if path not in sys.path:
            sys.path.insert(0, path)


_add_paths()

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from einops import rearrange  # noqa: E402
from efficientnet_pytorch import EfficientNet  # noqa: E402
from efficientnet_lite_pytorch import EfficientNet as EfficientNetLite  # noqa: E402

import dfd_modelfile  # noqa: E402

FEATURE_CHANNELS = 1280  # conv_head width of EfficientNet-B0 and -Lite0
FEATURE_STRIDE = 32


# ---- preprocessing (spec section 2) --------------------------------------------------------

def isotropic_resize(img, size):
    """The seed's albumentations IsotropicResize (isotropically_resize_image), verbatim in effect.

    The float arithmetic matters for bit-exactness: the short side is h * (size / w) truncated,
    which is not always floor(h * size / w); and an image whose long side already equals size
    is returned untouched. A square image scales by its height (the `else` branch).
    """
    h, w = img.shape[:2]
    if max(w, h) == size:
        return img
    if w > h:
        scale = size / w
        h = h * scale
        w = size
    else:
        scale = size / h
        w = w * scale
        h = size
    interpolation = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    return cv2.resize(img, (int(w), int(h)), interpolation=interpolation)


def pad_center(img, size):
    """Zero padding to size x size, the extra pixel of an odd margin going bottom/right."""
    h, w = img.shape[:2]
    top, left = (size - h) // 2, (size - w) // 2
    out = np.zeros((size, size) + img.shape[2:], dtype=img.dtype)
    out[top:top + h, left:left + w] = img
    return out


def preprocess(img_bgr, config):
    """uint8 BGR HxWx3 image -> float32 tensor 3 x size x size, as the model file's config says.

    Padding is applied to the 0..255 pixels before normalisation, so with a non-zero mean the
    border becomes -mean/std, not 0.
    """
    inp = config["input"]
    size = inp["size"]
    img = pad_center(isotropic_resize(img_bgr, size), size)
    if inp["color_order"] == "RGB":
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    elif inp["color_order"] != "BGR":
        raise ValueError(f"unknown color_order {inp['color_order']!r}")
    x = img.astype(np.float32)
    x = (x - np.asarray(inp["mean"], np.float32)) / np.asarray(inp["std"], np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


def load_image(path, config):
    img = cv2.imread(path)  # IMREAD_COLOR: always 3-channel BGR, EXIF orientation applied
    if img is None:
        raise IOError(f"cannot read image {path}")
    return preprocess(img, config)


# ---- transformer (evit_model10's Block structure; names match the checkpoint) ---------------

class Attention(nn.Module):
    def __init__(self, dim, heads, dim_head, dropout):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.scale = dim_head ** -0.5
        self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(dropout))
        self.attention_map = None
        self.attn_gradients = None

    def _save_gradients(self, grad):
        self.attn_gradients = grad

    def forward(self, x, register_hook=False):
        q, k, v = (rearrange(t, "b n (h d) -> b h n d", h=self.heads)
                   for t in self.to_qkv(x).chunk(3, dim=-1))
        attn = torch.softmax(torch.einsum("bhid,bhjd->bhij", q, k) * self.scale, dim=-1)
        self.attention_map = attn
        if register_hook:
            attn.register_hook(self._save_gradients)
        out = torch.einsum("bhij,bhjd->bhid", attn, v)
        return self.to_out(rearrange(out, "b h n d -> b n (h d)"))


class FeedForward(nn.Module):
    def __init__(self, dim, hidden, dropout):
        super().__init__()
        # Same Sequential layout as the seed, hence the .net.0 / .net.3 tensor names.
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, dim), nn.Dropout(dropout))

    def forward(self, x):
        return self.net(x)


class Block(nn.Module):
    def __init__(self, dim, heads, dim_head, mlp_dim, dropout):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dim_head, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim, mlp_dim, 0.0)  # the seed builds its MLP without dropout

    def forward(self, x, register_hook=False):
        x = x + self.attn(self.norm1(x), register_hook=register_hook)
        return x + self.mlp(self.norm2(x))


class Transformer(nn.Module):
    def __init__(self, dim, depth, heads, dim_head, mlp_dim, dropout):
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim, heads, dim_head, mlp_dim, dropout) for _ in range(depth))

    def forward(self, x, register_hook=False):
        for block in self.blocks:
            x = block(x, register_hook=register_hook)
        return x


BACKBONES = ("efficientnet-b0", "efficientnet-lite0")


def _backbone(name, size):
    # from_name builds the architecture only (no download). The TF-"SAME" static padding is
    # computed from image_size at construction; the seed used 224.
    if name == "efficientnet-lite0":
        return EfficientNetLite.from_name("efficientnet-lite0", image_size=size)
    return EfficientNet.from_name("efficientnet-b0", image_size=size)


# ---- the two architectures ----------------------------------------------------------------

class SeedModel(nn.Module):
    """evit_model10: 1024 channel-projection tokens of width 49 (spec section 1)."""

    patch_size = 7

    def __init__(self, config):
        super().__init__()
        t = config["transformer"]
        if config["input"]["size"] != 224:
            raise ValueError("the seed architecture is defined for 224x224 input only")
        tokens, dim = t["tokens"], t["dim"]
        self.grid = (32, 32) if tokens == 1024 else (1, tokens)
        # Registration order follows evit_model10 so state_dict() has the checkpoint's key order.
        self.efficient_net = _backbone("efficientnet-b0", 224)
        self.pos_embedding = nn.Parameter(torch.zeros(1, tokens + 1, dim))
        self.patch_to_embedding = nn.Conv1d(1, tokens, kernel_size=FEATURE_CHANNELS,
                                            stride=FEATURE_CHANNELS)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.dropout = nn.Dropout(t["emb_dropout"])
        self.transformer = Transformer(dim, t["depth"], t["heads"], t["dim_head"], t["mlp_dim"],
                                       t["dropout"])
        self.mlp_head = nn.Sequential(nn.Linear(dim, t["head_hidden"]), nn.ReLU(),
                                      nn.Linear(t["head_hidden"], 1))

    def forward(self, img, register_hook=False):
        p = self.patch_size
        x = self.efficient_net.extract_features(img)  # B x 1280 x 7 x 7
        y = rearrange(x, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=p, p2=p)  # B x 1 x 62720
        y = self.patch_to_embedding(y)  # B x 1024 x 49
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), y), dim=1)
        x = self.dropout(x + self.pos_embedding)
        x = self.transformer(x, register_hook=register_hook)
        return self.mlp_head(x[:, 0])  # B x 1


class SpatialModel(nn.Module):
    """One token per backbone feature cell: token 1 + y*w + x is cell (y, x)."""

    def __init__(self, config):
        super().__init__()
        t = config["transformer"]
        side = config["input"]["size"] // FEATURE_STRIDE
        dim = t["dim"]
        self.grid = (side, side)
        self.efficient_net = _backbone(config["backbone"], config["input"]["size"])
        del self.efficient_net._fc  # the classifier is not part of this architecture's file
        self.pos_embedding = nn.Parameter(torch.zeros(1, side * side + 1, dim))
        self.patch_to_embedding = nn.Linear(FEATURE_CHANNELS, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.dropout = nn.Dropout(t["emb_dropout"])
        self.transformer = Transformer(dim, t["depth"], t["heads"], t["dim_head"], t["mlp_dim"],
                                       t["dropout"])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 1)

    def forward(self, img, register_hook=False):
        f = self.efficient_net.extract_features(img)  # B x 1280 x h x w
        tokens = self.patch_to_embedding(f.flatten(2).transpose(1, 2))  # B x hw x dim
        x = torch.cat((self.cls_token.expand(f.shape[0], -1, -1), tokens), dim=1)
        x = self.dropout(x + self.pos_embedding)
        x = self.transformer(x, register_hook=register_hook)
        return self.head(self.norm(x[:, 0]))  # B x 1


def build_model(config):
    arch = config["architecture"]
    if config.get("backbone") not in BACKBONES:
        raise ValueError(f"unsupported backbone {config.get('backbone')!r}")
    if arch == "seed":
        if config["backbone"] != "efficientnet-b0":
            raise ValueError("the seed architecture has an EfficientNet-B0 backbone")
        return SeedModel(config)
    if arch == "spatial":
        return SpatialModel(config)
    raise ValueError(f"unknown architecture {arch!r}")


def load_model(path, dtype=torch.float32):
    """Model file -> (model in eval mode, config). Every expected tensor must be in the file."""
    tensors, config = dfd_modelfile.read_model(path)
    model = build_model(config)
    state = {name: torch.from_numpy(value) for name, value in tensors.items()}
    result = model.load_state_dict(state, strict=False)
    # The file format leaves out BatchNorm's num_batches_tracked counters (unused in eval).
    missing = [k for k in result.missing_keys if not k.endswith(".num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ValueError(f"{path}: missing {missing}, unexpected {result.unexpected_keys}")
    return model.to(dtype).eval(), config


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


# ---- relevancy (spec section 4), the plain way ------------------------------------------------

def relevancy(model, image):
    """image: 3 x S x S tensor -> (logit, relevancy grid as a numpy array of model.grid's shape).

    Backward from the raw logit through the whole network; R = I; per block in forward order
    cam = mean_heads(clamp(grad_attn * attn, min=0)), R = R + cam @ R; grid = R[0, 1:].
    """
    dtype = next(model.parameters()).dtype
    model.zero_grad(set_to_none=True)
    with torch.enable_grad():
        logit = model(image.unsqueeze(0).to(dtype), register_hook=True)[0, 0]
        logit.backward()
    blocks = model.transformer.blocks
    tokens = blocks[0].attn.attention_map.shape[-1]
    R = torch.eye(tokens, dtype=dtype)
    for block in blocks:
        attn = block.attn.attention_map[0].detach()  # heads x T x T
        grad = block.attn.attn_gradients[0]
        cam = (grad * attn).clamp(min=0).mean(dim=0)
        R = R + cam @ R
    grid = R[0, 1:].reshape(model.grid).numpy()
    for block in blocks:  # drop the graph-holding references
        block.attn.attention_map = block.attn.attn_gradients = None
    return float(logit.detach()), grid


def classify(model, images):
    """N x 3 x S x S -> N logits (no gradient)."""
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        return model(images.to(dtype))[:, 0]
