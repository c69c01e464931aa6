// Pixel operations shared by self-blending and augmentation, written after the albumentations
// transforms the seed and the SBI recipe use, so the same parameter means the same change.
// All take and return CV_8UC3 BGR images and leave the input untouched.
#pragma once

#include <array>
#include <cstdint>
#include <opencv2/core.hpp>

namespace dfd::training {

// v * alpha + beta * 255, saturated (albumentations' brightness_by_max).
cv::Mat brightness_contrast(const cv::Mat &bgr, double alpha, double beta);

// Adds a per-channel shift, given in R, G, B order as albumentations' RGBShift.
cv::Mat shift_rgb(const cv::Mat &bgr, const std::array<double, 3> &rgb);

// Shifts in OpenCV's 8-bit HSV units: hue wraps at 180, saturation and value saturate.
cv::Mat shift_hsv(const cv::Mat &bgr, double hue, double saturation, double value);

// Encodes and decodes as JPEG at `quality` (1-100).
cv::Mat jpeg_roundtrip(const cv::Mat &bgr, int quality);

// Adds zero-mean Gaussian noise of `sigma` to every channel of every pixel; the noise field
// comes from `seed` alone, so two images of one size get the same field.
cv::Mat gaussian_noise(const cv::Mat &bgr, double sigma, uint64_t seed);

// Downscale by `factor` (nearest) and back up (linear): loses high frequencies.
cv::Mat downscale_upscale(const cv::Mat &bgr, int factor);

// albumentations' Sharpen: (1 - alpha) * identity + alpha * [-1 ... 8 + lightness ...].
cv::Mat sharpen(const cv::Mat &bgr, double alpha, double lightness);

// AlexNet's PCA colour augmentation (albumentations' FancyPCA) with the three eigenvalue
// weights given (drawn from N(0, 0.1) by the caller).
cv::Mat fancy_pca(const cv::Mat &bgr, const std::array<double, 3> &weights);

cv::Mat to_gray3(const cv::Mat &bgr);

}  // namespace dfd::training
