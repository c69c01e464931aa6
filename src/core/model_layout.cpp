#include "model_layout.h"

#include "efficientnet_b0.h"
#include "efficientnet_lite0.h"

namespace dfd {
namespace {

class LayoutBuilder {
 public:
  void parameter(std::string name, std::vector<int64_t> shape) {
    tensors_.push_back({std::move(name), std::move(shape), true});
  }
  void batch_norm(const std::string &prefix, int64_t channels) {
    parameter(prefix + ".weight", {channels});
    parameter(prefix + ".bias", {channels});
    tensors_.push_back({prefix + ".running_mean", {channels}, false});
    tensors_.push_back({prefix + ".running_var", {channels}, false});
  }
  void linear(const std::string &prefix, int64_t out, int64_t in, bool bias = true) {
    parameter(prefix + ".weight", {out, in});
    if (bias) parameter(prefix + ".bias", {out});
  }
  void layer_norm(const std::string &prefix, int64_t dim) {
    parameter(prefix + ".weight", {dim});
    parameter(prefix + ".bias", {dim});
  }
  std::vector<ExpectedTensor> &tensors() { return tensors_; }
  std::vector<ExpectedTensor> take() { return std::move(tensors_); }

 private:
  std::vector<ExpectedTensor> tensors_;
};

void add_backbone(LayoutBuilder &out, bool with_classifier) {
  namespace b0 = efficientnet_b0;
  const std::string p = "efficient_net.";
  out.parameter(p + "_conv_stem.weight", {b0::kStemFilters, 3, 3, 3});
  out.batch_norm(p + "_bn0", b0::kStemFilters);
  b0::for_each_block([&](int index, const b0::Block &block) {
    const std::string bp = p + "_blocks." + std::to_string(index) + ".";
    const int64_t expanded = block.expanded();
    if (block.expand_ratio != 1) {
      out.parameter(bp + "_expand_conv.weight", {expanded, block.input_filters, 1, 1});
      out.batch_norm(bp + "_bn0", expanded);
    }
    out.parameter(bp + "_depthwise_conv.weight", {expanded, 1, block.kernel, block.kernel});
    out.batch_norm(bp + "_bn1", expanded);
    out.parameter(bp + "_se_reduce.weight", {block.squeezed(), expanded, 1, 1});
    out.parameter(bp + "_se_reduce.bias", {block.squeezed()});
    out.parameter(bp + "_se_expand.weight", {expanded, block.squeezed(), 1, 1});
    out.parameter(bp + "_se_expand.bias", {expanded});
    out.parameter(bp + "_project_conv.weight", {block.output_filters, expanded, 1, 1});
    out.batch_norm(bp + "_bn2", block.output_filters);
  });
  out.parameter(p + "_conv_head.weight", {b0::kHeadFilters, 320, 1, 1});
  out.batch_norm(p + "_bn1", b0::kHeadFilters);
  if (with_classifier) out.linear(p + "_fc", b0::kImageNetClasses, b0::kHeadFilters);
}

void add_transformer(LayoutBuilder &out, const TransformerConfig &t) {
  const int64_t inner = static_cast<int64_t>(t.heads) * t.dim_head;
  for (int i = 0; i < t.depth; ++i) {
    const std::string bp = "transformer.blocks." + std::to_string(i) + ".";
    out.layer_norm(bp + "norm1", t.dim);
    out.linear(bp + "attn.to_qkv", 3 * inner, t.dim, /*bias=*/false);
    out.linear(bp + "attn.to_out.0", t.dim, inner);
    out.layer_norm(bp + "norm2", t.dim);
    out.linear(bp + "mlp.net.0", t.mlp_dim, t.dim);
    out.linear(bp + "mlp.net.3", t.dim, t.mlp_dim);
  }
}

}  // namespace

std::vector<ExpectedTensor> expected_tensors(const ModelConfig &config) {
  LayoutBuilder out;
  const TransformerConfig &t = config.transformer;
  const int64_t tokens = config.token_count();
  const int64_t cells = static_cast<int64_t>(config.feature_size()) * config.feature_size();
  switch (config.architecture) {
    case Architecture::Seed:
      // The seed checkpoint carries the backbone's unused ImageNet classifier; keeping it makes
      // converted files complete and the parameter count match the published 8,575,403.
      add_backbone(out, /*with_classifier=*/true);
      out.parameter("pos_embedding", {1, tokens, t.dim});
      out.parameter("patch_to_embedding.weight",
                    {config.seed_tokens, 1, efficientnet_b0::kHeadFilters});
      out.parameter("patch_to_embedding.bias", {config.seed_tokens});
      out.parameter("cls_token", {1, 1, t.dim});
      add_transformer(out, t);
      out.linear("mlp_head.0", t.head_hidden, t.dim);
      out.linear("mlp_head.2", 1, t.head_hidden);
      break;
    case Architecture::Spatial:
      if (config.backbone == "efficientnet-lite0") {
        efficientnet_lite0::append_tensors(out.tensors(), "efficient_net.");
      } else {
        add_backbone(out, /*with_classifier=*/false);
      }
      out.parameter("pos_embedding", {1, cells + 1, t.dim});
      out.linear("patch_to_embedding", t.dim, efficientnet_b0::kHeadFilters);
      out.parameter("cls_token", {1, 1, t.dim});
      add_transformer(out, t);
      out.layer_norm("norm", t.dim);
      out.linear("head", 1, t.dim);
      break;
  }
  return out.take();
}

int64_t parameter_count(const ModelConfig &config) {
  int64_t total = 0;
  for (const ExpectedTensor &tensor : expected_tensors(config)) {
    if (!tensor.is_parameter) continue;
    int64_t n = 1;
    for (int64_t d : tensor.shape) n *= d;
    total += n;
  }
  return total;
}

}  // namespace dfd
