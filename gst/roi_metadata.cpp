#include "roi_metadata.h"

#include <gst/video/video.h>

#include <algorithm>

#ifdef HAVE_GST_ANALYTICS
#include <gst/analytics/analytics.h>
#endif

#include "deepfakemeta.h"

namespace dfd::gst {

namespace {

gint next_roi_id(GstBuffer *buffer) {
  gint highest = 0;
  gpointer state = nullptr;
  while (GstMeta *meta = gst_buffer_iterate_meta_filtered(
             buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    highest = std::max(highest, reinterpret_cast<GstVideoRegionOfInterestMeta *>(meta)->id);
  }
  return highest + 1;
}

GstStructure *detection_param(const FaceReport &face, int width, int height) {
  const cv::Rect &box = face.face.box;
  return gst_structure_new(
      GST_DEEPFAKE_PARAM_DETECTION, "x_min", G_TYPE_DOUBLE, static_cast<double>(box.x) / width,
      "y_min", G_TYPE_DOUBLE, static_cast<double>(box.y) / height, "x_max", G_TYPE_DOUBLE,
      static_cast<double>(box.x + box.width) / width, "y_max", G_TYPE_DOUBLE,
      static_cast<double>(box.y + box.height) / height, "confidence", G_TYPE_DOUBLE,
      static_cast<double>(face.face.detection_confidence), "label_id", G_TYPE_INT, 0, "label",
      G_TYPE_STRING, GST_DEEPFAKE_ROI_TYPE, nullptr);
}

GstStructure *classification_param(const FaceReport &face, const std::string &model_name) {
  const int label_id = !face.scored ? -1 : face.label_fake ? 1 : 0;
  return gst_structure_new(
      GST_DEEPFAKE_PARAM_CLASSIFICATION, GST_DEEPFAKE_FIELD_LABEL, G_TYPE_STRING, label_name(face),
      GST_DEEPFAKE_FIELD_CONFIDENCE, G_TYPE_DOUBLE, static_cast<double>(face.score),
      GST_DEEPFAKE_FIELD_LABEL_ID, G_TYPE_INT, label_id, GST_DEEPFAKE_FIELD_MODEL_NAME,
      G_TYPE_STRING, model_name.c_str(), GST_DEEPFAKE_FIELD_ATTRIBUTE_NAME, G_TYPE_STRING,
      "deepfake", GST_DEEPFAKE_FIELD_SMOOTHED_SCORE, G_TYPE_DOUBLE,
      static_cast<double>(face.smoothed), GST_DEEPFAKE_FIELD_VERDICT, G_TYPE_STRING,
      verdict_name(face), GST_DEEPFAKE_FIELD_FRAMES_ANALYSED, G_TYPE_INT, face.analyses, nullptr);
}

#ifdef HAVE_GST_ANALYTICS
void attach_analytics(GstBuffer *buffer, const std::vector<FaceReport> &faces) {
  GstAnalyticsRelationMeta *relations = gst_buffer_add_analytics_relation_meta(buffer);
  if (relations == nullptr) return;
  const GQuark face_quark = g_quark_from_static_string(GST_DEEPFAKE_ROI_TYPE);
  for (const FaceReport &face : faces) {
    const cv::Rect &box = face.face.box;
    GstAnalyticsODMtd od;
    if (!gst_analytics_relation_meta_add_od_mtd(relations, face_quark, box.x, box.y, box.width,
                                                box.height, face.face.detection_confidence, &od)) {
      continue;
    }
    GstAnalyticsTrackingMtd tracking;
    if (gst_analytics_relation_meta_add_tracking_mtd(relations, face.face.track_id,
                                                     GST_CLOCK_TIME_NONE, &tracking)) {
      gst_analytics_relation_meta_set_relation(relations, GST_ANALYTICS_REL_TYPE_RELATE_TO, od.id,
                                               tracking.id);
    }
    if (!face.scored) continue;
    GstAnalyticsClsMtd cls;
    if (gst_analytics_relation_meta_add_one_cls_mtd(
            relations, face.score, g_quark_from_static_string(label_name(face)), &cls)) {
      gst_analytics_relation_meta_set_relation(relations, GST_ANALYTICS_REL_TYPE_RELATE_TO, od.id,
                                               cls.id);
    }
  }
}
#endif

}  // namespace

const char *label_name(const FaceReport &face) {
  return !face.scored ? "unknown" : face.label_fake ? "fake" : "real";
}

const char *verdict_name(const FaceReport &face) {
  return !face.scored ? "unknown" : face.fake ? "fake" : "real";
}

void attach_face_metadata(GstBuffer *buffer, int width, int height,
                          const std::vector<FaceReport> &faces, const std::string &model_name,
                          bool explain) {
  if (faces.empty() || width <= 0 || height <= 0) return;
  gint roi_id = next_roi_id(buffer);
  for (const FaceReport &face : faces) {
    const cv::Rect &box = face.face.box;
    GstVideoRegionOfInterestMeta *roi = gst_buffer_add_video_region_of_interest_meta(
        buffer, GST_DEEPFAKE_ROI_TYPE, static_cast<guint>(box.x), static_cast<guint>(box.y),
        static_cast<guint>(box.width), static_cast<guint>(box.height));
    if (roi == nullptr) continue;
    roi->id = roi_id++;
    gst_video_region_of_interest_meta_add_param(roi, detection_param(face, width, height));
    gst_video_region_of_interest_meta_add_param(roi, classification_param(face, model_name));
    gst_video_region_of_interest_meta_add_param(
        roi, gst_structure_new(GST_DEEPFAKE_PARAM_OBJECT_ID, GST_DEEPFAKE_FIELD_ID, G_TYPE_INT,
                               static_cast<gint>(face.face.track_id), nullptr));
    const RelevancyGrid &grid = face.relevancy;
    if (explain && grid.width > 0 && grid.height > 0 &&
        grid.values.size() == static_cast<size_t>(grid.width) * grid.height) {
      gst_buffer_add_deepfake_relevancy_meta(
          buffer, roi->id, static_cast<guint>(box.x), static_cast<guint>(box.y),
          static_cast<guint>(box.width), static_cast<guint>(box.height),
          static_cast<guint>(grid.width), static_cast<guint>(grid.height), grid.values.data());
    }
  }
#ifdef HAVE_GST_ANALYTICS
  attach_analytics(buffer, faces);
#endif
}

}  // namespace dfd::gst
