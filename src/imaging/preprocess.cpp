#include "preprocess.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include <opencv2/imgproc.hpp>

namespace dfd {

cv::Rect seed_square_box(const cv::Rect &face, cv::Size frame, double margin) {
  if (!(margin >= 0.0)) throw std::invalid_argument("seed_square_box: margin must be >= 0");
  const int w = face.width;
  const int h = face.height;
  // Both differences are positive where used, so C++'s truncating division equals the seed's
  // int((h - w) / 2) and Python's (h - w) // 2.
  const int pad_w = h > w ? (h - w) / 2 : 0;
  const int pad_h = w > h ? (w - h) / 2 : 0;
  const int extra = static_cast<int>(margin * std::max(w, h));
  const int x0 = std::max(face.x - pad_w - extra, 0);
  const int y0 = std::max(face.y - pad_h - extra, 0);
  const int x1 = std::min(face.x + w + pad_w + extra, frame.width);
  const int y1 = std::min(face.y + h + pad_h + extra, frame.height);
  if (x1 <= x0 || y1 <= y0) return {};
  return {x0, y0, x1 - x0, y1 - y0};
}

cv::Mat isotropic_resize(const cv::Mat &img, int size) {
  if (img.empty()) throw std::invalid_argument("isotropic_resize: empty image");
  if (size <= 0) throw std::invalid_argument("isotropic_resize: size must be positive");
  const int h = img.rows;
  const int w = img.cols;
  if (std::max(w, h) == size) return img;
  double scale = 0.0;
  double new_w = 0.0;
  double new_h = 0.0;
  // Same operations, in the same order, as the seed's Python floats, so the truncated
  // sizes agree even where the product lands just below a whole number.
  if (w > h) {
    scale = static_cast<double>(size) / w;
    new_h = h * scale;
    new_w = size;
  } else {
    scale = static_cast<double>(size) / h;
    new_w = w * scale;
    new_h = size;
  }
  const int interpolation = scale > 1.0 ? cv::INTER_CUBIC : cv::INTER_AREA;
  const cv::Size target(std::max(static_cast<int>(new_w), 1), std::max(static_cast<int>(new_h), 1));
  cv::Mat resized;
  cv::resize(img, resized, target, 0.0, 0.0, interpolation);
  return resized;
}

ModelInput letterbox(const cv::Mat &bgr_crop, int size) {
  if (bgr_crop.empty() || bgr_crop.type() != CV_8UC3) {
    throw std::invalid_argument("letterbox: expected a non-empty 8-bit 3-channel image");
  }
  const cv::Mat resized = isotropic_resize(bgr_crop, size);
  const int top = (size - resized.rows) / 2;
  const int left = (size - resized.cols) / 2;
  ModelInput input;
  cv::copyMakeBorder(resized, input.image, top, size - resized.rows - top, left,
                     size - resized.cols - left, cv::BORDER_CONSTANT, cv::Scalar::all(0));
  input.content = cv::Rect(left, top, resized.cols, resized.rows);
  return input;
}

cv::Mat to_model_colour_order(const cv::Mat &bgr_square, ColorOrder order) {
  cv::Mat out;
  if (order == ColorOrder::RGB) {
    cv::cvtColor(bgr_square, out, cv::COLOR_BGR2RGB);
  } else {
    out = bgr_square.clone();
  }
  return out;
}

ModelInput make_model_input(const cv::Mat &bgr_crop, const ModelConfig &config) {
  ModelInput input = letterbox(bgr_crop, config.image_size);
  if (config.color_order != ColorOrder::BGR) {
    input.image = to_model_colour_order(input.image, config.color_order);
  }
  return input;
}

std::vector<uint8_t> pack_model_inputs(const std::vector<ModelInput> &inputs, int size) {
  const size_t image_bytes = static_cast<size_t>(size) * static_cast<size_t>(size) * 3;
  std::vector<uint8_t> packed(image_bytes * inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const cv::Mat &image = inputs[i].image;
    if (image.type() != CV_8UC3 || image.rows != size || image.cols != size) {
      throw std::invalid_argument("pack_model_inputs: image " + std::to_string(i) + " is not " +
                                  std::to_string(size) + "x" + std::to_string(size) +
                                  " 8-bit 3-channel");
    }
    // Row by row, so a non-continuous Mat (a ROI) packs correctly too.
    const size_t row_bytes = static_cast<size_t>(size) * 3;
    for (int y = 0; y < size; ++y) {
      std::memcpy(packed.data() + i * image_bytes + static_cast<size_t>(y) * row_bytes,
                  image.ptr<uint8_t>(y), row_bytes);
    }
  }
  return packed;
}

}  // namespace dfd
