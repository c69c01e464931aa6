#include "efficientnet_lite0.h"

#include <cstdint>

namespace dfd::efficientnet_lite0 {
namespace {

void parameter(std::vector<ExpectedTensor> &out, std::string name, std::vector<int64_t> shape) {
  out.push_back({std::move(name), std::move(shape), true});
}

void batch_norm(std::vector<ExpectedTensor> &out, const std::string &prefix, int64_t channels) {
  parameter(out, prefix + ".weight", {channels});
  parameter(out, prefix + ".bias", {channels});
  out.push_back({prefix + ".running_mean", {channels}, false});
  out.push_back({prefix + ".running_var", {channels}, false});
}

}  // namespace

void append_tensors(std::vector<ExpectedTensor> &out, const std::string &prefix) {
  parameter(out, prefix + "_conv_stem.weight", {kStemFilters, 3, 3, 3});
  batch_norm(out, prefix + "_bn0", kStemFilters);
  int last_filters = kStemFilters;
  for_each_block([&](int index, const Block &block) {
    const std::string bp = prefix + "_blocks." + std::to_string(index) + ".";
    const int64_t expanded = block.expanded();
    if (block.expand_ratio != 1) {
      parameter(out, bp + "_expand_conv.weight", {expanded, block.input_filters, 1, 1});
      batch_norm(out, bp + "_bn0", expanded);
    }
    parameter(out, bp + "_depthwise_conv.weight", {expanded, 1, block.kernel, block.kernel});
    batch_norm(out, bp + "_bn1", expanded);
    parameter(out, bp + "_project_conv.weight", {block.output_filters, expanded, 1, 1});
    batch_norm(out, bp + "_bn2", block.output_filters);
    last_filters = block.output_filters;
  });
  parameter(out, prefix + "_conv_head.weight", {kHeadFilters, last_filters, 1, 1});
  batch_norm(out, prefix + "_bn1", kHeadFilters);
}

}  // namespace dfd::efficientnet_lite0
