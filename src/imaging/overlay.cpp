#include "overlay.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <opencv2/imgproc.hpp>

namespace dfd {

namespace {

void check_map(const FloatMap &map, const char *what) {
  if (map.width <= 0 || map.height <= 0 ||
      map.values.size() != static_cast<size_t>(map.width) * static_cast<size_t>(map.height)) {
    throw std::invalid_argument(std::string(what) + ": malformed map");
  }
}

}  // namespace

cv::Mat jet_colour(const FloatMap &map01) {
  check_map(map01, "jet_colour");
  cv::Mat grey(map01.height, map01.width, CV_8UC1);
  for (int y = 0; y < map01.height; ++y) {
    uint8_t *row = grey.ptr<uint8_t>(y);
    for (int x = 0; x < map01.width; ++x) {
      const float v = 255.f * map01.at(x, y);
      row[x] = std::isnan(v) ? 0 : static_cast<uint8_t>(std::min(std::max(v, 0.f), 255.f));
    }
  }
  cv::Mat colour;
  cv::applyColorMap(grey, colour, cv::COLORMAP_JET);
  return colour;
}

cv::Mat seed_overlay(const cv::Mat &model_input_bgr, const FloatMap &mask) {
  if (model_input_bgr.empty() || model_input_bgr.type() != CV_8UC3) {
    throw std::invalid_argument("seed_overlay: expected a non-empty 8-bit 3-channel image");
  }
  if (mask.width != model_input_bgr.cols || mask.height != model_input_bgr.rows) {
    throw std::invalid_argument("seed_overlay: mask and image sizes differ");
  }
  const cv::Mat heat = jet_colour(mask);
  const int rows = model_input_bgr.rows;
  const int channels = model_input_bgr.cols * 3;

  double lo = 0.0;
  double hi = 0.0;
  cv::minMaxLoc(model_input_bgr.reshape(1), &lo, &hi);
  const float img_min = static_cast<float>(lo);
  const float img_range = static_cast<float>(hi) - img_min;

  // Each step is one float32 operation, as numpy performs it on float32 arrays.
  cv::Mat cam(rows, model_input_bgr.cols, CV_32FC3);
  float cam_max = 0.f;
  for (int y = 0; y < rows; ++y) {
    const uint8_t *pixel = model_input_bgr.ptr<uint8_t>(y);
    const uint8_t *jet = heat.ptr<uint8_t>(y);
    float *out = cam.ptr<float>(y);
    for (int i = 0; i < channels; ++i) {
      // A constant image (NaN in the seed) contributes nothing rather than poisoning the sheet.
      const float img =
          img_range > 0.f ? (static_cast<float>(pixel[i]) - img_min) / img_range : 0.f;
      out[i] = static_cast<float>(jet[i]) / 255.f + img;
      cam_max = std::max(cam_max, out[i]);
    }
  }
  cv::Mat result(rows, model_input_bgr.cols, CV_8UC3);
  for (int y = 0; y < rows; ++y) {
    const float *in = cam.ptr<float>(y);
    uint8_t *out = result.ptr<uint8_t>(y);
    for (int i = 0; i < channels; ++i) {
      const float v = cam_max > 0.f ? in[i] / cam_max : 0.f;
      out[i] = static_cast<uint8_t>(255.f * v);
    }
  }
  return result;
}

void blend_heatmap(cv::Mat &bgr_region, const FloatMap &map01, float alpha) {
  if (bgr_region.empty() || bgr_region.type() != CV_8UC3) {
    throw std::invalid_argument("blend_heatmap: expected a non-empty 8-bit 3-channel region");
  }
  check_map(map01, "blend_heatmap");
  const float a = std::min(std::max(alpha, 0.f), 1.f);
  const bool same_size = map01.width == bgr_region.cols && map01.height == bgr_region.rows;
  const cv::Mat jet =
      jet_colour(same_size ? map01 : resize_bilinear(map01, bgr_region.cols, bgr_region.rows));
  // Same size and type as the destination, so addWeighted writes through the ROI header in
  // place instead of reallocating it.
  cv::addWeighted(bgr_region, 1.0 - a, jet, a, 0.0, bgr_region);
}

FloatMap map_onto_crop(const FloatMap &input_map, const cv::Rect &content, cv::Size crop_size) {
  check_map(input_map, "map_onto_crop");
  if (content.empty() || content.x < 0 || content.y < 0 ||
      content.x + content.width > input_map.width ||
      content.y + content.height > input_map.height) {
    throw std::invalid_argument("map_onto_crop: content rectangle outside the map");
  }
  if (crop_size.width <= 0 || crop_size.height <= 0) {
    throw std::invalid_argument("map_onto_crop: crop size must be positive");
  }
  FloatMap cut;
  cut.width = content.width;
  cut.height = content.height;
  cut.values.reserve(static_cast<size_t>(cut.width) * static_cast<size_t>(cut.height));
  for (int y = content.y; y < content.y + content.height; ++y) {
    const auto row = input_map.values.begin() + static_cast<std::ptrdiff_t>(y) * input_map.width;
    cut.values.insert(cut.values.end(), row + content.x, row + content.x + content.width);
  }
  if (cut.width == crop_size.width && cut.height == crop_size.height) return cut;
  return resize_bilinear(cut, crop_size.width, crop_size.height);
}

}  // namespace dfd
