#include "gst_frame_view.h"

#include "framecv.h"

namespace dfd::gst {

GstFrameView::GstFrameView(const GstVideoInfo *info, GstBuffer *buffer)
    : frame_(info, buffer, GST_MAP_READ) {}

cv::Size GstFrameView::size() const {
  return {GST_VIDEO_FRAME_WIDTH(frame_.get()), GST_VIDEO_FRAME_HEIGHT(frame_.get())};
}

cv::Mat GstFrameView::gray() const {
  return gray_frame(frame_.get());
}

cv::Mat GstFrameView::bgr_region(const cv::Rect &region) const {
  return region_to_bgr(frame_.get(), region);
}

BufferFrameSource::BufferFrameSource(const GstVideoInfo &info, GstBuffer *buffer)
    : info_(info), buffer_(gst_buffer_ref(buffer)) {}

std::unique_ptr<FrameView> BufferFrameSource::map() {
  auto view = std::make_unique<GstFrameView>(&info_, buffer_.get());
  if (!view->ok()) return nullptr;
  return view;
}

}  // namespace dfd::gst
