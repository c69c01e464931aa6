// Drawing relevancy maps over images: the seed's additive overlay (spec section 4), an
// alpha blend for live video, and moving a map from the padded model input onto the crop.
#pragma once

#include <opencv2/core.hpp>

#include "core/heatmap.h"

namespace dfd {

// CV_8UC3 BGR: COLORMAP_JET of uint8(255 * value), truncated as numpy's np.uint8 does.
// Values outside [0, 1] (and NaN, as 0) are clamped first.
cv::Mat jet_colour(const FloatMap &map01);

// The seed's show_cam_on_image on its padded input: heat = jet / 255, img = min-max of the
// input over all channels, cam = (heat + img) / max(heat + img), returned as uint8(255 * cam)
// in float32 arithmetic like numpy's. The seed converts the result to RGB for matplotlib;
// this stays BGR, ready for cv::imwrite. `mask` must have the image's size.
cv::Mat seed_overlay(const cv::Mat &model_input_bgr, const FloatMap &mask);

// In place on a BGR region (a ROI of a frame is fine; nothing outside it is touched): the map
// is resized to the region bilinearly, coloured with JET, and blended as
// (1 - alpha) * pixel + alpha * jet. alpha is clamped to [0, 1].
void blend_heatmap(cv::Mat &bgr_region, const FloatMap &map01, float alpha);

// The part of a model-input map (size x size) that covers the image `content` (see
// ModelInput), resized bilinearly to the original crop's size.
FloatMap map_onto_crop(const FloatMap &input_map, const cv::Rect &content, cv::Size crop_size);

}  // namespace dfd
