// The seed's training augmentations (spec section 5, Coccomini's create_train_transforms),
// ending in the model's isotropic resize and centred padding. Parameters are drawn first and
// applied second, so a real face and its self-blended fake can get exactly the same changes
// and differ only by the blend.
#pragma once

#include <array>
#include <cstdint>
#include <opencv2/core.hpp>

#include "random.h"

namespace dfd::training {

struct AugmentOptions {
  bool enabled = true;
  double jpeg_probability = 0.2;
  std::array<int, 2> jpeg_quality{60, 100};
  double noise_probability = 0.3;
  std::array<double, 2> noise_variance{10.0, 50.0};  // 8-bit units squared (albumentations)
  double flip_probability = 0.5;
  // One of brightness/contrast, FancyPCA or hue/saturation/value, with this probability.
  double colour_probability = 0.4;
  double brightness = 0.2;
  double contrast = 0.2;
  double pca_sigma = 0.1;
  std::array<double, 3> hsv_shift{20.0, 30.0, 20.0};  // OpenCV 8-bit HSV units
  double gray_probability = 0.2;
  double shift_scale_rotate_probability = 0.5;
  double shift = 0.1;   // fraction of the side
  double scale = 0.2;   // scale in 1 +- this
  double rotate = 5.0;  // degrees
};

struct AugmentParams {
  bool jpeg = false;
  int jpeg_quality = 100;
  bool noise = false;
  double noise_sigma = 0.0;
  uint64_t noise_seed = 0;
  bool flip = false;
  // The seed's three isotropic resize variants (shrink/enlarge interpolation): 0 area/cubic
  // (the inference one), 1 area/linear, 2 linear/linear.
  int resize_variant = 0;
  enum class Colour { None, BrightnessContrast, FancyPca, Hsv } colour = Colour::None;
  double alpha = 1.0, beta = 0.0;
  std::array<double, 3> pca{0.0, 0.0, 0.0};
  std::array<double, 3> hsv{0.0, 0.0, 0.0};
  bool gray = false;
  bool shift_scale_rotate = false;
  double dx = 0.0, dy = 0.0, scale = 1.0, angle = 0.0;
};

AugmentParams sample_augment(const AugmentOptions &options, Rng &rng);

// `bgr` (CV_8UC3, any size) -> size x size CV_8UC3 BGR. With default params (nothing drawn)
// this is exactly imaging's letterbox(), the inference preprocessing.
cv::Mat apply_augment(const cv::Mat &bgr, const AugmentParams &params, int size);

}  // namespace dfd::training
