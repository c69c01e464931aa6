#include "self_blend.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "image_ops.h"

namespace dfd::training {

namespace {

constexpr int kLandmarkCount = 68;
// Below this many pixels the region is a few landmarks outside the image, not a face.
constexpr int kMinRegionPixels = 64;

void fill_hull(cv::Mat &mask, const std::vector<cv::Point2f> &points) {
  std::vector<cv::Point> integer;
  integer.reserve(points.size());
  for (const cv::Point2f &p : points) {
    integer.emplace_back(static_cast<int>(std::lround(p.x)), static_cast<int>(std::lround(p.y)));
  }
  std::vector<cv::Point> hull;
  cv::convexHull(integer, hull);
  cv::fillConvexPoly(mask, hull, cv::Scalar(255));
}

std::vector<cv::Point2f> range(const std::vector<cv::Point2f> &points, int begin, int end) {
  return {points.begin() + begin, points.begin() + end};
}

// The brows (17-26) moved away from the chin by a fifth of the chin-brow distance, so the
// hull reaches up over the forehead.
std::vector<cv::Point2f> extended_points(const std::vector<cv::Point2f> &points) {
  std::vector<cv::Point2f> out = points;
  cv::Point2f brows(0.f, 0.f);
  for (int i = 17; i < 27; ++i) brows += points[i];
  brows *= 0.1f;
  const cv::Point2f up = (brows - points[8]) * 0.2f;
  for (int i = 17; i < 27; ++i) out[i] += up;
  return out;
}

}  // namespace

int random_odd(Rng &rng, const std::array<int, 2> &limits) {
  const int low = limits[0] | 1;
  const int high = std::max(low, limits[1] % 2 == 1 ? limits[1] : limits[1] - 1);
  return low + 2 * uniform_int(rng, 0, (high - low) / 2);
}

namespace {

// The recipe's colour jitter, then one frequency change.
cv::Mat jitter(const cv::Mat &bgr, const SbiOptions &o, Rng &rng) {
  cv::Mat out = bgr;
  if (chance(rng, o.rgb_shift_probability)) {
    const std::array<double, 3> shift{uniform(rng, -o.rgb_shift, o.rgb_shift),
                                      uniform(rng, -o.rgb_shift, o.rgb_shift),
                                      uniform(rng, -o.rgb_shift, o.rgb_shift)};
    out = shift_rgb(out, shift);
  }
  const double hue = uniform(rng, -o.hsv_shift[0], o.hsv_shift[0]);
  const double saturation = uniform(rng, -o.hsv_shift[1], o.hsv_shift[1]);
  const double value = uniform(rng, -o.hsv_shift[2], o.hsv_shift[2]);
  // Shifts under one unit change no pixel (the published recipe's case); skip the two
  // colour conversions, whose rounding would.
  if (std::fabs(hue) >= 1.0 || std::fabs(saturation) >= 1.0 || std::fabs(value) >= 1.0) {
    out = shift_hsv(out, hue, saturation, value);
  }
  const double alpha = 1.0 + uniform(rng, -o.contrast, o.contrast);
  const double beta = uniform(rng, -o.brightness, o.brightness);
  out = brightness_contrast(out, alpha, beta);
  if (chance(rng, 0.5) && !o.downscale_factors.empty()) {
    const int pick = uniform_int(rng, 0, static_cast<int>(o.downscale_factors.size()) - 1);
    out = downscale_upscale(out, o.downscale_factors[static_cast<size_t>(pick)]);
  } else {
    const double a = uniform(rng, o.sharpen_alpha[0], o.sharpen_alpha[1]);
    const double l = uniform(rng, o.sharpen_lightness[0], o.sharpen_lightness[1]);
    out = sharpen(out, a, l);
  }
  return out;
}

cv::Mat elastic_field(cv::Size size, double alpha, double sigma, Rng &rng) {
  cv::Mat field(size, CV_32F);
  cv::RNG noise((static_cast<uint64_t>(rng()) << 32) | rng());
  noise.fill(field, cv::RNG::UNIFORM, -1.0, 1.0);
  cv::GaussianBlur(field, field, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT_101);
  return field * alpha;
}

}  // namespace

cv::Mat blend_mask(const cv::Mat &region, const SbiOptions &o, Rng &rng) {
  const cv::Size original = region.size();
  const int height = uniform_int(rng, o.mask_size[0], o.mask_size[1]);
  const int width = uniform_int(rng, o.mask_size[0], o.mask_size[1]);
  const int kernel1 = random_odd(rng, o.blur_kernel);
  const int kernel2 = random_odd(rng, o.blur_kernel);
  const double sigma2 = uniform_int(rng, o.blur_sigma[0], o.blur_sigma[1]);
  const bool dilate = chance(rng, o.dilate_probability);

  cv::Mat mask;
  region.convertTo(mask, CV_32F, 1.0 / 255.0);
  cv::resize(mask, mask, cv::Size(width, height), 0, 0, cv::INTER_LINEAR);
  cv::GaussianBlur(mask, mask, cv::Size(kernel1, kernel1), 0);
  double peak = 0.0;
  cv::minMaxLoc(mask, nullptr, &peak);
  if (peak <= 0.0) return cv::Mat::zeros(original, CV_32F);
  mask /= peak;
  // Float sums of a flat kernel land a few ulps either side of 1, so "covered" allows that.
  constexpr float kTolerance = 1e-4f;
  if (dilate) {
    cv::threshold(mask, mask, kTolerance, 1.0, cv::THRESH_BINARY);
  } else {
    cv::threshold(mask, mask, 1.0f - kTolerance, 1.0, cv::THRESH_BINARY);
  }
  cv::GaussianBlur(mask, mask, cv::Size(kernel2, kernel2), sigma2);
  cv::minMaxLoc(mask, nullptr, &peak);
  if (peak <= 0.0) return cv::Mat::zeros(original, CV_32F);
  mask /= peak;
  cv::resize(mask, mask, original, 0, 0, cv::INTER_LINEAR);
  // Float noise from the blurs and the resize must not leave the [0, 1] weight range.
  cv::max(mask, 0.0, mask);
  cv::min(mask, 1.0, mask);
  return mask;
}

cv::Mat blend(const cv::Mat &source, const cv::Mat &target, const cv::Mat &mask) {
  cv::Mat mask3, source_f, target_f, out;
  cv::merge(std::vector<cv::Mat>{mask, mask, mask}, mask3);
  source.convertTo(source_f, CV_32FC3);
  target.convertTo(target_f, CV_32FC3);
  // Where m is 0 this gives `target` exactly, so the fake differs only inside the mask.
  const cv::Mat blended = mask3.mul(source_f) + (cv::Scalar::all(1.0) - mask3).mul(target_f);
  blended.convertTo(out, CV_8UC3);
  return out;
}

const char *hull_type_name(HullType type) {
  switch (type) {
    case HullType::Face:
      return "face";
    case HullType::Inner:
      return "inner";
    case HullType::Components:
      return "components";
    case HullType::Extended:
      return "extended";
  }
  return "unknown";
}

cv::Mat landmark_region(cv::Size size, const std::vector<cv::Point2f> &points, HullType type,
                        Rng &rng) {
  if (points.size() != kLandmarkCount) {
    throw std::invalid_argument("self-blending needs 68 landmarks, got " +
                                std::to_string(points.size()));
  }
  cv::Mat mask = cv::Mat::zeros(size, CV_8U);
  switch (type) {
    case HullType::Face:
      fill_hull(mask, points);
      break;
    case HullType::Inner:
      fill_hull(mask, range(points, 17, 68));
      break;
    case HullType::Extended:
      fill_hull(mask, extended_points(points));
      break;
    case HullType::Components: {
      // Bits: left eye+brow, right eye+brow, nose, mouth; never none.
      const int parts = uniform_int(rng, 1, 15);
      if (parts & 1) {
        std::vector<cv::Point2f> p = range(points, 36, 42);
        for (int i = 17; i < 22; ++i) p.push_back(points[i]);
        fill_hull(mask, p);
      }
      if (parts & 2) {
        std::vector<cv::Point2f> p = range(points, 42, 48);
        for (int i = 22; i < 27; ++i) p.push_back(points[i]);
        fill_hull(mask, p);
      }
      if (parts & 4) fill_hull(mask, range(points, 27, 36));
      if (parts & 8) fill_hull(mask, range(points, 48, 68));
      break;
    }
  }
  if (cv::countNonZero(mask) < kMinRegionPixels) {
    mask.setTo(0);
    cv::ellipse(mask, cv::Point(size.width / 2, size.height / 2),
                cv::Size(std::max(1, size.width / 3), std::max(1, size.height / 3)), 0, 0, 360,
                cv::Scalar(255), cv::FILLED);
  }
  return mask;
}

SelfBlended self_blend(const cv::Mat &bgr, const std::vector<cv::Point2f> &points,
                       const SbiOptions &o, Rng &rng) {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    throw std::invalid_argument("self-blending needs a non-empty 8-bit 3-channel image");
  }
  if (o.hull_types.empty() || o.blend_ratios.empty()) {
    throw std::invalid_argument("self-blending needs at least one hull type and blend ratio");
  }
  SelfBlended out;
  const int hull_pick = uniform_int(rng, 0, static_cast<int>(o.hull_types.size()) - 1);
  out.hull_type = o.hull_types[static_cast<size_t>(hull_pick)];
  out.hull = landmark_region(bgr.size(), points, out.hull_type, rng);

  out.source_jittered = chance(rng, o.source_jitter_probability);
  cv::Mat source = bgr;
  out.target = bgr.clone();
  if (out.source_jittered) {
    source = jitter(bgr, o, rng);
  } else {
    out.target = jitter(bgr, o, rng);
  }

  // One affine for the source and the mask, so the mask still covers the moved face.
  const double tx = uniform(rng, -o.translate_x, o.translate_x) * bgr.cols;
  const double ty = uniform(rng, -o.translate_y, o.translate_y) * bgr.rows;
  const double scale = uniform(rng, o.scale[0], o.scale[1]);
  const cv::Point2f centre(bgr.cols * 0.5f - 0.5f, bgr.rows * 0.5f - 0.5f);
  cv::Mat affine = cv::getRotationMatrix2D(centre, 0.0, scale);
  affine.at<double>(0, 2) += tx;
  affine.at<double>(1, 2) += ty;
  // The border only shows where the blend mask is zero, but reflection keeps it face-coloured
  // should a blurred edge reach it.
  cv::warpAffine(source, out.source, affine, bgr.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
  cv::Mat region;
  cv::warpAffine(out.hull, region, affine, bgr.size(), cv::INTER_NEAREST, cv::BORDER_CONSTANT,
                 cv::Scalar(0));

  const cv::Mat dx = elastic_field(bgr.size(), o.elastic_alpha, o.elastic_sigma, rng);
  const cv::Mat dy = elastic_field(bgr.size(), o.elastic_alpha, o.elastic_sigma, rng);
  cv::Mat map_x(bgr.size(), CV_32F), map_y(bgr.size(), CV_32F);
  for (int y = 0; y < bgr.rows; ++y) {
    for (int x = 0; x < bgr.cols; ++x) {
      map_x.at<float>(y, x) = static_cast<float>(x) + dx.at<float>(y, x);
      map_y.at<float>(y, x) = static_cast<float>(y) + dy.at<float>(y, x);
    }
  }
  cv::remap(region, region, map_x, map_y, cv::INTER_NEAREST, cv::BORDER_CONSTANT, cv::Scalar(0));

  out.mask = blend_mask(region, o, rng);
  const int ratio_pick = uniform_int(rng, 0, static_cast<int>(o.blend_ratios.size()) - 1);
  out.ratio = o.blend_ratios[static_cast<size_t>(ratio_pick)];
  out.mask *= out.ratio;

  out.fake = blend(out.source, out.target, out.mask);
  return out;
}

}  // namespace dfd::training
