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
  const double confidence = !face.scored      ? 0.0
                            : face.label_fake ? static_cast<double>(face.score)
                                              : 1.0 - static_cast<double>(face.score);
  return gst_structure_new(
      "face", "object_id", G_TYPE_UINT64, static_cast<guint64>(face.face.track_id), "x", G_TYPE_INT,
      box.x, "y", G_TYPE_INT, box.y, "w", G_TYPE_INT, box.width, "h", G_TYPE_INT, box.height,
      "detection_confidence", G_TYPE_DOUBLE, static_cast<double>(face.face.detection_confidence),
      "scored", G_TYPE_BOOLEAN, face.scored ? TRUE : FALSE, "label", G_TYPE_STRING,
      label_name(face), "confidence", G_TYPE_DOUBLE, confidence, "fake_probability", G_TYPE_DOUBLE,
      static_cast<double>(face.score), "smoothed_score", G_TYPE_DOUBLE,
      static_cast<double>(face.smoothed), "verdict", G_TYPE_STRING, verdict_name(face), "analyses",
      G_TYPE_INT, face.analyses, nullptr);
}

// Times as DL Streamer's gvametaconvert names them: `timestamp` is the stream time.
void set_times(GstStructure *s, const FrameTimes &times) {
  gst_structure_set(s, "timestamp", G_TYPE_UINT64, static_cast<guint64>(times.stream_time), "pts",
                    G_TYPE_UINT64, static_cast<guint64>(times.pts), "running_time", G_TYPE_UINT64,
                    static_cast<guint64>(times.running_time), nullptr);
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
  GstStructure *s = gst_structure_new_empty("deepfake");
  set_times(s, times);
  gst_structure_set(s, "duration", G_TYPE_UINT64, static_cast<guint64>(times.duration),
                    "frames_analysed", G_TYPE_UINT64, static_cast<guint64>(frames_analysed),
                    "frames_skipped", G_TYPE_UINT64, static_cast<guint64>(frames_skipped), nullptr);
  gst_structure_take_value(s, "faces", &array);
  return s;
}

GstStructure *alert_message_structure(const VerdictEvent &event, const FrameTimes &times) {
  const DateTimePtr now(g_date_time_new_now_utc());
  const CharPtr wall_clock(now ? g_date_time_format_iso8601(now.get()) : nullptr);
  GstStructure *s = gst_structure_new(
      "deepfake-alert", "object_id", G_TYPE_UINT64, static_cast<guint64>(event.track_id), "verdict",
      G_TYPE_STRING, event.fake ? "fake" : "real", "previous_verdict", G_TYPE_STRING,
      event.fake ? "real" : "fake", "smoothed_score", G_TYPE_DOUBLE,
      static_cast<double>(event.smoothed), nullptr);
  set_times(s, times);
  gst_structure_set(s, "wall_clock", G_TYPE_STRING, wall_clock ? wall_clock.get() : "", nullptr);
  return s;
}

}  // namespace dfd::gst
