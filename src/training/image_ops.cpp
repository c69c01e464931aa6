#include "image_ops.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <vector>

namespace dfd::training {

namespace {

uint8_t saturate(double v) {
  return cv::saturate_cast<uint8_t>(v);
}

void check(const cv::Mat &bgr) {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    throw std::invalid_argument("image operation needs a non-empty 8-bit 3-channel image");
  }
}

// One lookup table per channel, as albumentations applies its uint8 colour transforms.
cv::Mat apply_luts(const cv::Mat &bgr, const std::array<cv::Mat, 3> &luts) {
  std::vector<cv::Mat> channels;
  cv::split(bgr, channels);
  for (int c = 0; c < 3; ++c) cv::LUT(channels[c], luts[c], channels[c]);
  cv::Mat out;
  cv::merge(channels, out);
  return out;
}

}  // namespace

cv::Mat brightness_contrast(const cv::Mat &bgr, double alpha, double beta) {
  check(bgr);
  cv::Mat lut(1, 256, CV_8U);
  for (int i = 0; i < 256; ++i) lut.at<uint8_t>(i) = saturate(i * alpha + beta * 255.0);
  cv::Mat out;
  cv::LUT(bgr, lut, out);
  return out;
}

cv::Mat shift_rgb(const cv::Mat &bgr, const std::array<double, 3> &rgb) {
  check(bgr);
  std::array<cv::Mat, 3> luts;
  for (int c = 0; c < 3; ++c) {
    luts[c] = cv::Mat(1, 256, CV_8U);
    const double shift = rgb[2 - c];  // BGR channel c is RGB channel 2 - c
    for (int i = 0; i < 256; ++i) luts[c].at<uint8_t>(i) = saturate(i + shift);
  }
  return apply_luts(bgr, luts);
}

cv::Mat shift_hsv(const cv::Mat &bgr, double hue, double saturation, double value) {
  check(bgr);
  cv::Mat hsv;
  cv::cvtColor(bgr, hsv, cv::COLOR_BGR2HSV);
  std::array<cv::Mat, 3> luts;
  for (cv::Mat &lut : luts) lut = cv::Mat(1, 256, CV_8U);
  // albumentations builds the hue table in floats and truncates it to uint8.
  for (int i = 0; i < 256; ++i) {
    const double h = std::fmod(i + hue, 180.0);
    luts[0].at<uint8_t>(i) = static_cast<uint8_t>(h < 0 ? h + 180.0 : h);
    luts[1].at<uint8_t>(i) = saturate(std::trunc(i + saturation));
    luts[2].at<uint8_t>(i) = saturate(std::trunc(i + value));
  }
  cv::Mat shifted = apply_luts(hsv, luts);
  cv::Mat out;
  cv::cvtColor(shifted, out, cv::COLOR_HSV2BGR);
  return out;
}

cv::Mat jpeg_roundtrip(const cv::Mat &bgr, int quality) {
  check(bgr);
  std::vector<uint8_t> encoded;
  cv::imencode(".jpg", bgr, encoded, {cv::IMWRITE_JPEG_QUALITY, std::clamp(quality, 1, 100)});
  return cv::imdecode(encoded, cv::IMREAD_COLOR);
}

cv::Mat gaussian_noise(const cv::Mat &bgr, double sigma, uint64_t seed) {
  check(bgr);
  cv::Mat noise(bgr.size(), CV_32FC3);
  cv::RNG rng(seed);  // OpenCV's own generator: the same field on every platform
  rng.fill(noise, cv::RNG::NORMAL, 0.0, sigma);
  cv::Mat sum;
  bgr.convertTo(sum, CV_32FC3);
  sum += noise;
  cv::Mat out;
  sum.convertTo(out, CV_8UC3);  // rounds and saturates, as np.clip before the uint8 cast
  return out;
}

cv::Mat downscale_upscale(const cv::Mat &bgr, int factor) {
  check(bgr);
  const cv::Size small(std::max(1, bgr.cols / factor), std::max(1, bgr.rows / factor));
  cv::Mat down, out;
  cv::resize(bgr, down, small, 0, 0, cv::INTER_NEAREST);
  cv::resize(down, out, bgr.size(), 0, 0, cv::INTER_LINEAR);
  return out;
}

cv::Mat sharpen(const cv::Mat &bgr, double alpha, double lightness) {
  check(bgr);
  cv::Mat kernel =
      (cv::Mat_<float>(3, 3) << -1, -1, -1, -1, static_cast<float>(8 + lightness), -1, -1, -1, -1);
  cv::Mat identity = (cv::Mat_<float>(3, 3) << 0, 0, 0, 0, 1, 0, 0, 0, 0);
  kernel = (1.0 - alpha) * identity + alpha * kernel;
  cv::Mat out;
  cv::filter2D(bgr, out, -1, kernel);
  return out;
}

cv::Mat fancy_pca(const cv::Mat &bgr, const std::array<double, 3> &weights) {
  check(bgr);
  cv::Mat pixels;
  bgr.reshape(1, static_cast<int>(bgr.total())).convertTo(pixels, CV_64F, 1.0 / 255.0);
  cv::Mat covariance, mean;
  cv::calcCovarMatrix(pixels, covariance, mean, cv::COVAR_NORMAL | cv::COVAR_ROWS | cv::COVAR_SCALE,
                      CV_64F);
  // np.cov divides by N - 1; COVAR_SCALE by N. The difference is invisible at image sizes but
  // costs nothing to match.
  if (pixels.rows > 1) covariance *= static_cast<double>(pixels.rows) / (pixels.rows - 1);
  cv::Mat eigenvalues, eigenvectors;
  cv::eigen(covariance, eigenvalues, eigenvectors);  // descending; vectors are rows
  std::array<double, 3> add{};
  for (int channel = 0; channel < 3; ++channel) {
    for (int k = 0; k < 3; ++k) {
      add[channel] += eigenvectors.at<double>(k, channel) * weights[k] * eigenvalues.at<double>(k);
    }
  }
  cv::Mat out;
  bgr.convertTo(out, CV_32FC3);
  out += cv::Scalar(add[0] * 255.0, add[1] * 255.0, add[2] * 255.0);
  cv::Mat result;
  out.convertTo(result, CV_8UC3);
  return result;
}

cv::Mat to_gray3(const cv::Mat &bgr) {
  check(bgr);
  cv::Mat gray, out;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::cvtColor(gray, out, cv::COLOR_GRAY2BGR);
  return out;
}

}  // namespace dfd::training
