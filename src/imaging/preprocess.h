// Turning a face crop into the model's input exactly as the seed does (spec section 2), and
// remembering where the crop landed so a relevancy map can be put back on the face.
#pragma once

#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "core/model_config.h"

namespace dfd {

// The seed's crop rule (preprocessing/extract_crops.py): the short side of the detector box is
// padded by (long - short) / 2 on each side, truncated as the seed's int((h - w) / 2), so an
// odd difference leaves the box one pixel short of square. `margin` (not in the seed; 0 keeps
// it exact) adds int(margin * long side) on every side. The result is clamped to the frame, as
// the seed's numpy slicing is, so boxes at the border are not square; it is empty when the
// face lies outside the frame. Throws std::invalid_argument for a negative margin.
cv::Rect seed_square_box(const cv::Rect &face, cv::Size frame, double margin = 0.0);

// The seed's isotropically_resize_image: the longest side becomes `size`, the other
// int(side * size / longest) computed in double as Python does (at least 1 pixel, where the
// seed would fail); INTER_AREA when shrinking, INTER_CUBIC when enlarging. An image whose
// longest side already is `size` is returned as is, sharing its pixels.
cv::Mat isotropic_resize(const cv::Mat &img, int size);

struct ModelInput {
  cv::Mat image;     // size x size, CV_8UC3, continuous
  cv::Rect content;  // where the resized crop lies inside the zero-padded square
};

// Isotropic resize, then centred zero padding to size x size as albumentations' PadIfNeeded
// (top = (size - h) / 2, left = (size - w) / 2, the odd pixel at the bottom or right).
// Stays BGR: this is the image the seed's overlay is drawn from. Throws std::invalid_argument
// unless `bgr_crop` is a non-empty CV_8UC3 image.
ModelInput letterbox(const cv::Mat &bgr_crop, int size);

// A BGR square in the colour order the model was trained with (always a new, continuous Mat).
cv::Mat to_model_colour_order(const cv::Mat &bgr_square, ColorOrder order);

// letterbox() at config.image_size followed by to_model_colour_order().
ModelInput make_model_input(const cv::Mat &bgr_crop, const ModelConfig &config);

// Packs the images back to back as Engine::infer expects them (count x size x size x 3 uint8).
// Throws std::invalid_argument if an image is not a size x size CV_8UC3 image.
std::vector<uint8_t> pack_model_inputs(const std::vector<ModelInput> &inputs, int size);

}  // namespace dfd
