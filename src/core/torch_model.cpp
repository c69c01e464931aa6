#include "torch_model.h"

#include <algorithm>
#include <cmath>

#include "efficientnet_b0.h"
#include "model_error.h"

namespace dfd {
namespace b0 = efficientnet_b0;

SamePadding static_same_padding(int64_t image_size, int64_t kernel, int64_t stride) {
  const int64_t out = (image_size + stride - 1) / stride;
  const int64_t pad = std::max<int64_t>((out - 1) * stride + kernel - image_size, 0);
  return {pad / 2, pad - pad / 2, pad / 2, pad - pad / 2};
}

static int64_t output_size(int64_t image_size, int64_t stride) {
  return (image_size + stride - 1) / stride;
}

// ---- EfficientNet-B0 -------------------------------------------------------------------

StaticSameConv2dImpl::StaticSameConv2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                                           int64_t groups, bool bias, int64_t image_size)
    : stride_(stride), groups_(groups), padding_(static_same_padding(image_size, kernel, stride)) {
  // Initialised like torch.nn.Conv2d (kaiming-uniform, a = sqrt(5)) so a model trained from
  // scratch starts where the seed's would.
  weight_ = register_parameter("weight", torch::empty({out, in / groups, kernel, kernel}));
  torch::nn::init::kaiming_uniform_(weight_, std::sqrt(5.0));
  if (bias) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in / groups * kernel * kernel));
    bias_ = register_parameter("bias", torch::empty({out}).uniform_(-bound, bound));
  }
}

torch::Tensor StaticSameConv2dImpl::forward(const torch::Tensor &x) {
  if (padding_.symmetric()) {
    return torch::conv2d(x, weight_, bias_, stride_, {padding_.top, padding_.left}, 1, groups_);
  }
  const torch::Tensor padded =
      torch::constant_pad_nd(x, {padding_.left, padding_.right, padding_.top, padding_.bottom});
  return torch::conv2d(padded, weight_, bias_, stride_, at::IntArrayRef{0, 0}, 1, groups_);
}

static torch::nn::BatchNorm2d make_batch_norm(int64_t channels) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels)
                                    .eps(b0::kBatchNormEps)
                                    .momentum(b0::kBatchNormMomentum));
}

MBConvBlockImpl::MBConvBlockImpl(int64_t kernel, int64_t stride, int64_t expand_ratio,
                                 int64_t input_filters, int64_t output_filters, int64_t squeezed,
                                 int64_t image_size, double drop_connect_rate)
    : skip_(stride == 1 && input_filters == output_filters), drop_connect_rate_(drop_connect_rate) {
  const int64_t expanded = input_filters * expand_ratio;
  if (expand_ratio != 1) {
    expand_conv_ = register_module(
        "_expand_conv", StaticSameConv2d(input_filters, expanded, 1, 1, 1, false, image_size));
    bn0_ = register_module("_bn0", make_batch_norm(expanded));
  }
  depthwise_conv_ = register_module(
      "_depthwise_conv",
      StaticSameConv2d(expanded, expanded, kernel, stride, expanded, false, image_size));
  bn1_ = register_module("_bn1", make_batch_norm(expanded));
  se_reduce_ = register_module("_se_reduce",
                               torch::nn::Conv2d(torch::nn::Conv2dOptions(expanded, squeezed, 1)));
  se_expand_ = register_module("_se_expand",
                               torch::nn::Conv2d(torch::nn::Conv2dOptions(squeezed, expanded, 1)));
  project_conv_ = register_module(
      "_project_conv",
      StaticSameConv2d(expanded, output_filters, 1, 1, 1, false, output_size(image_size, stride)));
  bn2_ = register_module("_bn2", make_batch_norm(output_filters));
}

torch::Tensor MBConvBlockImpl::forward(const torch::Tensor &inputs) {
  torch::Tensor x = inputs;
  if (expand_conv_) x = torch::silu(bn0_->forward(expand_conv_->forward(x)));
  x = torch::silu(bn1_->forward(depthwise_conv_->forward(x)));
  torch::Tensor squeezed = torch::adaptive_avg_pool2d(x, {1, 1});
  squeezed = se_expand_->forward(torch::silu(se_reduce_->forward(squeezed)));
  x = torch::sigmoid(squeezed) * x;
  x = bn2_->forward(project_conv_->forward(x));
  if (!skip_) return x;
  if (is_training() && drop_connect_rate_ > 0.0) {
    // Stochastic depth as lukemelas's drop_connect: drop the residual branch per sample.
    const double keep = 1.0 - drop_connect_rate_;
    const torch::Tensor mask = torch::floor(keep + torch::rand({x.size(0), 1, 1, 1}, x.options()));
    x = x / keep * mask;
  }
  return x + inputs;
}

EfficientNetB0Impl::EfficientNetB0Impl(int64_t image_size, bool with_classifier) {
  conv_stem_ = register_module("_conv_stem",
                               StaticSameConv2d(3, b0::kStemFilters, 3, 2, 1, false, image_size));
  bn0_ = register_module("_bn0", make_batch_norm(b0::kStemFilters));
  int64_t size = output_size(image_size, 2);
  torch::nn::ModuleList list;
  const double total = b0::block_count();
  b0::for_each_block([&](int index, const b0::Block &block) {
    MBConvBlock module(block.kernel, block.stride, block.expand_ratio, block.input_filters,
                       block.output_filters, block.squeezed(), size,
                       b0::kDropConnectRate * index / total);
    list->push_back(module);
    blocks_.push_back(module);
    size = output_size(size, block.stride);
  });
  register_module("_blocks", list);
  conv_head_ =
      register_module("_conv_head", StaticSameConv2d(320, b0::kHeadFilters, 1, 1, 1, false, size));
  bn1_ = register_module("_bn1", make_batch_norm(b0::kHeadFilters));
  if (with_classifier) {
    fc_ = register_module("_fc", torch::nn::Linear(b0::kHeadFilters, b0::kImageNetClasses));
  }
}

torch::Tensor EfficientNetB0Impl::forward(const torch::Tensor &images) {
  const torch::Tensor x = frozen_.through_blocks(
      [&] { return torch::silu(bn0_->forward(conv_stem_->forward(images))); }, blocks_);
  return torch::silu(bn1_->forward(conv_head_->forward(x)));
}

void EfficientNetB0Impl::train(bool on) {
  torch::nn::Module::train(on);
  frozen_.hold_in_eval(*conv_stem_, *bn0_, blocks_);
}

void EfficientNetB0Impl::freeze_blocks(int count, bool inference) {
  frozen_.set(count, static_cast<int>(blocks_.size()), inference);
  train(is_training());
  frozen_.stop_gradients(*conv_stem_, *bn0_, blocks_);
}

// ---- Transformer -----------------------------------------------------------------------

AttentionImpl::AttentionImpl(int64_t dim, int64_t heads, int64_t dim_head, double dropout)
    : heads_(heads), dim_head_(dim_head), scale_(1.0 / std::sqrt(static_cast<double>(dim_head))) {
  const int64_t inner = heads * dim_head;
  to_qkv_ = register_module(
      "to_qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * inner).bias(false)));
  to_out_ = register_module(
      "to_out", torch::nn::Sequential(torch::nn::Linear(inner, dim), torch::nn::Dropout(dropout)));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor &x, std::vector<torch::Tensor> *maps) {
  const int64_t batch = x.size(0), tokens = x.size(1);
  const std::vector<torch::Tensor> qkv = to_qkv_->forward(x).chunk(3, -1);
  const auto split_heads = [&](const torch::Tensor &t) {
    return t.view({batch, tokens, heads_, dim_head_}).transpose(1, 2);
  };
  const torch::Tensor q = split_heads(qkv[0]), k = split_heads(qkv[1]), v = split_heads(qkv[2]);
  const torch::Tensor attention = torch::matmul(q, k.transpose(-1, -2)).mul_(scale_).softmax(-1);
  if (maps != nullptr) maps->push_back(attention);
  const torch::Tensor out =
      torch::matmul(attention, v).transpose(1, 2).reshape({batch, tokens, heads_ * dim_head_});
  return to_out_->forward(out);
}

FeedForwardImpl::FeedForwardImpl(int64_t dim, int64_t hidden, double dropout) {
  net_ = register_module(
      "net", torch::nn::Sequential(torch::nn::Linear(dim, hidden), torch::nn::GELU(),
                                   torch::nn::Dropout(dropout), torch::nn::Linear(hidden, dim),
                                   torch::nn::Dropout(dropout)));
}

static torch::nn::LayerNorm make_layer_norm(int64_t dim) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-5));
}

TransformerBlockImpl::TransformerBlockImpl(const TransformerConfig &c) {
  norm1_ = register_module("norm1", make_layer_norm(c.dim));
  attn_ = register_module("attn", Attention(c.dim, c.heads, c.dim_head, c.dropout));
  norm2_ = register_module("norm2", make_layer_norm(c.dim));
  mlp_ = register_module("mlp", FeedForward(c.dim, c.mlp_dim, c.dropout));
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor &x,
                                            std::vector<torch::Tensor> *maps) {
  const torch::Tensor y = x + attn_->forward(norm1_->forward(x), maps);
  return y + mlp_->forward(norm2_->forward(y));
}

TransformerImpl::TransformerImpl(const TransformerConfig &config) {
  torch::nn::ModuleList list;
  for (int i = 0; i < config.depth; ++i) {
    TransformerBlock block(config);
    list->push_back(block);
    blocks_.push_back(block);
  }
  register_module("blocks", list);
}

torch::Tensor TransformerImpl::forward(torch::Tensor x, std::vector<torch::Tensor> *maps) {
  for (TransformerBlock &block : blocks_) x = block->forward(x, maps);
  return x;
}

// ---- The detector ----------------------------------------------------------------------

DeepfakeNetImpl::DeepfakeNetImpl(const ModelConfig &config) : config_(config) {
  const TransformerConfig &t = config.transformer;
  const bool seed = config.architecture == Architecture::Seed;
  if (config.backbone == "efficientnet-lite0") {
    lite0_ = register_module("efficient_net", EfficientNetLite0(config.image_size));
  } else {
    efficient_net_ = register_module("efficient_net",
                                     EfficientNetB0(config.image_size, /*with_classifier=*/seed));
  }
  if (seed) {
    seed_embedding_ = register_module(
        "patch_to_embedding",
        torch::nn::Conv1d(torch::nn::Conv1dOptions(1, config.seed_tokens, b0::kHeadFilters)
                              .stride(b0::kHeadFilters)));
  } else {
    spatial_embedding_ =
        register_module("patch_to_embedding", torch::nn::Linear(b0::kHeadFilters, t.dim));
  }
  // Both start from a standard normal, as the seed's nn.Parameter(torch.randn(...)).
  pos_embedding_ =
      register_parameter("pos_embedding", torch::randn({1, config.token_count(), t.dim}));
  cls_token_ = register_parameter("cls_token", torch::randn({1, 1, t.dim}));
  emb_dropout_ = register_module("emb_dropout", torch::nn::Dropout(t.emb_dropout));
  transformer_ = register_module("transformer", Transformer(t));
  if (seed) {
    mlp_head_ = register_module(
        "mlp_head", torch::nn::Sequential(torch::nn::Linear(t.dim, t.head_hidden),
                                          torch::nn::ReLU(), torch::nn::Linear(t.head_hidden, 1)));
  } else {
    norm_ = register_module("norm", make_layer_norm(t.dim));
    head_ = register_module("head", torch::nn::Linear(t.dim, 1));
  }
}

torch::Tensor DeepfakeNetImpl::features(const torch::Tensor &images) {
  return lite0_ ? lite0_->forward(images) : efficient_net_->forward(images);
}

void DeepfakeNetImpl::freeze_backbone_blocks(int count, bool inference) {
  if (lite0_) {
    lite0_->freeze_blocks(count, inference);
  } else {
    efficient_net_->freeze_blocks(count, inference);
  }
}

torch::Tensor DeepfakeNetImpl::embed(const torch::Tensor &features) {
  const int64_t batch = features.size(0);
  torch::Tensor tokens;
  if (seed_embedding_) {
    // The seed's rearrange 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)' with p = 7 on a 7x7 map
    // gives one 62720-vector, channel fastest; Conv1d(kernel = stride = 1280) then dots each
    // 1280-channel cell with each filter. That is a matmul of the (cells x 1280) matrix with
    // the filters, transposed so token j is filter j: (B, tokens, cells).
    const torch::Tensor cells = features.flatten(2).transpose(1, 2);  // (B, cells, 1280)
    const torch::Tensor weight = seed_embedding_->weight.view({config_.seed_tokens, -1});
    tokens = torch::linear(cells, weight, seed_embedding_->bias).transpose(1, 2);
  } else {
    tokens = spatial_embedding_->forward(features.flatten(2).transpose(1, 2));  // (B, cells, dim)
  }
  tokens = torch::cat({cls_token_.expand({batch, -1, -1}), tokens}, 1) + pos_embedding_;
  return emb_dropout_->forward(tokens);
}

torch::Tensor DeepfakeNetImpl::classify_tokens(const torch::Tensor &tokens,
                                               std::vector<torch::Tensor> *maps) {
  const torch::Tensor x = transformer_->forward(tokens, maps);
  const torch::Tensor cls = x.select(1, 0);
  if (mlp_head_) return mlp_head_->forward(cls).squeeze(-1);
  return head_->forward(norm_->forward(cls)).squeeze(-1);
}

// ---- Weights ---------------------------------------------------------------------------

std::vector<std::pair<std::string, torch::Tensor>> named_weights(DeepfakeNet &net) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto &item : net->named_parameters()) out.emplace_back(item.key(), item.value());
  for (const auto &item : net->named_buffers()) {
    const std::string &name = item.key();
    static const std::string kSkip = "num_batches_tracked";
    if (name.size() >= kSkip.size() &&
        name.compare(name.size() - kSkip.size(), kSkip.size(), kSkip) == 0) {
      continue;
    }
    out.emplace_back(name, item.value());
  }
  return out;
}

void load_weights(DeepfakeNet &net, const ModelFile &file) {
  torch::NoGradGuard no_grad;
  for (auto &[name, tensor] : named_weights(net)) {
    if (file.file().find(name) == nullptr) {
      // ModelFile has already matched the file against the layout, so this is a layout bug.
      throw ModelError(file.file().label() + ": tensor '" + name + "' is missing");
    }
    std::vector<float> values = file.tensor_as_float(name);
    if (static_cast<int64_t>(values.size()) != tensor.numel()) {
      throw ModelError(file.file().label() + ": tensor '" + name + "' has the wrong size");
    }
    tensor.copy_(torch::from_blob(values.data(), tensor.sizes(), torch::kFloat32));
  }
}

void save_weights(DeepfakeNet &net, const std::string &path) {
  std::vector<torch::Tensor> keep_alive;
  std::vector<NamedFloatTensor> tensors;
  for (auto &[name, tensor] : named_weights(net)) {
    torch::Tensor cpu = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    keep_alive.push_back(cpu);
    tensors.push_back({name, cpu.sizes().vec(), cpu.data_ptr<float>()});
  }
  write_model_file(path, net->config(), tensors);
}

// ---- Relevancy -------------------------------------------------------------------------

torch::Tensor relevancy_row0(const std::vector<torch::Tensor> &attention,
                             const std::vector<torch::Tensor> &gradients) {
  TORCH_CHECK(!attention.empty() && attention.size() == gradients.size(),
              "relevancy needs one gradient per attention map");
  const int64_t batch = attention[0].size(0), tokens = attention[0].size(-1);
  torch::Tensor row = torch::zeros({batch, 1, tokens}, attention[0].options());
  row.select(2, 0).fill_(1.0);
  for (size_t k = attention.size(); k-- > 0;) {
    const torch::Tensor cam = (gradients[k] * attention[k]).clamp_min_(0).mean(1);  // (B,T,T)
    row = row + torch::bmm(row, cam);
  }
  return row.squeeze(1).slice(1, 1);
}

torch::Tensor images_to_input(const torch::Tensor &images_nhwc_u8, const ModelConfig &config,
                              const torch::Device &device) {
  const torch::Tensor on_device = images_nhwc_u8.to(device, /*non_blocking=*/true);
  torch::Tensor x = on_device.permute({0, 3, 1, 2}).to(torch::kFloat32);
  const bool identity = config.mean == std::array<float, 3>{0.f, 0.f, 0.f} &&
                        config.std == std::array<float, 3>{1.f, 1.f, 1.f};
  if (!identity) {
    const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
    const torch::Tensor mean =
        torch::tensor({config.mean[0], config.mean[1], config.mean[2]}, opts).view({1, 3, 1, 1});
    const torch::Tensor std =
        torch::tensor({config.std[0], config.std[1], config.std[2]}, opts).view({1, 3, 1, 1});
    x = (x - mean) / std;
  }
  return x.contiguous();
}

}  // namespace dfd
