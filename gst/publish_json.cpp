#include "publish_json.h"

#include <gst/video/video.h>

#include <cstdio>
#include <cstring>

#include "deepfakemeta.h"
#include "gstptr.h"

namespace dfd::gst::publish {

namespace {

using json::Value;

void set_time(json::Object &out, const char *key, GstClockTime time) {
  // Nanoseconds as a JSON number are exact up to 2^53 ns (104 days of stream), which is what
  // DL Streamer's consumers expect in "timestamp".
  if (GST_CLOCK_TIME_IS_VALID(time)) out[key] = Value(static_cast<double>(time));
}

// A param field as JSON; types a structure can hold that JSON has no form for (buffers,
// nested structures, ...) give null and are skipped by the caller.
Value field_value(const GValue *value) {
  switch (G_TYPE_FUNDAMENTAL(G_VALUE_TYPE(value))) {
    case G_TYPE_BOOLEAN:
      return Value(g_value_get_boolean(value) != FALSE);
    case G_TYPE_INT:
      return Value(g_value_get_int(value));
    case G_TYPE_UINT:
      return Value(static_cast<double>(g_value_get_uint(value)));
    case G_TYPE_INT64:
      return Value(static_cast<double>(g_value_get_int64(value)));
    case G_TYPE_UINT64:
      return Value(static_cast<double>(g_value_get_uint64(value)));
    case G_TYPE_FLOAT:
      return Value(static_cast<double>(g_value_get_float(value)));
    case G_TYPE_DOUBLE:
      return Value(g_value_get_double(value));
    case G_TYPE_STRING: {
      const gchar *s = g_value_get_string(value);
      return s != nullptr ? Value(s) : Value();
    }
    default:
      return Value();
  }
}

Value classification_object(const GstStructure *param, int object_id) {
  json::Object out;
  const int n = gst_structure_n_fields(param);
  for (int i = 0; i < n; ++i) {
    const gchar *name = gst_structure_nth_field_name(param, i);
    Value v = field_value(gst_structure_get_value(param, name));
    if (!v.is_null()) out[name] = std::move(v);
  }
  if (const gchar *model = gst_structure_get_string(param, "model_name")) {
    json::Object model_object;
    model_object["name"] = Value(model);
    out["model"] = Value(std::move(model_object));
  }
  // A consumer that forwards only the deepfake attribute still knows which face it was.
  if (gst_structure_has_name(param, GST_DEEPFAKE_PARAM_CLASSIFICATION) && object_id != 0) {
    out["object_id"] = Value(object_id);
  }
  return Value(std::move(out));
}

Value detection_object(const GstStructure *param, const char *roi_type) {
  double x_min = 0, y_min = 0, x_max = 0, y_max = 0;
  if (!gst_structure_get(param, "x_min", G_TYPE_DOUBLE, &x_min, "y_min", G_TYPE_DOUBLE, &y_min,
                         "x_max", G_TYPE_DOUBLE, &x_max, "y_max", G_TYPE_DOUBLE, &y_max, nullptr)) {
    return Value();
  }
  json::Object box;
  box["x_min"] = Value(x_min);
  box["y_min"] = Value(y_min);
  box["x_max"] = Value(x_max);
  box["y_max"] = Value(y_max);
  json::Object out;
  out["bounding_box"] = Value(std::move(box));
  double confidence = 0;
  if (gst_structure_get_double(param, "confidence", &confidence)) {
    out["confidence"] = Value(confidence);
  }
  int label_id = 0;
  if (gst_structure_get_int(param, "label_id", &label_id)) out["label_id"] = Value(label_id);
  // gvametaconvert labels a detection with the ROI type, not the param's own label.
  if (roi_type != nullptr) out["label"] = Value(roi_type);
  return Value(std::move(out));
}

int object_id_of(GstVideoRegionOfInterestMeta *roi) {
  int id = 0;
  if (const GstStructure *param =
          gst_video_region_of_interest_meta_get_param(roi, GST_DEEPFAKE_PARAM_OBJECT_ID)) {
    gst_structure_get_int(param, GST_DEEPFAKE_FIELD_ID, &id);
  }
  return id;
}

json::Object resolution(const FrameContext &context) {
  json::Object out;
  out["width"] = Value(context.width);
  out["height"] = Value(context.height);
  return out;
}

// As gvametaconvert: "timestamp" is the stream time; the buffer's own PTS goes beside it.
void set_times(json::Object &out, const FrameContext &context) {
  set_time(out, "timestamp", context.stream_time);
  set_time(out, "pts", context.pts);
  set_time(out, "running_time", context.running_time);
  out["source"] = Value(context.source);
  out["wall_clock"] = Value(context.wall_clock);
}

}  // namespace

std::string iso8601_utc_ms(gint64 unix_us) {
  const gint64 seconds = unix_us / G_USEC_PER_SEC;
  const int millis = static_cast<int>((unix_us % G_USEC_PER_SEC) / 1000);
  const DateTimePtr time(g_date_time_new_from_unix_utc(seconds));
  if (!time) return {};
  const CharPtr base(g_date_time_format(time.get(), "%Y-%m-%dT%H:%M:%S"));
  if (!base) return {};
  char text[64];
  std::snprintf(text, sizeof text, "%s.%03dZ", base.get(), millis);
  return text;
}

json::Array roi_objects(GstBuffer *buffer) {
  json::Array objects;
  gpointer state = nullptr;
  while (GstMeta *meta = gst_buffer_iterate_meta_filtered(
             buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    auto *roi = reinterpret_cast<GstVideoRegionOfInterestMeta *>(meta);
    json::Object object;
    object["x"] = Value(static_cast<double>(roi->x));
    object["y"] = Value(static_cast<double>(roi->y));
    object["w"] = Value(static_cast<double>(roi->w));
    object["h"] = Value(static_cast<double>(roi->h));
    const int id = object_id_of(roi);
    if (id != 0) object["id"] = Value(id);
    const gchar *roi_type = g_quark_to_string(roi->roi_type);
    if (roi_type != nullptr) object["roi_type"] = Value(roi_type);
    for (GList *l = roi->params; l != nullptr; l = l->next) {
      const auto *param = static_cast<const GstStructure *>(l->data);
      const gchar *name = gst_structure_get_name(param);
      if (std::strcmp(name, GST_DEEPFAKE_PARAM_DETECTION) == 0) {
        Value detection = detection_object(param, roi_type);
        if (!detection.is_null()) object["detection"] = std::move(detection);
      } else if (gst_structure_get_string(param, "label") != nullptr) {
        const gchar *attribute = gst_structure_get_string(param, "attribute_name");
        object[attribute != nullptr ? attribute : name] = classification_object(param, id);
      }
    }
    objects.emplace_back(std::move(object));
  }
  return objects;
}

json::Value frame_message(json::Array objects, const FrameContext &context) {
  json::Object out;
  if (!objects.empty()) out["objects"] = Value(std::move(objects));
  out["resolution"] = Value(resolution(context));
  set_times(out, context);
  return Value(std::move(out));
}

json::Value alert_message(const Alert &alert, const FrameContext &context) {
  json::Object out;
  out["type"] = Value("alert");
  set_times(out, context);
  out["resolution"] = Value(resolution(context));
  out["id"] = Value(alert.object_id);
  out["verdict"] = Value(alert.verdict);
  out["previous_verdict"] = Value(alert.previous_verdict);
  out["smoothed_score"] = Value(alert.smoothed_score);
  out["fake_probability"] = Value(alert.fake_probability);
  out["x"] = Value(static_cast<double>(alert.x));
  out["y"] = Value(static_cast<double>(alert.y));
  out["w"] = Value(static_cast<double>(alert.w));
  out["h"] = Value(static_cast<double>(alert.h));
  if (alert.has_box) {
    json::Object box;
    box["x_min"] = Value(alert.x_min);
    box["y_min"] = Value(alert.y_min);
    box["x_max"] = Value(alert.x_max);
    box["y_max"] = Value(alert.y_max);
    out["bounding_box"] = Value(std::move(box));
  }
  return Value(std::move(out));
}

}  // namespace dfd::gst::publish
