// Drawing one face's annotation (relevancy heatmap, verdict-coloured box, label) onto a mapped
// frame in any accepted format. Everything is drawn on a BGR copy of the face's region and
// written back under a mask of what was drawn, so no other pixel changes.
#pragma once

#include <gst/video/video.h>

#include <string>

#include <opencv2/core.hpp>

#include "core/heatmap.h"

namespace dfd::gst {

enum class Verdict { Unknown, Real, Fake };

struct FaceAnnotation {
  cv::Rect box;  // frame pixels
  Verdict verdict = Verdict::Unknown;
  std::string label;
  FloatMap heat;  // spans `box`; empty: no heatmap
};

struct DrawOptions {
  bool boxes = true;
  bool labels = true;
  bool heatmap = true;
  float alpha = 0.4f;
};

// BGR colour of a verdict: red for fake, green for real, yellow before the first score.
cv::Scalar verdict_colour(Verdict verdict);

// The rectangles the annotation of `box` covers in a width x height frame (box outline and
// heatmap inside the box, label above it or, without room, inside its top), clipped to the
// frame. For I420/NV12 they are snapped to even coordinates so that whole chroma samples are
// drawn. Exposed for tests.
struct AnnotationLayout {
  cv::Rect box;    // empty when nothing of the box is drawable
  cv::Rect label;  // empty when there is no label
  int thickness = 2;
  double font_scale = 0.5;
  int baseline = 0;
};
AnnotationLayout layout_annotation(const cv::Rect &box, const std::string &label, int width,
                                   int height, bool yuv, bool with_label);

void draw_face(GstVideoFrame *frame, const FaceAnnotation &face, const DrawOptions &options);

}  // namespace dfd::gst
