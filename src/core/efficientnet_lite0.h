// EfficientNet-Lite0 (Google's efficientnet/lite, as laid out by the efficientnet_lite_pytorch
// package) without LibTorch: the constants and the tensor layout, so the model-file reader can
// check a Lite0 backbone on its own. The LibTorch module is in efficientnet_lite0_net.h.
#pragma once

#include <string>
#include <vector>

#include "efficientnet_b0.h"
#include "model_layout.h"

namespace dfd::efficientnet_lite0 {

// Lite0 (width and depth 1.0) uses B0's block strings without se0.25, and Lite keeps the stem
// and head widths unscaled: the same 16 blocks as B0, so B0's table and block walk apply.
using efficientnet_b0::Block;
using efficientnet_b0::block_count;
using efficientnet_b0::for_each_block;

inline constexpr int kStemFilters = 32;
inline constexpr int kHeadFilters = 1280;
inline constexpr double kBatchNormEps = 1e-3;
inline constexpr double kBatchNormMomentum = 0.01;  // PyTorch convention (TF's 0.99)
inline constexpr double kDropConnectRate = 0.2;
inline constexpr double kReluCap = 6.0;  // ReLU6 everywhere instead of swish, for quantisation

// The input the ImageNet weights were trained on (efficientnet_lite_builder's MEAN_RGB and
// STDDEV_RGB): RGB order, x = (v - 127) / 128 on 0..255 values, 224x224.
inline constexpr float kInputMean = 127.f;
inline constexpr float kInputStd = 128.f;

// Appends the backbone's tensors in the package's state_dict order, named `prefix` + the
// package's key (e.g. "efficient_net._blocks.3._depthwise_conv.weight"). No classifier, no
// num_batches_tracked. 3,371,008 parameters and 42,016 BatchNorm running statistics.
void append_tensors(std::vector<ExpectedTensor> &out, const std::string &prefix);

}  // namespace dfd::efficientnet_lite0
