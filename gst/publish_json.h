// The JSON that deepfakepublish sends: a frame's region-of-interest metadata in DL Streamer
// gvametaconvert's layout (so that gvametapublish consumers read it unchanged), and verdict
// alerts. Serialisation only: no I/O, no element state.
#pragma once

#include <gst/gst.h>

#include <string>

#include "core/json_strict.h"

namespace dfd::gst::publish {

// Where and when a frame is. Invalid times (GST_CLOCK_TIME_NONE) are left out of the JSON.
struct FrameContext {
  int width = 0;
  int height = 0;
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  GstClockTime stream_time = GST_CLOCK_TIME_NONE;
  GstClockTime running_time = GST_CLOCK_TIME_NONE;
  std::string source;
  std::string wall_clock;  // iso8601_utc_ms() of when the frame was published
};

// A verdict change of one tracked face (see publish_alerts.h for when one happens).
struct Alert {
  int object_id = 0;
  std::string verdict;            // "fake" or "real"
  std::string previous_verdict;   // what it was before
  double smoothed_score = 0.0;    // smoothed fake probability the verdict rests on
  double fake_probability = 0.0;  // of the newest analysis
  guint x = 0, y = 0, w = 0, h = 0;
  bool has_box = false;  // normalised box from the ROI's `detection` param
  double x_min = 0.0, y_min = 0.0, x_max = 0.0, y_max = 0.0;
};

// "2026-11-26T08:20:29.123Z" for `unix_us` microseconds since the epoch (g_get_real_time()).
std::string iso8601_utc_ms(gint64 unix_us);

// One entry per GstVideoRegionOfInterestMeta on `buffer`, in meta order:
//   {"x","y","w","h" (pixels), "id" (object_id param, when not 0), "roi_type",
//    "detection": {"bounding_box": {"x_min","y_min","x_max","y_max"}, "confidence",
//                  "label_id", "label" (the roi_type)},
//    <attribute_name>: every field of a classification param verbatim, plus "model":
//                      {"name"} as gvametaconvert writes it (and "object_id" for deepfake)}.
// A classification param is one with a string "label"; it is keyed by its "attribute_name"
// field, else by the structure's name. Other params are left out, as gvametaconvert does.
json::Array roi_objects(GstBuffer *buffer);

// A frame message: {"objects" (only when there are any, as gvametaconvert), "resolution":
// {"width","height"}, "timestamp" (stream time, ns, as gvametaconvert), "pts", "running_time"
// (ns), "source", "wall_clock"}.
json::Value frame_message(json::Array objects, const FrameContext &context);

// {"type":"alert", "source", "wall_clock", "timestamp", "pts", "running_time", "id",
//  "verdict", "previous_verdict", "smoothed_score", "fake_probability", "x","y","w","h",
//  "bounding_box" (normalised, when known), "resolution"}.
json::Value alert_message(const Alert &alert, const FrameContext &context);

}  // namespace dfd::gst::publish
