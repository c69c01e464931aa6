// A video frame as the analysis reads it, whatever holds its pixels: a mapped GStreamer buffer
// in any of the element's formats (gst/gst_frame_view.h), or a BGR cv::Mat (images, tests).
// The analysis needs only a gray picture for the detector and BGR copies of face regions for
// the model, so a YUV frame is never converted as a whole.
#pragma once

#include <memory>
#include <opencv2/core.hpp>

namespace dfd {

class FrameView {
 public:
  virtual ~FrameView() = default;
  virtual cv::Size size() const = 0;
  // An 8-bit single-channel picture of the whole frame; may share the frame's pixels, so it is
  // valid only while this view is.
  virtual cv::Mat gray() const = 0;
  // A BGR copy (CV_8UC3) of `region`, which must lie inside the frame (std::invalid_argument
  // otherwise).
  virtual cv::Mat bgr_region(const cv::Rect &region) const = 0;
};

// A frame that can be read later, from another thread: the element hands one per analysed
// frame to the detection thread, which maps it only while it reads it.
class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // Null when the frame cannot be read (a buffer that does not map).
  virtual std::unique_ptr<FrameView> map() = 0;
};

// A BGR (CV_8UC3) image as a frame; shares its pixels.
class BgrFrameView final : public FrameView {
 public:
  // Throws std::invalid_argument unless `bgr` is CV_8UC3.
  explicit BgrFrameView(cv::Mat bgr);
  cv::Size size() const override { return bgr_.size(); }
  cv::Mat gray() const override;
  cv::Mat bgr_region(const cv::Rect &region) const override;

 private:
  cv::Mat bgr_;
};

}  // namespace dfd
