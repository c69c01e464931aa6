#include "detect_messages.h"

#include "gstptr.h"
#include "roi_metadata.h"

namespace dfd::gst {

FrameTimes frame_times(const GstSegment *segment, GstBuffer *buffer) {
  FrameTimes times;
  times.pts = GST_BUFFER_PTS(buffer);
  times.duration = GST_BUFFER_DURATION(buffer);
  if (segment != nullptr && segment->format == GST_FORMAT_TIME &&
      GST_CLOCK_TIME_IS_VALID(times.pts)) {
    times.stream_time = gst_segment_to_stream_time(segment, GST_FORMAT_TIME, times.pts);
    times.running_time = gst_segment_to_running_time(segment, GST_FORMAT_TIME, times.pts);
  }
  return times;
}

namespace {

GstStructure *face_structure(const FaceReport &face) {
  const cv::Rect &box = face.face.box;
  return gst_structure_new(
      "face", "object-id", G_TYPE_UINT64, static_cast<guint64>(face.face.track_id), "x", G_TYPE_INT,
      box.x, "y", G_TYPE_INT, box.y, "width", G_TYPE_INT, box.width, "height", G_TYPE_INT,
      box.height, "detection-confidence", G_TYPE_DOUBLE,
      static_cast<double>(face.face.detection_confidence), "scored", G_TYPE_BOOLEAN,
      face.scored ? TRUE : FALSE, "score", G_TYPE_DOUBLE, static_cast<double>(face.score),
      "smoothed-score", G_TYPE_DOUBLE, static_cast<double>(face.smoothed), "label", G_TYPE_STRING,
      label_name(face), "verdict", G_TYPE_STRING, verdict_name(face), "analyses", G_TYPE_INT,
      face.analyses, nullptr);
}

}  // namespace

GstStructure *frame_message_structure(const FrameTimes &times, uint64_t frames_analysed,
                                      uint64_t frames_skipped,
                                      const std::vector<FaceReport> &faces) {
  GValue array = G_VALUE_INIT;
  gst_value_array_init(&array, static_cast<guint>(faces.size()));
  for (const FaceReport &face : faces) {
    GValue item = G_VALUE_INIT;
    g_value_init(&item, GST_TYPE_STRUCTURE);
    g_value_take_boxed(&item, face_structure(face));
    gst_value_array_append_and_take_value(&array, &item);
  }
  GstStructure *s = gst_structure_new(
      "deepfake", "timestamp", G_TYPE_UINT64, static_cast<guint64>(times.pts), "stream-time",
      G_TYPE_UINT64, static_cast<guint64>(times.stream_time), "running-time", G_TYPE_UINT64,
      static_cast<guint64>(times.running_time), "duration", G_TYPE_UINT64,
      static_cast<guint64>(times.duration), "frames-analysed", G_TYPE_UINT64,
      static_cast<guint64>(frames_analysed), "frames-skipped", G_TYPE_UINT64,
      static_cast<guint64>(frames_skipped), nullptr);
  gst_structure_take_value(s, "faces", &array);
  return s;
}

GstStructure *alert_message_structure(const VerdictEvent &event, const FrameTimes &times) {
  const DateTimePtr now(g_date_time_new_now_utc());
  const CharPtr utc(now ? g_date_time_format_iso8601(now.get()) : nullptr);
  return gst_structure_new("deepfake-alert", "object-id", G_TYPE_UINT64,
                           static_cast<guint64>(event.track_id), "verdict", G_TYPE_STRING,
                           event.fake ? "fake" : "real", "smoothed-score", G_TYPE_DOUBLE,
                           static_cast<double>(event.smoothed), "timestamp", G_TYPE_UINT64,
                           static_cast<guint64>(times.pts), "stream-time", G_TYPE_UINT64,
                           static_cast<guint64>(times.stream_time), "running-time", G_TYPE_UINT64,
                           static_cast<guint64>(times.running_time), "utc", G_TYPE_STRING,
                           utc ? utc.get() : "", nullptr);
}

}  // namespace dfd::gst
