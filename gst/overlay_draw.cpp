#include "overlay_draw.h"

#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "framecv.h"
#include "imaging/overlay.h"

namespace dfd::gst {

namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr int kLabelPadding = 3;

int text_thickness(double font_scale) {
  return font_scale > 0.8 ? 2 : 1;
}

int round_down_even(int v) {
  return v & ~1;
}
int round_up_even(int v) {
  return (v + 1) & ~1;
}

}  // namespace

cv::Scalar verdict_colour(Verdict verdict) {
  switch (verdict) {
    case Verdict::Fake:
      return {0, 0, 255};
    case Verdict::Real:
      return {0, 200, 0};
    case Verdict::Unknown:
      break;
  }
  return {0, 230, 255};
}

AnnotationLayout layout_annotation(const cv::Rect &box, const std::string &label, int width,
                                   int height, bool yuv, bool with_label) {
  AnnotationLayout out;
  const cv::Rect frame(0, 0, width, height);
  cv::Rect b = box & frame;
  if (yuv) {
    // Inwards: the box's layers never reach a pixel outside the box.
    const int x0 = round_up_even(b.x), y0 = round_up_even(b.y);
    const int x1 = round_down_even(b.x + b.width), y1 = round_down_even(b.y + b.height);
    b = x1 > x0 && y1 > y0 ? cv::Rect(x0, y0, x1 - x0, y1 - y0) : cv::Rect();
  }
  if (b.empty()) return out;
  out.box = b;
  int thickness = std::max(2, std::min(b.width, b.height) / 60);
  if (yuv) thickness = round_up_even(thickness);
  out.thickness = std::max(1, std::min(thickness, std::min(b.width, b.height) / 2));

  if (!with_label || label.empty()) return out;
  out.font_scale = std::clamp(b.width / 250.0, 0.4, 1.5);
  const cv::Size text =
      cv::getTextSize(label, kFont, out.font_scale, text_thickness(out.font_scale), &out.baseline);
  const int label_width = text.width + 2 * kLabelPadding;
  const int label_height = text.height + out.baseline + 2 * kLabelPadding;
  // Above the box, or inside its top edge where the frame has no room above.
  const int y = b.y - label_height >= 0 ? b.y - label_height : b.y;
  cv::Rect l = cv::Rect(b.x, y, label_width, label_height) & frame;
  if (yuv && !l.empty()) {
    // The label is a layer of its own: rounding it outwards only grows that layer.
    const int x0 = round_down_even(l.x), y0 = round_down_even(l.y);
    const int x1 = std::min(width, round_up_even(l.x + l.width));
    const int y1 = std::min(height, round_up_even(l.y + l.height));
    l = cv::Rect(x0, y0, x1 - x0, y1 - y0);
  }
  out.label = l;
  return out;
}

void draw_face(GstVideoFrame *frame, const FaceAnnotation &face, const DrawOptions &options) {
  const bool yuv = is_yuv420(GST_VIDEO_FRAME_FORMAT(frame));
  const AnnotationLayout layout =
      layout_annotation(face.box, face.label, GST_VIDEO_FRAME_WIDTH(frame),
                        GST_VIDEO_FRAME_HEIGHT(frame), yuv, options.labels);
  const bool heat = options.heatmap && !face.heat.values.empty() && options.alpha > 0.f;
  if (layout.box.empty() || (!options.boxes && !heat && layout.label.empty())) return;

  const cv::Rect region = layout.label.empty() ? layout.box : (layout.box | layout.label);
  cv::Mat patch = region_to_bgr(frame, region);
  cv::Mat mask = cv::Mat::zeros(region.size(), CV_8UC1);
  const cv::Point origin = region.tl();
  const cv::Rect box = layout.box - origin;
  const cv::Scalar colour = verdict_colour(face.verdict);

  if (heat) {
    cv::Mat inside = patch(box);
    blend_heatmap(inside, face.heat, options.alpha);
    mask(box).setTo(255);
  }
  if (options.boxes) {
    // Four filled strips inside the box rather than cv::rectangle's centred stroke, which
    // would reach half its thickness outside the box.
    const int t = layout.thickness;
    const cv::Rect edges[] = {
        {box.x, box.y, box.width, t},
        {box.x, box.y + box.height - t, box.width, t},
        {box.x, box.y, t, box.height},
        {box.x + box.width - t, box.y, t, box.height},
    };
    for (const cv::Rect &edge : edges) {
      cv::rectangle(patch, edge, colour, cv::FILLED);
      mask(edge).setTo(255);
    }
  }
  if (!layout.label.empty()) {
    const cv::Rect label = layout.label - origin;
    cv::rectangle(patch, label, colour, cv::FILLED);
    mask(label).setTo(255);
    const cv::Scalar ink =
        face.verdict == Verdict::Fake ? cv::Scalar(255, 255, 255) : cv::Scalar(0, 0, 0);
    const cv::Point text_origin(label.x + kLabelPadding,
                                label.y + label.height - kLabelPadding - layout.baseline);
    // Text outside the label rectangle (a label clipped by the frame edge) is not in the mask,
    // so it is never written back.
    cv::putText(patch, face.label, text_origin, kFont, layout.font_scale, ink,
                text_thickness(layout.font_scale), cv::LINE_AA);
  }
  write_bgr_masked(frame, region, patch, mask);
}

}  // namespace dfd::gst
