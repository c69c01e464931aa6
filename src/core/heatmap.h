// Turning a relevancy grid into a per-pixel map in [0, 1]. Plain C++ (no LibTorch, no
// OpenCV) so that tests can check the arithmetic by hand.
#pragma once

#include <vector>

#include "engine.h"

namespace dfd {

// A single-channel float image, row-major.
struct FloatMap {
  int width = 0;
  int height = 0;
  std::vector<float> values;
  float at(int x, int y) const { return values[static_cast<size_t>(y) * width + x]; }
};

// PyTorch's bilinear interpolation with align_corners=False (half-pixel centres, edges clamped).
FloatMap resize_bilinear(const FloatMap &source, int width, int height);
// Non-overlapping k x k mean pooling (AvgPool2d(k)); trailing rows/columns that do not fill a
// window are dropped, as PyTorch does.
FloatMap average_pool(const FloatMap &source, int k);
// Rescales to [0, 1]; a constant map becomes all zeros rather than dividing by zero.
void normalize_min_max(FloatMap &map);

// The seed's map (spec section 4): 32x32 -> AvgPool2d(2) -> bilinear to `size` -> min-max.
FloatMap seed_relevancy_map(const RelevancyGrid &grid, int size = 224);
// A spatial model's grid covers the whole square model input: bilinear to size x size, min-max.
FloatMap spatial_relevancy_map(const RelevancyGrid &grid, int size);
// Chooses by architecture.
FloatMap relevancy_map(const RelevancyGrid &grid, Architecture architecture, int size);

}  // namespace dfd
