// Self-Blended Images (Shiohara and Yamasaki, CVPR 2022; spec section 7): a pseudo-fake made
// by blending a face with a slightly altered copy of itself inside a landmark mask, so the
// network learns blending boundaries and colour mismatches without ever seeing a real fake.
#pragma once

#include <array>
#include <opencv2/core.hpp>
#include <vector>

#include "random.h"

namespace dfd::training {

// Which landmark region is blended. The published code draws among several (from Face X-ray's
// library) when it is installed; the spliced Yonsei fakes replace single parts, so parts help.
enum class HullType {
  Face,        // convex hull of all 68 points (the recipe's base case)
  Inner,       // hull of brows, eyes, nose and mouth (points 17-67): the jaw line stays real
  Components,  // a random non-empty subset of: left eye+brow, right eye+brow, nose, mouth
  Extended,    // the face hull with the brows raised to cover the forehead
};

struct SbiOptions {
  std::vector<HullType> hull_types{HullType::Face};  // drawn uniformly
  // Which copy gets the colour and frequency jitter: the source with this probability, else
  // the target (the recipe's 0.5), so the real half of a pair is sometimes the altered one.
  double source_jitter_probability = 0.5;
  double rgb_shift = 20.0;  // per-channel shift in [-x, x] (8-bit units) ...
  double rgb_shift_probability = 0.3;
  // Hue, saturation and value shifts in OpenCV's 8-bit HSV units (hue 0-179). The recipe's
  // +-0.3 is below one unit, so, as in the published code, it changes no pixel.
  std::array<double, 3> hsv_shift{0.3, 0.3, 0.3};
  double brightness = 0.1;  // alpha in 1 +- contrast, beta in +- brightness * 255
  double contrast = 0.1;
  // The frequency change: downscale by one of these factors (nearest) and back up
  // (linear), or else sharpen with alpha and lightness from these ranges; 50/50.
  std::vector<int> downscale_factors{2, 4};
  std::array<double, 2> sharpen_alpha{0.2, 0.5};
  std::array<double, 2> sharpen_lightness{0.5, 1.0};
  // Random affine of the source and the mask, about the image centre.
  double translate_x = 0.03;  // fraction of the width
  double translate_y = 0.015;
  std::array<double, 2> scale{0.95, 1.0 / 0.95};
  // Elastic deformation of the mask only (pixels).
  double elastic_alpha = 50.0;
  double elastic_sigma = 7.0;
  // The blend mask is reshaped at a random size in this range (each side drawn separately, as
  // the published code does), so its blur kernels act at a face-independent scale.
  std::array<int, 2> mask_size{192, 256};
  std::array<int, 2> blur_kernel{5, 25};  // odd sizes in this range
  std::array<int, 2> blur_sigma{5, 45};   // second blur
  // After the first blur the recipe keeps only the fully covered part (an erosion); with this
  // probability everything touched is kept instead (a dilation).
  double dilate_probability = 0.0;
  std::vector<double> blend_ratios{0.25, 0.5, 0.75, 1.0, 1.0, 1.0};
};

struct SelfBlended {
  cv::Mat target;  // CV_8UC3: the image the fake is blended onto (the input, maybe jittered)
  cv::Mat source;  // CV_8UC3: the jittered, warped copy blended in
  cv::Mat mask;    // CV_32FC1 in [0, 1]: the blend weight of `source`, blend ratio included
  cv::Mat hull;    // CV_8UC1 0/255: the landmark region before deformation and blur
  cv::Mat fake;    // CV_8UC3: mask * source + (1 - mask) * target, rounded
  HullType hull_type = HullType::Face;
  bool source_jittered = true;
  double ratio = 1.0;
};

// `bgr`: CV_8UC3; `points`: 68 landmarks in its pixels (they may lie outside the image).
// Throws std::invalid_argument for other inputs. Draws all randomness from `rng`.
SelfBlended self_blend(const cv::Mat &bgr, const std::vector<cv::Point2f> &points,
                       const SbiOptions &options, Rng &rng);

// The filled landmark region (0/255) for one hull type. Components draws its parts from
// `rng`; the others do not touch it. Falls back to a centred ellipse when the region covers
// almost none of the image (landmarks far outside it).
cv::Mat landmark_region(cv::Size size, const std::vector<cv::Point2f> &points, HullType type,
                        Rng &rng);

const char *hull_type_name(HullType type);

// The blend mask of the recipe's dynamic_blend/get_blend_mask, from a 0/255 region: blur,
// erode (or, with dilate_probability, dilate), blur again, at a random working size from
// `mask_size`; CV_32FC1 values in [0, 1] with a smooth boundary, peak 1.
cv::Mat blend_mask(const cv::Mat &region, const SbiOptions &options, Rng &rng);

// mask * source + (1 - mask) * target, rounded; `mask` CV_32FC1 in [0, 1], images CV_8UC3.
cv::Mat blend(const cv::Mat &source, const cv::Mat &target, const cv::Mat &mask);

// An odd number drawn uniformly from the odd numbers in [limits[0] | 1, limits[1]].
int random_odd(Rng &rng, const std::array<int, 2> &limits);

}  // namespace dfd::training
