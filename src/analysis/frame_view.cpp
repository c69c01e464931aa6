#include "analysis/frame_view.h"

#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <utility>

namespace dfd {

BgrFrameView::BgrFrameView(cv::Mat bgr) : bgr_(std::move(bgr)) {
  if (bgr_.type() != CV_8UC3) throw std::invalid_argument("BgrFrameView needs a CV_8UC3 image");
}

cv::Mat BgrFrameView::gray() const {
  cv::Mat gray;
  cv::cvtColor(bgr_, gray, cv::COLOR_BGR2GRAY);
  return gray;
}

cv::Mat BgrFrameView::bgr_region(const cv::Rect &region) const {
  if (region.empty() || (region & cv::Rect(0, 0, bgr_.cols, bgr_.rows)) != region) {
    throw std::invalid_argument("frame region outside the frame");
  }
  return bgr_(region).clone();
}

}  // namespace dfd
