// The LibTorch network for both architectures, with the seed checkpoint's parameter names so
// that a model file maps onto it one tensor per parameter. Include only from .cpp files that
// already pay for LibTorch (engine, trainer, tests).
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "efficientnet_lite0_net.h"
#include "frozen_prefix.h"
#include "model_config.h"
#include "model_file.h"

namespace dfd {

// TensorFlow "SAME" padding computed once for a fixed input size (lukemelas's
// Conv2dStaticSamePadding): stride-2 convolutions pad more on the right/bottom.
struct SamePadding {
  int64_t left = 0, right = 0, top = 0, bottom = 0;
  bool symmetric() const { return left == right && top == bottom; }
};
SamePadding static_same_padding(int64_t image_size, int64_t kernel, int64_t stride);

// Registers `weight` (and `bias`) directly, so names match lukemelas's state_dict.
class StaticSameConv2dImpl : public torch::nn::Module {
 public:
  StaticSameConv2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                       bool bias, int64_t image_size);
  torch::Tensor forward(const torch::Tensor &x);

 private:
  torch::Tensor weight_, bias_;
  int64_t stride_, groups_;
  SamePadding padding_;
};
TORCH_MODULE(StaticSameConv2d);

class MBConvBlockImpl : public torch::nn::Module {
 public:
  MBConvBlockImpl(int64_t kernel, int64_t stride, int64_t expand_ratio, int64_t input_filters,
                  int64_t output_filters, int64_t squeezed, int64_t image_size,
                  double drop_connect_rate);
  torch::Tensor forward(const torch::Tensor &x);

 private:
  StaticSameConv2d expand_conv_{nullptr}, depthwise_conv_{nullptr}, project_conv_{nullptr};
  torch::nn::BatchNorm2d bn0_{nullptr}, bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Conv2d se_reduce_{nullptr}, se_expand_{nullptr};
  bool skip_ = false;
  double drop_connect_rate_ = 0.0;
};
TORCH_MODULE(MBConvBlock);

// EfficientNet-B0 up to extract_features: (B,3,S,S) -> (B,1280,S/32,S/32).
class EfficientNetB0Impl : public torch::nn::Module {
 public:
  EfficientNetB0Impl(int64_t image_size, bool with_classifier);
  torch::Tensor forward(const torch::Tensor &x);
  // Blocks before `count` stop receiving gradients (the seed trains with blocks 0-12 frozen).
  // With `inference`, that prefix also runs as at inference while training (no autograd
  // record, fixed BatchNorm statistics); the seed's own training keeps it in training mode.
  void freeze_blocks(int count, bool inference = false);
  void train(bool on = true) override;

 private:
  FrozenPrefix frozen_;
  StaticSameConv2d conv_stem_{nullptr}, conv_head_{nullptr};
  torch::nn::BatchNorm2d bn0_{nullptr}, bn1_{nullptr};
  std::vector<MBConvBlock> blocks_;
  torch::nn::Linear fc_{nullptr};  // the seed's unused ImageNet classifier
};
TORCH_MODULE(EfficientNetB0);

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t heads, int64_t dim_head, double dropout);
  // Appends the softmax attention map (B,heads,T,T) to `maps` when it is not null.
  torch::Tensor forward(const torch::Tensor &x, std::vector<torch::Tensor> *maps);

 private:
  int64_t heads_, dim_head_;
  double scale_;
  torch::nn::Linear to_qkv_{nullptr};
  torch::nn::Sequential to_out_{nullptr};
};
TORCH_MODULE(Attention);

// Named `mlp` with a `net` Sequential so parameters read mlp.net.0 / mlp.net.3 as in the seed.
class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(int64_t dim, int64_t hidden, double dropout);
  torch::Tensor forward(const torch::Tensor &x) { return net_->forward(x); }

 private:
  torch::nn::Sequential net_{nullptr};
};
TORCH_MODULE(FeedForward);

class TransformerBlockImpl : public torch::nn::Module {
 public:
  explicit TransformerBlockImpl(const TransformerConfig &config);
  torch::Tensor forward(const torch::Tensor &x, std::vector<torch::Tensor> *maps);

 private:
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  Attention attn_{nullptr};
  FeedForward mlp_{nullptr};
};
TORCH_MODULE(TransformerBlock);

class TransformerImpl : public torch::nn::Module {
 public:
  explicit TransformerImpl(const TransformerConfig &config);
  torch::Tensor forward(torch::Tensor x, std::vector<torch::Tensor> *maps);

 private:
  std::vector<TransformerBlock> blocks_;
};
TORCH_MODULE(Transformer);

class DeepfakeNetImpl : public torch::nn::Module {
 public:
  explicit DeepfakeNetImpl(const ModelConfig &config);

  const ModelConfig &config() const { return config_; }
  // Normalised (B,3,S,S) float input -> backbone features (B,1280,S/32,S/32).
  torch::Tensor features(const torch::Tensor &images);
  // Features -> transformer input tokens (B,T,dim): embedding, cls token and positions.
  torch::Tensor embed(const torch::Tensor &features);
  // Tokens -> one fake logit per face (B). Records each block's attention map in `maps`.
  torch::Tensor classify_tokens(const torch::Tensor &tokens, std::vector<torch::Tensor> *maps);
  torch::Tensor forward(const torch::Tensor &images) {
    return classify_tokens(embed(features(images)), nullptr);
  }
  // Backbone blocks before `count` stop receiving gradients (and the stem, when count > 0);
  // `inference`: see EfficientNetB0Impl::freeze_blocks.
  void freeze_backbone_blocks(int count, bool inference = false);

 private:
  ModelConfig config_;
  // Exactly one of the two, registered as `efficient_net` either way.
  EfficientNetB0 efficient_net_{nullptr};
  EfficientNetLite0 lite0_{nullptr};
  torch::nn::Conv1d seed_embedding_{nullptr};     // seed: Conv1d(1, tokens, 1280, stride 1280)
  torch::nn::Linear spatial_embedding_{nullptr};  // spatial: Linear(1280, dim)
  torch::Tensor cls_token_, pos_embedding_;
  torch::nn::Dropout emb_dropout_{nullptr};
  Transformer transformer_{nullptr};
  torch::nn::Sequential mlp_head_{nullptr};  // seed
  torch::nn::LayerNorm norm_{nullptr};       // spatial
  torch::nn::Linear head_{nullptr};          // spatial
};
TORCH_MODULE(DeepfakeNet);

// Every parameter and buffer by its file name (num_batches_tracked excluded: it is training
// bookkeeping that the seed's own loader ignores too).
std::vector<std::pair<std::string, torch::Tensor>> named_weights(DeepfakeNet &net);
void load_weights(DeepfakeNet &net, const ModelFile &file);
void save_weights(DeepfakeNet &net, const std::string &path);

// Gradient-weighted attention rollout (spec section 4), row 0 only: R = prod_k (I + cam_k), and
// e0^T R is accumulated from the last block backwards as vector-matrix products, which gives the
// same values as the full T x T products at 1/T of the cost.
// attention[k], gradients[k]: (B,heads,T,T). Returns (B, T-1): R[0, 1:].
torch::Tensor relevancy_row0(const std::vector<torch::Tensor> &attention,
                             const std::vector<torch::Tensor> &gradients);

// Bytes (N,S,S,3) uint8 in the config's colour order -> normalised float (N,3,S,S) on `device`.
torch::Tensor images_to_input(const torch::Tensor &images_nhwc_u8, const ModelConfig &config,
                              const torch::Device &device);

}  // namespace dfd
