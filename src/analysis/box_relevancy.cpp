#include "analysis/box_relevancy.h"

#include <algorithm>
#include <cmath>

#include "core/heatmap.h"
#include "imaging/overlay.h"

namespace dfd {

namespace {

// Bilinear sample with edges clamped, at continuous pixel coordinates (pixel centres on
// integers).
float sample(const FloatMap &map, double x, double y) {
  x = std::clamp(x, 0.0, static_cast<double>(map.width - 1));
  y = std::clamp(y, 0.0, static_cast<double>(map.height - 1));
  const int x0 = static_cast<int>(std::floor(x));
  const int y0 = static_cast<int>(std::floor(y));
  const int x1 = std::min(x0 + 1, map.width - 1);
  const int y1 = std::min(y0 + 1, map.height - 1);
  const double fx = x - x0;
  const double fy = y - y0;
  const double top = map.at(x0, y0) * (1 - fx) + map.at(x1, y0) * fx;
  const double bottom = map.at(x0, y1) * (1 - fx) + map.at(x1, y1) * fx;
  return static_cast<float>(top * (1 - fy) + bottom * fy);
}

}  // namespace

RelevancyGrid box_relevancy(const RelevancyGrid &model_grid, const ModelConfig &config,
                            const SubmittedFace &face, int max_side) {
  RelevancyGrid out;
  if (model_grid.values.empty() || face.crop.empty() || face.box.empty()) return out;
  const FloatMap input_map = relevancy_map(model_grid, config.architecture, config.image_size);
  // The crop's map at a reduced size: it is sampled again onto a grid of at most max_side, so
  // full-resolution crops (hundreds of pixels) would only cost time.
  const double shrink = std::min(1.0, 128.0 / std::max(face.crop.width, face.crop.height));
  const cv::Size small(std::max(1, static_cast<int>(std::lround(face.crop.width * shrink))),
                       std::max(1, static_cast<int>(std::lround(face.crop.height * shrink))));
  const FloatMap crop_map = map_onto_crop(input_map, face.content, small);
  const double sx = static_cast<double>(small.width) / face.crop.width;
  const double sy = static_cast<double>(small.height) / face.crop.height;

  const double fit =
      std::min(1.0, static_cast<double>(max_side) / std::max(face.box.width, face.box.height));
  out.width = std::max(1, static_cast<int>(std::lround(face.box.width * fit)));
  out.height = std::max(1, static_cast<int>(std::lround(face.box.height * fit)));
  out.values.resize(static_cast<size_t>(out.width) * static_cast<size_t>(out.height));
  for (int j = 0; j < out.height; ++j) {
    const double frame_y = face.box.y + (j + 0.5) * face.box.height / out.height;
    const double crop_y = (frame_y - face.crop.y) * sy - 0.5;
    for (int i = 0; i < out.width; ++i) {
      const double frame_x = face.box.x + (i + 0.5) * face.box.width / out.width;
      const double crop_x = (frame_x - face.crop.x) * sx - 0.5;
      out.values[static_cast<size_t>(j) * out.width + i] = sample(crop_map, crop_x, crop_y);
    }
  }
  return out;
}

}  // namespace dfd
