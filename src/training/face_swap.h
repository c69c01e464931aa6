// Pseudo-fakes that look like today's face swaps, made from real faces and their 68 landmarks:
// - a cross-identity swap, the classic FaceSwap method: another person's face warped onto the
//   target triangle by triangle, colour-matched and blended in under a soft landmark mask;
// - a low-resolution re-render: the target's own face passed through a 64-128 px bottleneck
//   (down- and up-sampling, JPEG, blur or sharpening) and blended back, the texture signature
//   that autoencoder and one-shot swappers leave on an otherwise sharp frame.
// Self-blended images teach blending boundaries on the person's own face; these add an
// identity change and a resolution change inside the face.
#pragma once

#include <array>
#include <opencv2/core.hpp>
#include <vector>

#include "random.h"
#include "self_blend.h"

namespace dfd::training {

// The resolution bottleneck, shared by both generators.
struct BottleneckOptions {
  std::array<int, 2> size{64, 128};  // side of the face at its smallest, in pixels
  // Never shrink the face to more than this fraction of its side, so that a small face still
  // loses detail (a 90 px face goes down to at most 54 px).
  double max_fraction = 0.6;
  double jpeg_probability = 0.5;
  std::array<int, 2> jpeg_quality{50, 95};
  double blur_probability = 0.3;
  std::array<double, 2> blur_sigma{0.4, 1.2};  // at the small size
  double sharpen_probability = 0.3;            // after upsampling
  std::array<double, 2> sharpen_alpha{0.1, 0.4};
};

struct CrossSwapOptions {
  std::vector<HullType> hull_types{HullType::Face, HullType::Inner, HullType::Extended};
  // Match the donor's colour statistics to the target's inside the mask (mean and standard
  // deviation per Lab channel, Reinhard et al.), as FaceSwap's colour correction does.
  double colour_transfer_probability = 0.9;
  // Also pass the warped face through the resolution bottleneck (an autoencoder's output).
  double bottleneck_probability = 0.5;
  // The donor is the most similar pose among this many random other faces.
  int donor_candidates = 8;
  std::vector<double> blend_ratios{0.75, 1.0, 1.0, 1.0};
};

struct LowResOptions {
  std::vector<HullType> hull_types{HullType::Face, HullType::Inner, HullType::Extended};
  std::vector<double> blend_ratios{0.75, 1.0, 1.0, 1.0};
  // Brightness and contrast of the re-rendered face move by up to this much (a swapper's
  // output rarely matches the frame's tone exactly).
  double tone_shift = 0.05;
};

struct SwapResult {
  cv::Mat fake;      // CV_8UC3
  cv::Mat rendered;  // CV_8UC3: the face that was blended in (warped donor or re-render)
  cv::Mat mask;      // CV_32FC1 in [0, 1]: its blend weight
  cv::Mat region;    // CV_8UC1 0/255: the landmark region before blurring
  HullType hull_type = HullType::Face;
  bool bottleneck = false;
};

// The target's landmarks as triangles (indices into the 68 points) of their Delaunay
// triangulation.
std::vector<std::array<int, 3>> landmark_triangles(const std::vector<cv::Point2f> &points);

// Warps `donor` so that each of its landmark triangles lands on the target's: CV_8UC3 of
// `target_size`, and in `covered` (CV_8UC1) where the triangles reach.
cv::Mat warp_face(const cv::Mat &donor, const std::vector<cv::Point2f> &donor_points,
                  const std::vector<cv::Point2f> &target_points, cv::Size target_size,
                  cv::Mat *covered);

// Mean and standard deviation of `source` in Lab moved to `target`'s, over `region` (0/255).
cv::Mat transfer_colour(const cv::Mat &source, const cv::Mat &target, const cv::Mat &region);

// The image with the face box around `points` passed through the bottleneck.
cv::Mat through_bottleneck(const cv::Mat &bgr, const std::vector<cv::Point2f> &points,
                           const BottleneckOptions &options, Rng &rng);

// How alike two faces' poses are: the mean squared distance between their landmarks after
// removing position and scale (0 for the same shape).
double pose_distance(const std::vector<cv::Point2f> &a, const std::vector<cv::Point2f> &b);

// Throw std::invalid_argument for empty images or other than 68 points. `mask_options` gives
// the mask's blur and erosion (the self-blending recipe's).
SwapResult cross_identity_swap(const cv::Mat &target, const std::vector<cv::Point2f> &target_points,
                               const cv::Mat &donor, const std::vector<cv::Point2f> &donor_points,
                               const CrossSwapOptions &options, const BottleneckOptions &bottleneck,
                               const SbiOptions &mask_options, Rng &rng);

SwapResult low_resolution_swap(const cv::Mat &bgr, const std::vector<cv::Point2f> &points,
                               const LowResOptions &options, const BottleneckOptions &bottleneck,
                               const SbiOptions &mask_options, Rng &rng);

}  // namespace dfd::training
