// The frozen front of an EfficientNet (stem and first blocks) when it runs as at inference
// while the rest trains: no autograd record and fixed BatchNorm statistics. Both backbones
// (B0 and Lite0) keep one.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <optional>
#include <vector>

namespace dfd {

class FrozenPrefix {
 public:
  void set(int count, int block_count, bool inference) {
    count_ = std::clamp(count, 0, block_count);
    inference_ = inference;
  }

  // The stem's output through every block. The stem and the frozen blocks run without
  // recording autograd when they are frozen as at inference: they have no trainable
  // parameter, so nothing is lost.
  template <typename Stem, typename Block>
  torch::Tensor through_blocks(const Stem &stem, std::vector<Block> &blocks) const {
    torch::Tensor x;
    {
      std::optional<torch::NoGradGuard> no_grad;
      if (active()) no_grad.emplace();
      x = stem();
      for (int i = 0; i < count_; ++i) x = blocks[static_cast<size_t>(i)]->forward(x);
    }
    for (size_t i = static_cast<size_t>(count_); i < blocks.size(); ++i) {
      x = blocks[i]->forward(x);
    }
    return x;
  }

  // Stops gradients to the stem and the frozen blocks and lets them flow to the rest.
  template <typename Block>
  void stop_gradients(torch::nn::Module &stem_conv, torch::nn::Module &stem_norm,
                      std::vector<Block> &blocks) const {
    for (auto &p : stem_conv.parameters()) p.requires_grad_(count_ == 0);
    for (auto &p : stem_norm.parameters()) p.requires_grad_(count_ == 0);
    for (size_t i = 0; i < blocks.size(); ++i) {
      for (auto &p : blocks[i]->parameters()) p.requires_grad_(static_cast<int>(i) >= count_);
    }
  }

  // After Module::train(): puts the frozen modules back in eval mode.
  template <typename Block>
  void hold_in_eval(torch::nn::Module &stem_conv, torch::nn::Module &stem_norm,
                    std::vector<Block> &blocks) const {
    if (!active()) return;
    stem_conv.eval();
    stem_norm.eval();
    for (int i = 0; i < count_; ++i) blocks[static_cast<size_t>(i)]->eval();
  }

 private:
  bool active() const { return inference_ && count_ > 0; }

  int count_ = 0;
  bool inference_ = false;
};

}  // namespace dfd
