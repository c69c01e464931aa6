#include "framecv.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include <opencv2/core.hpp>

namespace dfd::gst {

namespace {

// Byte positions of the colour channels in one pixel of a packed RGB-family format.
struct PackedLayout {
  int pixel_stride = 0;
  int r = 0, g = 0, b = 0;
};

bool packed_layout(GstVideoFormat format, PackedLayout *layout) {
  switch (format) {
    case GST_VIDEO_FORMAT_RGB:
      *layout = {3, 0, 1, 2};
      return true;
    case GST_VIDEO_FORMAT_BGR:
      *layout = {3, 2, 1, 0};
      return true;
    case GST_VIDEO_FORMAT_RGBx:
    case GST_VIDEO_FORMAT_RGBA:
      *layout = {4, 0, 1, 2};
      return true;
    case GST_VIDEO_FORMAT_BGRx:
    case GST_VIDEO_FORMAT_BGRA:
      *layout = {4, 2, 1, 0};
      return true;
    case GST_VIDEO_FORMAT_xRGB:
      *layout = {4, 1, 2, 3};
      return true;
    case GST_VIDEO_FORMAT_xBGR:
      *layout = {4, 3, 2, 1};
      return true;
    default:
      return false;
  }
}

// The frame's Y'CbCr matrix and range, so that converted pixels match what a sink shows.
struct YuvMaths {
  double kr = 0.299, kb = 0.114, kg = 0.587;
  double y_offset = 16, y_scale = 219, c_scale = 224;

  explicit YuvMaths(const GstVideoInfo *info) {
    gdouble r = 0, b = 0;
    if (gst_video_color_matrix_get_Kr_Kb(info->colorimetry.matrix, &r, &b)) {
      kr = r;
      kb = b;
      kg = 1.0 - kr - kb;
    }
    gint offset[GST_VIDEO_MAX_COMPONENTS] = {};
    gint scale[GST_VIDEO_MAX_COMPONENTS] = {};
    gst_video_color_range_offsets(info->colorimetry.range, info->finfo, offset, scale);
    if (scale[0] > 0 && scale[1] > 0) {
      y_offset = offset[0];
      y_scale = scale[0];
      c_scale = scale[1];
    }
  }

  cv::Vec3b to_bgr(int y, int u, int v) const {
    const double luma = (y - y_offset) / y_scale;
    const double pb = (u - 128) / c_scale;
    const double pr = (v - 128) / c_scale;
    const double red = luma + 2.0 * (1.0 - kr) * pr;
    const double blue = luma + 2.0 * (1.0 - kb) * pb;
    const double green = (luma - kr * red - kb * blue) / kg;
    return {cv::saturate_cast<uint8_t>(blue * 255.0), cv::saturate_cast<uint8_t>(green * 255.0),
            cv::saturate_cast<uint8_t>(red * 255.0)};
  }

  // Luma code value and the unscaled chroma differences (for averaging over a block).
  void from_bgr(const cv::Vec3b &bgr, int *y, double *pb, double *pr) const {
    const double blue = bgr[0] / 255.0, green = bgr[1] / 255.0, red = bgr[2] / 255.0;
    const double luma = kr * red + kg * green + kb * blue;
    *y = cv::saturate_cast<uint8_t>(luma * y_scale + y_offset);
    *pb = (blue - luma) / (2.0 * (1.0 - kb));
    *pr = (red - luma) / (2.0 * (1.0 - kr));
  }

  uint8_t chroma_code(double difference) const {
    return cv::saturate_cast<uint8_t>(difference * c_scale + 128.0);
  }
};

// Pointers to the three components of an I420 or NV12 frame (NV12 interleaves U and V).
struct YuvPlanes {
  uint8_t *y, *u, *v;
  int y_stride, u_stride, v_stride;
  int u_step, v_step;  // bytes between horizontally adjacent chroma samples

  explicit YuvPlanes(const GstVideoFrame *frame)
      : y(static_cast<uint8_t *>(GST_VIDEO_FRAME_COMP_DATA(frame, 0))),
        u(static_cast<uint8_t *>(GST_VIDEO_FRAME_COMP_DATA(frame, 1))),
        v(static_cast<uint8_t *>(GST_VIDEO_FRAME_COMP_DATA(frame, 2))),
        y_stride(GST_VIDEO_FRAME_COMP_STRIDE(frame, 0)),
        u_stride(GST_VIDEO_FRAME_COMP_STRIDE(frame, 1)),
        v_stride(GST_VIDEO_FRAME_COMP_STRIDE(frame, 2)),
        u_step(GST_VIDEO_FRAME_COMP_PSTRIDE(frame, 1)),
        v_step(GST_VIDEO_FRAME_COMP_PSTRIDE(frame, 2)) {}

  uint8_t &luma(int x, int row) { return y[row * y_stride + x]; }
  uint8_t &cb(int x, int row) { return u[(row / 2) * u_stride + (x / 2) * u_step]; }
  uint8_t &cr(int x, int row) { return v[(row / 2) * v_stride + (x / 2) * v_step]; }
};

cv::Mat packed_view(const GstVideoFrame *frame, const PackedLayout &layout) {
  return cv::Mat(GST_VIDEO_FRAME_HEIGHT(frame), GST_VIDEO_FRAME_WIDTH(frame),
                 CV_8UC(layout.pixel_stride), GST_VIDEO_FRAME_PLANE_DATA(frame, 0),
                 static_cast<size_t>(GST_VIDEO_FRAME_PLANE_STRIDE(frame, 0)));
}

void check_region(const GstVideoFrame *frame, const cv::Rect &region) {
  const cv::Rect bounds(0, 0, GST_VIDEO_FRAME_WIDTH(frame), GST_VIDEO_FRAME_HEIGHT(frame));
  if (region.empty() || (region & bounds) != region) {
    throw std::invalid_argument("frame region outside the frame");
  }
}

}  // namespace

bool is_yuv420(GstVideoFormat format) {
  return format == GST_VIDEO_FORMAT_I420 || format == GST_VIDEO_FORMAT_NV12;
}

cv::Mat gray_frame(const GstVideoFrame *frame) {
  const GstVideoFormat format = GST_VIDEO_FRAME_FORMAT(frame);
  if (is_yuv420(format)) {
    return cv::Mat(GST_VIDEO_FRAME_HEIGHT(frame), GST_VIDEO_FRAME_WIDTH(frame), CV_8UC1,
                   GST_VIDEO_FRAME_COMP_DATA(frame, 0),
                   static_cast<size_t>(GST_VIDEO_FRAME_COMP_STRIDE(frame, 0)));
  }
  PackedLayout layout;
  if (!packed_layout(format, &layout)) throw std::invalid_argument("unsupported video format");
  // One weighted sum over the packed pixel, whatever the channel order (BT.601 luma weights,
  // as cv::cvtColor uses): no intermediate BGR copy of the whole frame.
  cv::Mat weights = cv::Mat::zeros(1, layout.pixel_stride, CV_32F);
  weights.at<float>(0, layout.r) = 0.299f;
  weights.at<float>(0, layout.g) = 0.587f;
  weights.at<float>(0, layout.b) = 0.114f;
  cv::Mat gray;
  cv::transform(packed_view(frame, layout), gray, weights);
  return gray;
}

cv::Mat region_to_bgr(const GstVideoFrame *frame, const cv::Rect &region) {
  check_region(frame, region);
  const GstVideoFormat format = GST_VIDEO_FRAME_FORMAT(frame);
  cv::Mat bgr(region.height, region.width, CV_8UC3);
  PackedLayout layout;
  if (packed_layout(format, &layout)) {
    const cv::Mat source = packed_view(frame, layout)(region);
    const int pairs[] = {layout.b, 0, layout.g, 1, layout.r, 2};
    cv::mixChannels(&source, 1, &bgr, 1, pairs, 3);
    return bgr;
  }
  if (!is_yuv420(format)) throw std::invalid_argument("unsupported video format");
  const YuvMaths maths(&frame->info);
  YuvPlanes planes(frame);
  for (int row = 0; row < region.height; ++row) {
    const int y = region.y + row;
    cv::Vec3b *out = bgr.ptr<cv::Vec3b>(row);
    for (int col = 0; col < region.width; ++col) {
      const int x = region.x + col;
      out[col] = maths.to_bgr(planes.luma(x, y), planes.cb(x, y), planes.cr(x, y));
    }
  }
  return bgr;
}

void write_bgr_masked(GstVideoFrame *frame, const cv::Rect &region, const cv::Mat &bgr,
                      const cv::Mat &mask) {
  check_region(frame, region);
  if (bgr.type() != CV_8UC3 || mask.type() != CV_8UC1 || bgr.size() != region.size() ||
      mask.size() != region.size()) {
    throw std::invalid_argument("write_bgr_masked: image or mask does not fit the region");
  }
  const GstVideoFormat format = GST_VIDEO_FRAME_FORMAT(frame);
  PackedLayout layout;
  if (packed_layout(format, &layout)) {
    cv::Mat target = packed_view(frame, layout)(region);
    for (int row = 0; row < region.height; ++row) {
      const uint8_t *keep = mask.ptr<uint8_t>(row);
      const cv::Vec3b *in = bgr.ptr<cv::Vec3b>(row);
      uint8_t *out = target.ptr<uint8_t>(row);
      for (int col = 0; col < region.width; ++col) {
        if (keep[col] == 0) continue;
        uint8_t *pixel = out + col * layout.pixel_stride;
        pixel[layout.b] = in[col][0];
        pixel[layout.g] = in[col][1];
        pixel[layout.r] = in[col][2];
      }
    }
    return;
  }
  if (!is_yuv420(format)) throw std::invalid_argument("unsupported video format");
  const YuvMaths maths(&frame->info);
  YuvPlanes planes(frame);
  const int width = GST_VIDEO_FRAME_WIDTH(frame);
  const int height = GST_VIDEO_FRAME_HEIGHT(frame);
  const auto masked = [&](int x, int y) {
    return region.contains(cv::Point(x, y)) && mask.at<uint8_t>(y - region.y, x - region.x) != 0;
  };
  // Chroma blocks: 2x2 frame pixels (fewer on the right and bottom of odd-sized frames).
  for (int by = region.y / 2; by <= (region.y + region.height - 1) / 2; ++by) {
    for (int bx = region.x / 2; bx <= (region.x + region.width - 1) / 2; ++bx) {
      bool whole = true;
      int count = 0;
      double pb_sum = 0, pr_sum = 0;
      for (int y = 2 * by; y < std::min(2 * by + 2, height); ++y) {
        for (int x = 2 * bx; x < std::min(2 * bx + 2, width); ++x) {
          if (!masked(x, y)) {
            whole = false;
            continue;
          }
          int luma = 0;
          double pb = 0, pr = 0;
          maths.from_bgr(bgr.at<cv::Vec3b>(y - region.y, x - region.x), &luma, &pb, &pr);
          planes.luma(x, y) = static_cast<uint8_t>(luma);
          pb_sum += pb;
          pr_sum += pr;
          ++count;
        }
      }
      if (whole && count > 0) {
        planes.cb(2 * bx, 2 * by) = maths.chroma_code(pb_sum / count);
        planes.cr(2 * bx, 2 * by) = maths.chroma_code(pr_sum / count);
      }
    }
  }
}

}  // namespace dfd::gst
