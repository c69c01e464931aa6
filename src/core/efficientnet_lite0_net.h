// The LibTorch EfficientNet-Lite0 backbone, registered with the efficientnet_lite_pytorch
// package's parameter names so that a converted backbone file (src/tools/convert-lite0-backbone.py)
// maps onto it one tensor per parameter. Self-contained rather than built on torch_model.h's
// convolution, so torch_model.h can include it without an include cycle.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "frozen_prefix.h"

namespace dfd {
namespace efficientnet_lite0 {

// TensorFlow "SAME" padding fixed for one input size, as the package's Conv2dStaticSamePadding:
// stride-2 convolutions pad more on the right/bottom. The TF-trained weights expect it.
class SameConv2dImpl : public torch::nn::Module {
 public:
  SameConv2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                 int64_t image_size);
  torch::Tensor forward(const torch::Tensor &x);

 private:
  torch::Tensor weight_;
  int64_t stride_, groups_;
  int64_t pad_before_ = 0, pad_after_ = 0;  // the same on both axes: inputs are square
};
TORCH_MODULE(SameConv2d);

// MBConv without squeeze-and-excitation, ReLU6 in place of swish.
class MBConvBlockImpl : public torch::nn::Module {
 public:
  MBConvBlockImpl(int64_t kernel, int64_t stride, int64_t expand_ratio, int64_t input_filters,
                  int64_t output_filters, int64_t image_size, double drop_connect_rate);
  torch::Tensor forward(const torch::Tensor &x);

 private:
  SameConv2d expand_conv_{nullptr}, depthwise_conv_{nullptr}, project_conv_{nullptr};
  torch::nn::BatchNorm2d bn0_{nullptr}, bn1_{nullptr}, bn2_{nullptr};
  bool skip_ = false;
  double drop_connect_rate_ = 0.0;
};
TORCH_MODULE(MBConvBlock);

}  // namespace efficientnet_lite0

// EfficientNet-Lite0 up to extract_features: (B,3,S,S) -> (B,1280,S/32,S/32), the same
// contract as EfficientNetB0. Input: RGB, (v - 127) / 128 (efficientnet_lite0.h).
class EfficientNetLite0Impl : public torch::nn::Module {
 public:
  explicit EfficientNetLite0Impl(int64_t image_size);
  torch::Tensor forward(const torch::Tensor &images);
  // Blocks before `count` stop receiving gradients; count > 0 freezes the stem too. With
  // `inference`, that prefix also runs as at inference while training: no autograd record
  // and fixed BatchNorm statistics.
  void freeze_blocks(int count, bool inference = false);
  void train(bool on = true) override;

 private:
  FrozenPrefix frozen_;
  efficientnet_lite0::SameConv2d conv_stem_{nullptr}, conv_head_{nullptr};
  torch::nn::BatchNorm2d bn0_{nullptr}, bn1_{nullptr};
  std::vector<efficientnet_lite0::MBConvBlock> blocks_;
};
TORCH_MODULE(EfficientNetLite0);

}  // namespace dfd
