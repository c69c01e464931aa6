// GStreamer buffers as the analysis's frames: a mapped GstVideoFrame read through framecv, and
// a buffer reference that the detection thread maps only while it reads it.
#pragma once

#include <gst/video/video.h>

#include <memory>

#include "analysis/frame_view.h"
#include "gstptr.h"

namespace dfd::gst {

// A frame mapped for reading; unmapped when destroyed.
class GstFrameView final : public FrameView {
 public:
  // ok() is false when the buffer does not map.
  GstFrameView(const GstVideoInfo *info, GstBuffer *buffer);
  bool ok() const { return frame_.ok(); }
  cv::Size size() const override;
  cv::Mat gray() const override;
  cv::Mat bgr_region(const cv::Rect &region) const override;

 private:
  MappedFrame frame_;
};

// Holds a reference to the buffer (and its video info) until the analysis has read it.
class BufferFrameSource final : public FrameSource {
 public:
  BufferFrameSource(const GstVideoInfo &info, GstBuffer *buffer);  // takes a new reference
  std::unique_ptr<FrameView> map() override;

 private:
  GstVideoInfo info_;
  BufferPtr buffer_;
};

}  // namespace dfd::gst
