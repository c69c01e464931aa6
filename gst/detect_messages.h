// The bus messages of deepfakedetect: `deepfake` for every analysed frame and `deepfake-alert`
// when a face's verdict changes. Built here as structures so their layout is in one place.
#pragma once

#include <gst/gst.h>

#include <cstdint>
#include <vector>

#include "analysis/face_analyzer.h"

namespace dfd::gst {

// Times of the frame a message is about.
struct FrameTimes {
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  GstClockTime duration = GST_CLOCK_TIME_NONE;
  GstClockTime stream_time = GST_CLOCK_TIME_NONE;
  GstClockTime running_time = GST_CLOCK_TIME_NONE;
};

FrameTimes frame_times(const GstSegment *segment, GstBuffer *buffer);

// `deepfake`: timestamp (pts), stream-time, running-time, duration, frames-analysed,
// frames-skipped and faces, an array of `face` structures (object-id, x, y, width, height,
// detection-confidence, scored, score, smoothed-score, label, verdict).
GstStructure *frame_message_structure(const FrameTimes &times, uint64_t frames_analysed,
                                      uint64_t frames_skipped,
                                      const std::vector<FaceReport> &faces);

// `deepfake-alert`: object-id, verdict, smoothed-score, timestamp (pts), stream-time,
// running-time and utc (wall clock, ISO 8601).
GstStructure *alert_message_structure(const VerdictEvent &event, const FrameTimes &times);

}  // namespace dfd::gst
