#include "roi_metadata.h"

#include <gst/video/video.h>

#include <algorithm>
#include <cctype>

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

// DL Streamer reads `confidence` as the confidence of `label`.
double label_confidence(const FaceReport &face) {
  if (!face.scored) return 0.0;
  return face.label_fake ? face.score : 1.0 - face.score;
}

GstStructure *classification_param(const FaceReport &face, const std::string &model_name) {
  const int label_id = !face.scored ? -1 : face.label_fake ? 1 : 0;
  return gst_structure_new(
      GST_DEEPFAKE_PARAM_CLASSIFICATION, GST_DEEPFAKE_FIELD_LABEL, G_TYPE_STRING, label_name(face),
      GST_DEEPFAKE_FIELD_CONFIDENCE, G_TYPE_DOUBLE, label_confidence(face),
      GST_DEEPFAKE_FIELD_FAKE_PROBABILITY, G_TYPE_DOUBLE, static_cast<double>(face.score),
      GST_DEEPFAKE_FIELD_LABEL_ID, G_TYPE_INT, label_id, GST_DEEPFAKE_FIELD_MODEL_NAME,
      G_TYPE_STRING, model_name.c_str(), GST_DEEPFAKE_FIELD_ATTRIBUTE_NAME, G_TYPE_STRING,
      "deepfake", GST_DEEPFAKE_FIELD_SMOOTHED_SCORE, G_TYPE_DOUBLE,
      static_cast<double>(face.smoothed), GST_DEEPFAKE_FIELD_VERDICT, G_TYPE_STRING,
      verdict_name(face), GST_DEEPFAKE_FIELD_ANALYSES, G_TYPE_INT, face.analyses, nullptr);
}

bool has_grid(const RelevancyGrid &grid) {
  return grid.width > 0 && grid.height > 0 &&
         grid.values.size() == static_cast<size_t>(grid.width) * grid.height;
}

// The grid as a param, for consumers that cannot read the custom meta (PyGObject).
GstStructure *relevancy_param(const RelevancyGrid &grid) {
  GValue values = G_VALUE_INIT;
  gst_value_array_init(&values, static_cast<guint>(grid.values.size()));
  GValue item = G_VALUE_INIT;
  g_value_init(&item, G_TYPE_FLOAT);
  for (const float v : grid.values) {
    g_value_set_float(&item, v);
    gst_value_array_append_value(&values, &item);
  }
  g_value_unset(&item);
  GstStructure *param =
      gst_structure_new(GST_DEEPFAKE_PARAM_RELEVANCY, GST_DEEPFAKE_FIELD_WIDTH, G_TYPE_INT,
                        grid.width, GST_DEEPFAKE_FIELD_HEIGHT, G_TYPE_INT, grid.height, nullptr);
  gst_structure_take_value(param, GST_DEEPFAKE_FIELD_VALUES, &values);
  return param;
}

// Replaces the param named like `param` (an earlier classifier's), or adds it; takes `param`.
void set_param(GstVideoRegionOfInterestMeta *roi, GstStructure *param) {
  for (GList *l = roi->params; l != nullptr; l = l->next) {
    auto *old = static_cast<GstStructure *>(l->data);
    if (gst_structure_has_name(old, gst_structure_get_name(param))) {
      roi->params = g_list_delete_link(roi->params, l);
      gst_structure_free(old);
      break;
    }
  }
  gst_video_region_of_interest_meta_add_param(roi, param);
}

// The relevancy meta and param for `roi`, replacing any an earlier classifier put there.
void attach_relevancy(GstBuffer *buffer, GstVideoRegionOfInterestMeta *roi,
                      const FaceReport &face) {
  const RelevancyGrid &grid = face.relevancy;
  if (!has_grid(grid)) return;
  while (GstDeepfakeRelevancyMeta *old =
             gst_buffer_get_deepfake_relevancy_meta_for_roi(buffer, roi->id)) {
    gst_buffer_remove_meta(buffer, &old->meta);
  }
  const cv::Rect &box = face.face.box;
  gst_buffer_add_deepfake_relevancy_meta(
      buffer, roi->id, static_cast<guint>(box.x), static_cast<guint>(box.y),
      static_cast<guint>(box.width), static_cast<guint>(box.height), static_cast<guint>(grid.width),
      static_cast<guint>(grid.height), grid.values.data());
  set_param(roi, relevancy_param(grid));
}

GstVideoRegionOfInterestMeta *find_roi(GstBuffer *buffer, const RoiKey &key) {
  gpointer state = nullptr;
  while (GstMeta *meta = gst_buffer_iterate_meta_filtered(
             buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    auto *roi = reinterpret_cast<GstVideoRegionOfInterestMeta *>(meta);
    if (roi->id == key.id && roi->x == key.x && roi->y == key.y && roi->w == key.w &&
        roi->h == key.h && roi->roi_type == key.type) {
      return roi;
    }
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> split_classes(const std::string &text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    size_t a = start, b = end;
    while (a < b && std::isspace(static_cast<unsigned char>(text[a]))) ++a;
    while (b > a && std::isspace(static_cast<unsigned char>(text[b - 1]))) --b;
    if (b > a) out.push_back(text.substr(a, b - a));
    start = end + 1;
  }
  return out;
}

std::vector<GivenRegion> given_regions(GstBuffer *buffer, const std::vector<std::string> &classes,
                                       std::vector<RoiKey> *keys) {
  std::vector<GivenRegion> out;
  keys->clear();
  gpointer state = nullptr;
  while (GstMeta *meta = gst_buffer_iterate_meta_filtered(
             buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    auto *roi = reinterpret_cast<GstVideoRegionOfInterestMeta *>(meta);
    const gchar *type = g_quark_to_string(roi->roi_type);
    if (!classes.empty() &&
        std::find(classes.begin(), classes.end(), type != nullptr ? type : "") == classes.end()) {
      continue;
    }
    GivenRegion region;
    region.box = cv::Rect(static_cast<int>(std::min<guint>(roi->x, G_MAXINT)),
                          static_cast<int>(std::min<guint>(roi->y, G_MAXINT)),
                          static_cast<int>(std::min<guint>(roi->w, G_MAXINT)),
                          static_cast<int>(std::min<guint>(roi->h, G_MAXINT)));
    if (const GstStructure *detection =
            gst_video_region_of_interest_meta_get_param(roi, GST_DEEPFAKE_PARAM_DETECTION)) {
      gdouble confidence = 0;
      if (gst_structure_get_double(detection, "confidence", &confidence)) {
        region.confidence = static_cast<float>(confidence);
      }
    }
    if (const GstStructure *object =
            gst_video_region_of_interest_meta_get_param(roi, GST_DEEPFAKE_PARAM_OBJECT_ID)) {
      gint id = 0;
      guint uid = 0;
      if (gst_structure_get_int(object, GST_DEEPFAKE_FIELD_ID, &id) && id > 0) {
        region.object_id = static_cast<uint64_t>(id);
      } else if (gst_structure_get_uint(object, GST_DEEPFAKE_FIELD_ID, &uid)) {
        region.object_id = uid;
      }
    }
    region.roi_id = static_cast<int>(keys->size());
    keys->push_back({roi->id, roi->x, roi->y, roi->w, roi->h, roi->roi_type});
    out.push_back(region);
  }
  return out;
}

void attach_to_given_rois(GstBuffer *buffer, int width, int height,
                          const std::vector<FaceReport> &faces, const std::vector<RoiKey> &keys,
                          const std::string &model_name, bool explain) {
  if (width <= 0 || height <= 0) return;
  for (const FaceReport &face : faces) {
    if (face.face.roi_id < 0 || static_cast<size_t>(face.face.roi_id) >= keys.size()) continue;
    GstVideoRegionOfInterestMeta *roi =
        find_roi(buffer, keys[static_cast<size_t>(face.face.roi_id)]);
    if (roi == nullptr) continue;
    set_param(roi, classification_param(face, model_name));
    if (gst_video_region_of_interest_meta_get_param(roi, GST_DEEPFAKE_PARAM_OBJECT_ID) == nullptr) {
      gst_video_region_of_interest_meta_add_param(
          roi, gst_structure_new(GST_DEEPFAKE_PARAM_OBJECT_ID, GST_DEEPFAKE_FIELD_ID, G_TYPE_INT,
                                 static_cast<gint>(face.face.track_id), nullptr));
    }
    if (explain) attach_relevancy(buffer, roi, face);
  }
}

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
    if (explain) attach_relevancy(buffer, roi, face);
  }
}

}  // namespace dfd::gst
