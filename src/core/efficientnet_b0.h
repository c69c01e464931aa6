// The EfficientNet-B0 block table (lukemelas/efficientnet-pytorch's blocks_args for b0), shared
// by the LibTorch module and the torch-free tensor layout so the two cannot drift apart.
#pragma once

#include <array>

namespace dfd::efficientnet_b0 {

struct Stage {
  int repeats;
  int kernel;
  int stride;
  int expand_ratio;
  int input_filters;
  int output_filters;
};

// 'r1_k3_s11_e1_i32_o16_se0.25', 'r2_k3_s22_e6_i16_o24_se0.25', ... as in the seed's backbone.
inline constexpr std::array<Stage, 7> kStages{{
    {1, 3, 1, 1, 32, 16},
    {2, 3, 2, 6, 16, 24},
    {2, 5, 2, 6, 24, 40},
    {3, 3, 2, 6, 40, 80},
    {3, 5, 1, 6, 80, 112},
    {4, 5, 2, 6, 112, 192},
    {1, 3, 1, 6, 192, 320},
}};

inline constexpr int kStemFilters = 32;
inline constexpr int kHeadFilters = 1280;
inline constexpr double kSeRatio = 0.25;
inline constexpr double kBatchNormEps = 1e-3;
inline constexpr double kBatchNormMomentum = 0.01;  // PyTorch convention (TF's 0.99)
inline constexpr double kDropConnectRate = 0.2;
inline constexpr int kImageNetClasses = 1000;

// One MBConv block after expanding the stages' repeats: repeats after the first keep the
// stage's output width and use stride 1, as lukemelas does.
struct Block {
  int kernel;
  int stride;
  int expand_ratio;
  int input_filters;
  int output_filters;
  int expanded() const { return input_filters * expand_ratio; }
  int squeezed() const {
    const int s = static_cast<int>(input_filters * kSeRatio);
    return s > 1 ? s : 1;
  }
  bool has_skip() const { return stride == 1 && input_filters == output_filters; }
};

template <typename Visit>
void for_each_block(Visit visit) {
  int index = 0;
  for (const Stage &stage : kStages) {
    for (int r = 0; r < stage.repeats; ++r) {
      const Block block{stage.kernel, r == 0 ? stage.stride : 1, stage.expand_ratio,
                        r == 0 ? stage.input_filters : stage.output_filters, stage.output_filters};
      visit(index++, block);
    }
  }
}

inline constexpr int block_count() {
  int n = 0;
  for (const Stage &stage : kStages) n += stage.repeats;
  return n;
}

}  // namespace dfd::efficientnet_b0
