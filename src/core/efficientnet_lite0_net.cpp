#include "efficientnet_lite0_net.h"

#include <algorithm>
#include <cmath>

#include "efficientnet_lite0.h"

namespace dfd {
namespace efficientnet_lite0 {
namespace {

int64_t output_size(int64_t image_size, int64_t stride) {
  return (image_size + stride - 1) / stride;
}

torch::nn::BatchNorm2d make_batch_norm(int64_t channels) {
  return torch::nn::BatchNorm2d(
      torch::nn::BatchNorm2dOptions(channels).eps(kBatchNormEps).momentum(kBatchNormMomentum));
}

torch::Tensor activate(const torch::Tensor &x) {
  // ReLU6 through hardtanh, which is what torch.nn.ReLU6 runs, so gradients at 0 and 6 match.
  return torch::hardtanh(x, 0.0, kReluCap);
}

}  // namespace

SameConv2dImpl::SameConv2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                               int64_t groups, int64_t image_size)
    : stride_(stride), groups_(groups) {
  const int64_t pad =
      std::max<int64_t>((output_size(image_size, stride) - 1) * stride + kernel - image_size, 0);
  pad_before_ = pad / 2;
  pad_after_ = pad - pad / 2;
  // torch.nn.Conv2d's initialisation (kaiming-uniform, a = sqrt(5)), as EfficientNetB0's, so a
  // run without pretrained weights starts the same way.
  weight_ = register_parameter("weight", torch::empty({out, in / groups, kernel, kernel}));
  torch::nn::init::kaiming_uniform_(weight_, std::sqrt(5.0));
}

torch::Tensor SameConv2dImpl::forward(const torch::Tensor &x) {
  if (pad_before_ == pad_after_) {
    return torch::conv2d(x, weight_, {}, stride_, at::IntArrayRef{pad_before_, pad_before_}, 1,
                         groups_);
  }
  const torch::Tensor padded =
      torch::constant_pad_nd(x, {pad_before_, pad_after_, pad_before_, pad_after_});
  return torch::conv2d(padded, weight_, {}, stride_, at::IntArrayRef{0, 0}, 1, groups_);
}

MBConvBlockImpl::MBConvBlockImpl(int64_t kernel, int64_t stride, int64_t expand_ratio,
                                 int64_t input_filters, int64_t output_filters, int64_t image_size,
                                 double drop_connect_rate)
    : skip_(stride == 1 && input_filters == output_filters), drop_connect_rate_(drop_connect_rate) {
  const int64_t expanded = input_filters * expand_ratio;
  if (expand_ratio != 1) {
    expand_conv_ =
        register_module("_expand_conv", SameConv2d(input_filters, expanded, 1, 1, 1, image_size));
    bn0_ = register_module("_bn0", make_batch_norm(expanded));
  }
  depthwise_conv_ = register_module(
      "_depthwise_conv", SameConv2d(expanded, expanded, kernel, stride, expanded, image_size));
  bn1_ = register_module("_bn1", make_batch_norm(expanded));
  project_conv_ = register_module("_project_conv", SameConv2d(expanded, output_filters, 1, 1, 1,
                                                              output_size(image_size, stride)));
  bn2_ = register_module("_bn2", make_batch_norm(output_filters));
}

torch::Tensor MBConvBlockImpl::forward(const torch::Tensor &inputs) {
  torch::Tensor x = inputs;
  if (expand_conv_) x = activate(bn0_->forward(expand_conv_->forward(x)));
  x = activate(bn1_->forward(depthwise_conv_->forward(x)));
  x = bn2_->forward(project_conv_->forward(x));
  if (!skip_) return x;
  if (is_training() && drop_connect_rate_ > 0.0) {
    // Stochastic depth as the package's drop_connect: drop the residual branch per sample.
    const double keep = 1.0 - drop_connect_rate_;
    const torch::Tensor mask = torch::floor(keep + torch::rand({x.size(0), 1, 1, 1}, x.options()));
    x = x / keep * mask;
  }
  return x + inputs;
}

}  // namespace efficientnet_lite0

namespace lite0 = efficientnet_lite0;

EfficientNetLite0Impl::EfficientNetLite0Impl(int64_t image_size) {
  conv_stem_ =
      register_module("_conv_stem", lite0::SameConv2d(3, lite0::kStemFilters, 3, 2, 1, image_size));
  bn0_ = register_module("_bn0", lite0::make_batch_norm(lite0::kStemFilters));
  int64_t size = lite0::output_size(image_size, 2);
  int64_t last_filters = lite0::kStemFilters;
  torch::nn::ModuleList list;
  const double total = lite0::block_count();
  lite0::for_each_block([&](int index, const lite0::Block &block) {
    lite0::MBConvBlock module(block.kernel, block.stride, block.expand_ratio, block.input_filters,
                              block.output_filters, size, lite0::kDropConnectRate * index / total);
    list->push_back(module);
    blocks_.push_back(module);
    size = lite0::output_size(size, block.stride);
    last_filters = block.output_filters;
  });
  register_module("_blocks", list);
  conv_head_ = register_module("_conv_head",
                               lite0::SameConv2d(last_filters, lite0::kHeadFilters, 1, 1, 1, size));
  bn1_ = register_module("_bn1", lite0::make_batch_norm(lite0::kHeadFilters));
}

torch::Tensor EfficientNetLite0Impl::forward(const torch::Tensor &images) {
  const torch::Tensor x = frozen_.through_blocks(
      [&] { return lite0::activate(bn0_->forward(conv_stem_->forward(images))); }, blocks_);
  return lite0::activate(bn1_->forward(conv_head_->forward(x)));
}

void EfficientNetLite0Impl::train(bool on) {
  torch::nn::Module::train(on);
  frozen_.hold_in_eval(*conv_stem_, *bn0_, blocks_);
}

void EfficientNetLite0Impl::freeze_blocks(int count, bool inference) {
  frozen_.set(count, static_cast<int>(blocks_.size()), inference);
  train(is_training());
  frozen_.stop_gradients(*conv_stem_, *bn0_, blocks_);
}

}  // namespace dfd
