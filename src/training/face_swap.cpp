#include "face_swap.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <string>

#include "image_ops.h"

namespace dfd::training {

namespace {

constexpr size_t kLandmarkCount = 68;
// A region smaller than this is a few stray pixels, not a face to swap.
constexpr int kMinRegionPixels = 64;
// The face box the bottleneck works on: the landmarks' bounding box grown by this fraction of
// its side on every side, so that the jaw and brows are inside it with their surroundings.
constexpr double kBottleneckBoxGrowth = 0.15;
constexpr double kMinColourGain = 0.5;
constexpr double kMaxColourGain = 2.0;

void check_inputs(const cv::Mat &bgr, const std::vector<cv::Point2f> &points, const char *what) {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    throw std::invalid_argument(std::string(what) + " needs a non-empty 8-bit 3-channel image");
  }
  if (points.size() != kLandmarkCount) {
    throw std::invalid_argument(std::string(what) + " needs 68 landmarks, got " +
                                std::to_string(points.size()));
  }
}

template <typename T>
const T &pick(const std::vector<T> &items, Rng &rng, const char *what) {
  if (items.empty()) throw std::invalid_argument(std::string(what) + " is empty");
  return items[static_cast<size_t>(uniform_int(rng, 0, static_cast<int>(items.size()) - 1))];
}

int nearest_point(const std::vector<cv::Point2f> &points, cv::Point2f p) {
  int best = -1;
  float best_distance = 0.25f;  // Subdiv2D returns the inserted coordinates exactly
  for (size_t i = 0; i < points.size(); ++i) {
    const cv::Point2f d = points[i] - p;
    const float distance = d.dot(d);
    if (distance < best_distance) {
      best_distance = distance;
      best = static_cast<int>(i);
    }
  }
  return best;
}

}  // namespace

std::vector<std::array<int, 3>> landmark_triangles(const std::vector<cv::Point2f> &points) {
  if (points.size() < 3) return {};
  float x0 = points[0].x, y0 = points[0].y, x1 = x0, y1 = y0;
  for (const cv::Point2f &p : points) {
    x0 = std::min(x0, p.x);
    y0 = std::min(y0, p.y);
    x1 = std::max(x1, p.x);
    y1 = std::max(y1, p.y);
  }
  // Subdiv2D wants every point strictly inside its rectangle.
  const cv::Rect bounds(static_cast<int>(std::floor(x0)) - 2, static_cast<int>(std::floor(y0)) - 2,
                        static_cast<int>(std::ceil(x1 - x0)) + 5,
                        static_cast<int>(std::ceil(y1 - y0)) + 5);
  cv::Subdiv2D subdivision(bounds);
  subdivision.insert(points);
  std::vector<cv::Vec6f> list;
  subdivision.getTriangleList(list);
  std::vector<std::array<int, 3>> triangles;
  triangles.reserve(list.size());
  for (const cv::Vec6f &t : list) {
    std::array<int, 3> indices{};
    bool inside = true;
    for (int k = 0; k < 3 && inside; ++k) {
      indices[static_cast<size_t>(k)] = nearest_point(points, {t[2 * k], t[2 * k + 1]});
      inside = indices[static_cast<size_t>(k)] >= 0;
    }
    // Triangles reaching Subdiv2D's three outer vertices are not part of the face.
    if (inside) triangles.push_back(indices);
  }
  return triangles;
}

cv::Mat warp_face(const cv::Mat &donor, const std::vector<cv::Point2f> &donor_points,
                  const std::vector<cv::Point2f> &target_points, cv::Size target_size,
                  cv::Mat *covered) {
  if (donor_points.size() != target_points.size()) {
    throw std::invalid_argument("warp_face: the two faces have different landmark counts");
  }
  cv::Mat map_x(target_size, CV_32F, cv::Scalar(-1)), map_y(target_size, CV_32F, cv::Scalar(-1));
  cv::Mat reached = cv::Mat::zeros(target_size, CV_8U);
  const cv::Rect bounds(0, 0, target_size.width, target_size.height);
  for (const std::array<int, 3> &t : landmark_triangles(target_points)) {
    cv::Point2f dst[3], src[3];
    for (size_t k = 0; k < 3; ++k) {
      dst[k] = target_points[static_cast<size_t>(t[k])];
      src[k] = donor_points[static_cast<size_t>(t[k])];
    }
    const double area = std::fabs((dst[1] - dst[0]).cross(dst[2] - dst[0]));
    if (area < 1.0) continue;  // collinear landmarks: no affine map
    // Target pixel -> donor pixel, so every target pixel gets exactly one sample.
    const cv::Mat inverse = cv::getAffineTransform(dst, src);
    std::vector<cv::Point> polygon;
    for (const cv::Point2f &p : dst) {
      polygon.emplace_back(static_cast<int>(std::lround(p.x)), static_cast<int>(std::lround(p.y)));
    }
    const cv::Rect box = cv::boundingRect(polygon) & bounds;
    if (box.empty()) continue;
    cv::Mat inside = cv::Mat::zeros(box.size(), CV_8U);
    for (cv::Point &p : polygon) p -= box.tl();
    cv::fillConvexPoly(inside, polygon, cv::Scalar(255));
    const double *a = inverse.ptr<double>(0);
    const double *b = inverse.ptr<double>(1);
    for (int y = 0; y < box.height; ++y) {
      const uint8_t *in = inside.ptr<uint8_t>(y);
      float *mx = map_x.ptr<float>(box.y + y) + box.x;
      float *my = map_y.ptr<float>(box.y + y) + box.x;
      uint8_t *r = reached.ptr<uint8_t>(box.y + y) + box.x;
      const double ty = box.y + y;
      for (int x = 0; x < box.width; ++x) {
        if (!in[x]) continue;
        const double tx = box.x + x;
        mx[x] = static_cast<float>(a[0] * tx + a[1] * ty + a[2]);
        my[x] = static_cast<float>(b[0] * tx + b[1] * ty + b[2]);
        r[x] = 255;
      }
    }
  }
  cv::Mat warped;
  // Samples off the donor's edge take its reflected border: face-coloured, never black.
  cv::remap(donor, warped, map_x, map_y, cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
  if (covered) *covered = reached;
  return warped;
}

cv::Mat transfer_colour(const cv::Mat &source, const cv::Mat &target, const cv::Mat &region) {
  if (cv::countNonZero(region) == 0) return source.clone();
  cv::Mat source_lab, target_lab;
  source.convertTo(source_lab, CV_32FC3, 1.0 / 255.0);
  target.convertTo(target_lab, CV_32FC3, 1.0 / 255.0);
  cv::cvtColor(source_lab, source_lab, cv::COLOR_BGR2Lab);
  cv::cvtColor(target_lab, target_lab, cv::COLOR_BGR2Lab);
  cv::Scalar source_mean, source_deviation, target_mean, target_deviation;
  cv::meanStdDev(source_lab, source_mean, source_deviation, region);
  cv::meanStdDev(target_lab, target_mean, target_deviation, region);
  std::vector<cv::Mat> channels;
  cv::split(source_lab, channels);
  for (int c = 0; c < 3; ++c) {
    // The gain is bounded: a blurry donor's spread is small, and matching it fully would
    // turn its eyes and brows into black holes; a flat channel (a grey image's a and b)
    // keeps its spread.
    const double gain =
        source_deviation[c] > 1e-3
            ? std::clamp(target_deviation[c] / source_deviation[c], kMinColourGain, kMaxColourGain)
            : 1.0;
    channels[static_cast<size_t>(c)] =
        (channels[static_cast<size_t>(c)] - source_mean[c]) * gain + target_mean[c];
  }
  cv::Mat lab, bgr, out;
  cv::merge(channels, lab);
  cv::cvtColor(lab, bgr, cv::COLOR_Lab2BGR);
  bgr.convertTo(out, CV_8UC3, 255.0);  // saturates out-of-gamut values
  return out;
}

cv::Mat through_bottleneck(const cv::Mat &bgr, const std::vector<cv::Point2f> &points,
                           const BottleneckOptions &o, Rng &rng) {
  const cv::Rect tight = cv::boundingRect(points);
  const int side = std::max(tight.width, tight.height);
  const int grow = static_cast<int>(std::lround(kBottleneckBoxGrowth * side));
  const cv::Point centre(tight.x + tight.width / 2, tight.y + tight.height / 2);
  const int half = side / 2 + grow;
  const cv::Rect box = cv::Rect(centre.x - half, centre.y - half, 2 * half, 2 * half) &
                       cv::Rect(0, 0, bgr.cols, bgr.rows);
  cv::Mat out = bgr.clone();
  if (box.width < 4 || box.height < 4) return out;
  const int box_side = std::max(box.width, box.height);
  int small_side = uniform_int(rng, o.size[0], o.size[1]);
  small_side = std::min(small_side, static_cast<int>(o.max_fraction * box_side));
  small_side = std::max(small_side, 4);
  const double scale = static_cast<double>(small_side) / box_side;
  const cv::Size small_size(std::max(2, static_cast<int>(std::lround(box.width * scale))),
                            std::max(2, static_cast<int>(std::lround(box.height * scale))));
  cv::Mat small;
  cv::resize(bgr(box), small, small_size, 0, 0, cv::INTER_AREA);
  if (chance(rng, o.blur_probability)) {
    const double sigma = uniform(rng, o.blur_sigma[0], o.blur_sigma[1]);
    cv::GaussianBlur(small, small, cv::Size(0, 0), sigma);
  }
  if (chance(rng, o.jpeg_probability)) {
    small = jpeg_roundtrip(small, uniform_int(rng, o.jpeg_quality[0], o.jpeg_quality[1]));
  }
  cv::Mat large;
  cv::resize(small, large, box.size(), 0, 0, chance(rng, 0.5) ? cv::INTER_LINEAR : cv::INTER_CUBIC);
  if (chance(rng, o.sharpen_probability)) {
    large = sharpen(large, uniform(rng, o.sharpen_alpha[0], o.sharpen_alpha[1]), 1.0);
  }
  large.copyTo(out(box));
  return out;
}

double pose_distance(const std::vector<cv::Point2f> &a, const std::vector<cv::Point2f> &b) {
  if (a.size() != b.size() || a.empty()) {
    throw std::invalid_argument("pose_distance: landmark counts differ");
  }
  const auto normalised = [](const std::vector<cv::Point2f> &points) {
    cv::Point2f centre(0.f, 0.f);
    for (const cv::Point2f &p : points) centre += p;
    centre *= 1.f / static_cast<float>(points.size());
    double spread = 0.0;
    for (const cv::Point2f &p : points) spread += (p - centre).dot(p - centre);
    const float scale = static_cast<float>(std::sqrt(spread / static_cast<double>(points.size())));
    std::vector<cv::Point2f> out;
    out.reserve(points.size());
    for (const cv::Point2f &p : points)
      out.push_back((p - centre) * (scale > 0.f ? 1.f / scale : 0.f));
    return out;
  };
  const std::vector<cv::Point2f> na = normalised(a), nb = normalised(b);
  double sum = 0.0;
  for (size_t i = 0; i < na.size(); ++i) sum += (na[i] - nb[i]).dot(na[i] - nb[i]);
  return sum / static_cast<double>(na.size());
}

SwapResult cross_identity_swap(const cv::Mat &target, const std::vector<cv::Point2f> &target_points,
                               const cv::Mat &donor, const std::vector<cv::Point2f> &donor_points,
                               const CrossSwapOptions &o, const BottleneckOptions &bottleneck,
                               const SbiOptions &mask_options, Rng &rng) {
  check_inputs(target, target_points, "a cross-identity swap");
  check_inputs(donor, donor_points, "a cross-identity swap");
  SwapResult out;
  out.hull_type = pick(o.hull_types, rng, "the swap's hull types");
  cv::Mat covered;
  out.rendered = warp_face(donor, donor_points, target_points, target.size(), &covered);
  out.region = landmark_region(target.size(), target_points, out.hull_type, rng) & covered;
  // The extended hull reaches over the forehead, past the landmarks' triangles: what the
  // triangles cover is what can be swapped.
  if (cv::countNonZero(out.region) < kMinRegionPixels) out.region = covered;
  if (chance(rng, o.colour_transfer_probability)) {
    out.rendered = transfer_colour(out.rendered, target, out.region);
  }
  out.bottleneck = chance(rng, o.bottleneck_probability);
  if (out.bottleneck)
    out.rendered = through_bottleneck(out.rendered, target_points, bottleneck, rng);
  out.mask = blend_mask(out.region, mask_options, rng) * pick(o.blend_ratios, rng, "blend ratios");
  out.fake = blend(out.rendered, target, out.mask);
  return out;
}

SwapResult low_resolution_swap(const cv::Mat &bgr, const std::vector<cv::Point2f> &points,
                               const LowResOptions &o, const BottleneckOptions &bottleneck,
                               const SbiOptions &mask_options, Rng &rng) {
  check_inputs(bgr, points, "a low-resolution swap");
  SwapResult out;
  out.hull_type = pick(o.hull_types, rng, "the low-resolution swap's hull types");
  out.region = landmark_region(bgr.size(), points, out.hull_type, rng);
  out.bottleneck = true;
  out.rendered = through_bottleneck(bgr, points, bottleneck, rng);
  const double alpha = 1.0 + uniform(rng, -o.tone_shift, o.tone_shift);
  const double beta = uniform(rng, -o.tone_shift, o.tone_shift);
  out.rendered = brightness_contrast(out.rendered, alpha, beta);
  out.mask = blend_mask(out.region, mask_options, rng) * pick(o.blend_ratios, rng, "blend ratios");
  out.fake = blend(out.rendered, bgr, out.mask);
  return out;
}

}  // namespace dfd::training
