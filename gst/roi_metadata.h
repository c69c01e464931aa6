// The metadata deepfakedetect puts on a frame, one face at a time: a GstVideoRegionOfInterestMeta
// with DL Streamer's param structures, the relevancy meta linked to it by ROI id, and, where
// the build has gstreamer-analytics (1.24+), the analytics object-detection and
// classification metadata as well.
#pragma once

#include <gst/gst.h>

#include <string>
#include <vector>

#include "analysis/face_analyzer.h"

namespace dfd::gst {

// `buffer` must be writable; `width` x `height` is the frame the boxes refer to. The ROI ids
// continue after any ROI metas upstream attached. With `explain`, faces that have a relevancy
// grid also get a GstDeepfakeRelevancyMeta.
void attach_face_metadata(GstBuffer *buffer, int width, int height,
                          const std::vector<FaceReport> &faces, const std::string &model_name,
                          bool explain);

// "fake", "real", or "unknown" for a face without a score yet.
const char *label_name(const FaceReport &face);
const char *verdict_name(const FaceReport &face);

}  // namespace dfd::gst
