#include "augment.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "image_ops.h"
#include "imaging/preprocess.h"

namespace dfd::training {

AugmentParams sample_augment(const AugmentOptions &o, Rng &rng) {
  AugmentParams p;
  if (!o.enabled) return p;
  p.jpeg = chance(rng, o.jpeg_probability);
  p.jpeg_quality = uniform_int(rng, o.jpeg_quality[0], o.jpeg_quality[1]);
  p.noise = chance(rng, o.noise_probability);
  p.noise_sigma = std::sqrt(uniform(rng, o.noise_variance[0], o.noise_variance[1]));
  p.noise_seed = (static_cast<uint64_t>(rng()) << 32) | rng();
  p.flip = chance(rng, o.flip_probability);
  p.resize_variant = uniform_int(rng, 0, 2);
  if (chance(rng, o.colour_probability)) {
    switch (uniform_int(rng, 0, 2)) {
      case 0:
        p.colour = AugmentParams::Colour::BrightnessContrast;
        p.alpha = 1.0 + uniform(rng, -o.contrast, o.contrast);
        p.beta = uniform(rng, -o.brightness, o.brightness);
        break;
      case 1:
        p.colour = AugmentParams::Colour::FancyPca;
        for (double &w : p.pca) w = normal(rng) * o.pca_sigma;
        break;
      default:
        p.colour = AugmentParams::Colour::Hsv;
        for (size_t i = 0; i < 3; ++i) p.hsv[i] = uniform(rng, -o.hsv_shift[i], o.hsv_shift[i]);
        break;
    }
  }
  p.gray = chance(rng, o.gray_probability);
  p.shift_scale_rotate = chance(rng, o.shift_scale_rotate_probability);
  p.dx = uniform(rng, -o.shift, o.shift);
  p.dy = uniform(rng, -o.shift, o.shift);
  p.scale = 1.0 + uniform(rng, -o.scale, o.scale);
  p.angle = uniform(rng, -o.rotate, o.rotate);
  return p;
}

static cv::Mat resize_variant(const cv::Mat &img, int size, int variant) {
  if (variant == 0) return isotropic_resize(img, size);  // the seed's inference resize
  const int longest = std::max(img.cols, img.rows);
  if (longest == size) return img;
  const double scale = static_cast<double>(size) / longest;
  // As isotropic_resize: the longest side is exactly `size`, the other truncated.
  const cv::Size target(
      img.cols > img.rows ? size : std::max(1, static_cast<int>(img.cols * scale)),
      img.cols > img.rows ? std::max(1, static_cast<int>(img.rows * scale)) : size);
  const int interpolation =
      scale > 1.0 ? cv::INTER_LINEAR : (variant == 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  cv::Mat out;
  cv::resize(img, out, target, 0, 0, interpolation);
  return out;
}

cv::Mat apply_augment(const cv::Mat &bgr, const AugmentParams &p, int size) {
  cv::Mat img = bgr;
  if (p.jpeg) img = jpeg_roundtrip(img, p.jpeg_quality);
  if (p.noise) img = gaussian_noise(img, p.noise_sigma, p.noise_seed);
  if (p.flip) {
    cv::Mat flipped;
    cv::flip(img, flipped, 1);
    img = flipped;
  }
  img = resize_variant(img, size, p.resize_variant);
  const int top = (size - img.rows) / 2;
  const int left = (size - img.cols) / 2;
  cv::Mat square;
  cv::copyMakeBorder(img, square, top, size - img.rows - top, left, size - img.cols - left,
                     cv::BORDER_CONSTANT, cv::Scalar::all(0));
  switch (p.colour) {
    case AugmentParams::Colour::None:
      break;
    case AugmentParams::Colour::BrightnessContrast:
      square = brightness_contrast(square, p.alpha, p.beta);
      break;
    case AugmentParams::Colour::FancyPca:
      square = fancy_pca(square, p.pca);
      break;
    case AugmentParams::Colour::Hsv:
      square = shift_hsv(square, p.hsv[0], p.hsv[1], p.hsv[2]);
      break;
  }
  if (p.gray) square = to_gray3(square);
  if (p.shift_scale_rotate) {
    const cv::Point2f centre(size * 0.5f - 0.5f, size * 0.5f - 0.5f);
    cv::Mat m = cv::getRotationMatrix2D(centre, p.angle, p.scale);
    m.at<double>(0, 2) += p.dx * size;
    m.at<double>(1, 2) += p.dy * size;
    cv::Mat warped;
    cv::warpAffine(square, warped, m, square.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                   cv::Scalar::all(0));
    square = warped;
  }
  return square;
}

}  // namespace dfd::training
