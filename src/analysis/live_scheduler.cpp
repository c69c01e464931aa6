#include "analysis/live_scheduler.h"

#include <algorithm>
#include <cmath>

namespace dfd {

const char *skip_reason(Skip skip) {
  switch (skip) {
    case Skip::Backlog:
      return "max-frames-in-flight awaiting scores";
    case Skip::Qos:
      return "QoS: downstream is late";
    case Skip::Busy:
      return "the detector is still on an earlier frame";
    case Skip::Budget:
      return "scores could not come back within max-latency";
    case Skip::No:
      break;
  }
  return "";
}

void LiveScheduler::reset() {
  face_ms_ = 0;
  seen_batches_ = 0;
  seen_faces_ = 0;
  last_analysis_ = {};
  last_full_ = {};
}

// How many faces of a new frame could have their scores back within `budget_ms`, after the
// detection, the wait for a partial batch and the faces already queued ahead of them; at
// least `wanted` when they all fit.
BudgetEstimate LiveScheduler::faces_within_budget(const SchedulerLoad &load,
                                                  const SchedulerSettings &settings,
                                                  double budget_ms, bool full, int wanted) {
  const BatcherStats &stats = load.batcher;
  if (stats.batches > seen_batches_ && stats.faces > seen_faces_) {
    // Per face, not per batch: a frame with four faces costs about four times one with one.
    const double batch_faces = static_cast<double>(stats.faces - seen_faces_) /
                               static_cast<double>(stats.batches - seen_batches_);
    const double sample = stats.last_batch_ms / std::max(1.0, batch_faces);
    face_ms_ = face_ms_ == 0 ? sample : 0.7 * face_ms_ + 0.3 * sample;
  }
  seen_batches_ = stats.batches;
  seen_faces_ = stats.faces;
  BudgetEstimate e;
  e.budget_ms = budget_ms;
  e.full = full;
  e.wanted = wanted;
  e.faces_ahead = static_cast<double>(load.outstanding_faces);
  const double batch = std::max(1, settings.batch_size);
  e.batching_ms = e.faces_ahead + wanted >= batch ? 0.0 : settings.batch_timeout_ms;
  e.detection_ms = full ? load.full_detection_ms : load.tracked_detection_ms;
  e.face_ms = face_ms_;
  const double left = budget_ms - e.detection_ms - e.batching_ms - e.faces_ahead * face_ms_;
  const int fit = left < 0        ? 0
                  : face_ms_ <= 0 ? wanted
                                  : static_cast<int>(std::floor(left / face_ms_));
  e.fit = std::min(fit, wanted);
  return e;
}

Decision LiveScheduler::decide(const FrameFacts &frame, const SchedulerLoad &load,
                               const SchedulerSettings &settings) {
  Decision d;
  d.full = frame.due && frame.full_due;
  if (!frame.due) return d;
  if (frame.qos_late) {
    d.skip = Skip::Qos;
  } else if (frame.live) {
    // Frames held for a synchronising sink downstream are latency, not backlog: only frames
    // still awaiting scores count against max-frames-in-flight.
    if (load.outstanding_frames >= settings.max_frames_in_flight) {
      d.skip = Skip::Backlog;
    } else if (load.detector_busy > 0) {
      // Detecting the next frame as soon as the detector is free keeps pace with any source.
      d.skip = Skip::Busy;
    } else {
      const int wanted = std::max(1, static_cast<int>(std::min<size_t>(load.recent_faces, 64)));
      d.estimate = faces_within_budget(load, settings, frame.budget_ms, d.full, wanted);
      int fit = d.estimate.fit;
      if (fit < 1 && d.full && frame.has_tracks && frame.arrival - last_full_ < kProbeInterval) {
        // Follow the known faces now; the whole-frame search waits for a cheaper moment.
        const BudgetEstimate tracked =
            faces_within_budget(load, settings, frame.budget_ms, false, wanted);
        if (tracked.fit >= 1) {
          d.full = false;
          d.estimate = tracked;
          fit = tracked.fit;
        }
      }
      if (fit >= 1) {
        // Of many faces, those that fit are scored now, the others on the next frames.
        if (fit < wanted) d.max_faces = fit;
      } else if (frame.arrival - last_analysis_ >= kProbeInterval ||
                 (d.full && frame.arrival - last_full_ >= kProbeInterval)) {
        // Analysed regardless, to keep the estimates current and new faces found, but not
        // waited for: holding the frame would break the latency budget. One face (the one
        // scored longest ago) keeps the model's backlog, which later frames wait behind, short.
        d.hold = false;
        d.max_faces = 1;
      } else {
        d.skip = Skip::Budget;
      }
    }
  }
  d.analyse = d.skip == Skip::No;
  if (!d.analyse) return d;
  last_analysis_ = frame.arrival;
  if (d.full) last_full_ = frame.arrival;
  return d;
}

}  // namespace dfd
