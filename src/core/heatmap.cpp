#include "heatmap.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace dfd {

namespace {

void check_map(const FloatMap &map, const char *what) {
  if (map.width <= 0 || map.height <= 0 ||
      map.values.size() != static_cast<size_t>(map.width) * static_cast<size_t>(map.height)) {
    throw std::invalid_argument(std::string(what) + ": malformed map (" +
                                std::to_string(map.width) + "x" + std::to_string(map.height) +
                                ", " + std::to_string(map.values.size()) + " values)");
  }
}

// One axis of PyTorch's upsample_bilinear2d (align_corners=False), as its kernels compute it
// in float: src = max(scale * (dst + 0.5) - 0.5, 0), with scale = in / out, the lower index
// truncated, and the upper neighbour clamped to the last row or column.
struct AxisTap {
  int i0 = 0;
  int i1 = 0;
  float w0 = 1.f;
  float w1 = 0.f;
};

std::vector<AxisTap> axis_taps(int in, int out) {
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  std::vector<AxisTap> taps(static_cast<size_t>(out));
  for (int d = 0; d < out; ++d) {
    const float src = std::max(scale * (static_cast<float>(d) + 0.5f) - 0.5f, 0.f);
    AxisTap &tap = taps[static_cast<size_t>(d)];
    tap.i0 = std::min(static_cast<int>(src), in - 1);
    tap.i1 = tap.i0 + (tap.i0 < in - 1 ? 1 : 0);
    tap.w1 = std::min(std::max(src - static_cast<float>(tap.i0), 0.f), 1.f);
    tap.w0 = 1.f - tap.w1;
  }
  return taps;
}

}  // namespace

FloatMap resize_bilinear(const FloatMap &source, int width, int height) {
  check_map(source, "resize_bilinear");
  if (width <= 0 || height <= 0) {
    throw std::invalid_argument("resize_bilinear: target size must be positive");
  }
  const std::vector<AxisTap> xs = axis_taps(source.width, width);
  const std::vector<AxisTap> ys = axis_taps(source.height, height);
  FloatMap out;
  out.width = width;
  out.height = height;
  out.values.resize(static_cast<size_t>(width) * static_cast<size_t>(height));
  for (int y = 0; y < height; ++y) {
    const AxisTap &ty = ys[static_cast<size_t>(y)];
    for (int x = 0; x < width; ++x) {
      const AxisTap &tx = xs[static_cast<size_t>(x)];
      const float top = tx.w0 * source.at(tx.i0, ty.i0) + tx.w1 * source.at(tx.i1, ty.i0);
      const float bottom = tx.w0 * source.at(tx.i0, ty.i1) + tx.w1 * source.at(tx.i1, ty.i1);
      out.values[static_cast<size_t>(y) * width + x] = ty.w0 * top + ty.w1 * bottom;
    }
  }
  return out;
}

FloatMap average_pool(const FloatMap &source, int k) {
  check_map(source, "average_pool");
  if (k <= 0 || k > source.width || k > source.height) {
    throw std::invalid_argument("average_pool: window " + std::to_string(k) +
                                " does not fit the map");
  }
  FloatMap out;
  out.width = source.width / k;
  out.height = source.height / k;
  out.values.resize(static_cast<size_t>(out.width) * static_cast<size_t>(out.height));
  const float count = static_cast<float>(k * k);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      float sum = 0.f;
      for (int dy = 0; dy < k; ++dy) {
        for (int dx = 0; dx < k; ++dx) sum += source.at(x * k + dx, y * k + dy);
      }
      out.values[static_cast<size_t>(y) * out.width + x] = sum / count;
    }
  }
  return out;
}

void normalize_min_max(FloatMap &map) {
  if (map.values.empty()) return;
  const auto [lo, hi] = std::minmax_element(map.values.begin(), map.values.end());
  const float min = *lo;
  const float range = *hi - min;
  // The seed divides unguarded (a constant map would turn into NaNs); zeros draw as "no
  // relevancy", which is what a flat map means.
  if (!(range > 0.f)) {
    std::fill(map.values.begin(), map.values.end(), 0.f);
    return;
  }
  for (float &v : map.values) v = (v - min) / range;
}

namespace {

FloatMap grid_to_map(const RelevancyGrid &grid) {
  FloatMap map;
  map.width = grid.width;
  map.height = grid.height;
  map.values = grid.values;
  check_map(map, "relevancy grid");
  return map;
}

}  // namespace

FloatMap seed_relevancy_map(const RelevancyGrid &grid, int size) {
  FloatMap map = resize_bilinear(average_pool(grid_to_map(grid), 2), size, size);
  normalize_min_max(map);
  return map;
}

FloatMap spatial_relevancy_map(const RelevancyGrid &grid, int size) {
  FloatMap map = resize_bilinear(grid_to_map(grid), size, size);
  normalize_min_max(map);
  return map;
}

FloatMap relevancy_map(const RelevancyGrid &grid, Architecture architecture, int size) {
  return architecture == Architecture::Seed ? seed_relevancy_map(grid, size)
                                            : spatial_relevancy_map(grid, size);
}

}  // namespace dfd
