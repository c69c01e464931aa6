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

// `deepfake`: timestamp (stream time, as gvametaconvert's), pts, running_time, duration,
// frames_analysed, frames_skipped and faces, an array of `face` structures (object_id, x, y, w,
// h, detection_confidence, scored, label, confidence (of the label), fake_probability,
// smoothed_score, verdict, analyses). Invalid times are GST_CLOCK_TIME_NONE.
GstStructure *frame_message_structure(const FrameTimes &times, uint64_t frames_analysed,
                                      uint64_t frames_skipped,
                                      const std::vector<FaceReport> &faces);

// `deepfake-alert`: object_id, verdict, previous_verdict, smoothed_score, timestamp (stream
// time), pts, running_time and wall_clock (UTC, ISO 8601).
GstStructure *alert_message_structure(const VerdictEvent &event, const FrameTimes &times);

}  // namespace dfd::gst
