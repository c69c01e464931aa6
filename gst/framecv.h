// OpenCV access to mapped video frames in the formats the elements accept: a gray picture for
// the face detector, BGR copies of regions for the model and the overlay, and writing BGR
// pixels back under a mask so that nothing outside what was drawn changes.
#pragma once

#include <gst/video/video.h>

#include <opencv2/core.hpp>

namespace dfd::gst {

// The caps both elements accept, as a string for pad templates.
#define DFD_GST_VIDEO_FORMATS "{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, I420, NV12 }"

bool is_yuv420(GstVideoFormat format);

// An 8-bit single-channel picture of the whole frame. For I420 and NV12 it is a view of the Y
// plane (valid while the frame is mapped); for RGB-family formats a converted copy.
cv::Mat gray_frame(const GstVideoFrame *frame);

// A BGR copy (CV_8UC3) of `region`, which must lie inside the frame. YUV formats are converted
// with the frame's own colour matrix and range.
cv::Mat region_to_bgr(const GstVideoFrame *frame, const cv::Rect &region);

// Writes `bgr` (region-sized CV_8UC3) into `region` of the frame where `mask` (CV_8UC1) is
// non-zero. Packed formats: exactly those pixels, padding and alpha bytes untouched. I420/NV12:
// luma of those pixels; a chroma sample only where every frame pixel that shares it is masked,
// so drawing never bleeds into neighbours (draw on even coordinates to get colour everywhere).
void write_bgr_masked(GstVideoFrame *frame, const cv::Rect &region, const cv::Mat &bgr,
                      const cv::Mat &mask);

}  // namespace dfd::gst
