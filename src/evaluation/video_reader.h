// Decodes a video file into frames exactly as deepfakedetect receives them in deepfake-scan's
// pipeline (GStreamer's decoders, then videoconvert to one of the element's formats, usually
// the decoder's own I420), so that deepfake-eval --videos analyses the same pixels as the
// element does.
#pragma once

#include <gst/video/video.h>

#include <memory>
#include <string>

#include "analysis/frame_view.h"
#include "gstptr.h"

namespace dfd::eval {

class VideoReader {
 public:
  // Starts decoding (calls gst_init if nobody has). Throws std::runtime_error naming the
  // problem when the file cannot be opened or has no video stream.
  explicit VideoReader(const std::string &path);
  ~VideoReader();
  VideoReader(const VideoReader &) = delete;
  VideoReader &operator=(const VideoReader &) = delete;

  // The next frame, mapped for reading, or null at the end of the stream. Throws
  // std::runtime_error on a decoding error.
  std::unique_ptr<FrameView> next();
  // Frames the file holds, from its duration and frame rate; 0 when unknown (GIFs, streams
  // without a duration).
  double frame_count() const { return frame_count_; }

 private:
  std::string path_;
  GstElement *pipeline_ = nullptr;
  GstElement *sink_ = nullptr;
  double frame_count_ = 0;
  bool ended_ = false;
};

}  // namespace dfd::eval
