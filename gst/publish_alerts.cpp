#include "publish_alerts.h"

#include <gst/video/video.h>

#include <cstring>

#include "deepfakemeta.h"

namespace dfd::gst::publish {

namespace {

// A face missing from this many consecutive frames is gone: the detector drops a track after
// a few unmatched detection rounds and carries live ones onto every frame in between. Ids are
// never reused, so forgetting it only bounds the memory of a long stream.
constexpr uint64_t kForgetAfterFrames = 1000;

}  // namespace

std::vector<Alert> VerdictWatch::update(GstBuffer *buffer) {
  ++frame_;
  std::vector<Alert> alerts;
  gpointer state = nullptr;
  while (GstMeta *meta = gst_buffer_iterate_meta_filtered(
             buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    auto *roi = reinterpret_cast<GstVideoRegionOfInterestMeta *>(meta);
    const GstStructure *classification =
        gst_video_region_of_interest_meta_get_param(roi, GST_DEEPFAKE_PARAM_CLASSIFICATION);
    const GstStructure *object =
        gst_video_region_of_interest_meta_get_param(roi, GST_DEEPFAKE_PARAM_OBJECT_ID);
    int id = 0;
    if (classification == nullptr || object == nullptr ||
        !gst_structure_get_int(object, GST_DEEPFAKE_FIELD_ID, &id)) {
      continue;
    }
    Seen &seen = seen_[id];
    seen.last_frame = frame_;
    const gchar *verdict = gst_structure_get_string(classification, GST_DEEPFAKE_FIELD_VERDICT);
    if (verdict == nullptr) continue;
    const bool fake = std::strcmp(verdict, "fake") == 0;
    if (!fake && std::strcmp(verdict, "real") != 0) continue;  // "unknown"
    if (fake == seen.fake) continue;
    seen.fake = fake;

    Alert alert;
    alert.object_id = id;
    alert.verdict = fake ? "fake" : "real";
    alert.previous_verdict = fake ? "real" : "fake";
    gst_structure_get_double(classification, GST_DEEPFAKE_FIELD_SMOOTHED_SCORE,
                             &alert.smoothed_score);
    gst_structure_get_double(classification, GST_DEEPFAKE_FIELD_FAKE_PROBABILITY,
                             &alert.fake_probability);
    alert.x = roi->x;
    alert.y = roi->y;
    alert.w = roi->w;
    alert.h = roi->h;
    if (const GstStructure *detection =
            gst_video_region_of_interest_meta_get_param(roi, GST_DEEPFAKE_PARAM_DETECTION)) {
      alert.has_box =
          gst_structure_get(detection, "x_min", G_TYPE_DOUBLE, &alert.x_min, "y_min", G_TYPE_DOUBLE,
                            &alert.y_min, "x_max", G_TYPE_DOUBLE, &alert.x_max, "y_max",
                            G_TYPE_DOUBLE, &alert.y_max, nullptr) != FALSE;
    }
    alerts.push_back(std::move(alert));
  }
  for (auto it = seen_.begin(); it != seen_.end();) {
    it = frame_ - it->second.last_frame >= kForgetAfterFrames ? seen_.erase(it) : std::next(it);
  }
  return alerts;
}

void VerdictWatch::reset() {
  seen_.clear();
}

}  // namespace dfd::gst::publish
