// The machine-readable side of a scan. A JSONL line per analysed frame carries the fields of
// deepfakedetect's `deepfake` bus message under the same names, plus gvametaconvert-style
// `objects` as deepfakepublish writes them; the summary of a file, and the whole report
// (schema gst-deepfake/scan-summary v2) that --summary writes. Keys use the names the
// element's metadata, messages and deepfakepublish use.
#pragma once

#include <string>
#include <vector>

#include "core/json_strict.h"
#include "scan/scan_summary.h"
#include "scan/scan_text.h"

namespace dfd::scan {

constexpr const char *kSummarySchema = "gst-deepfake/scan-summary";
constexpr int kSummaryVersion = 2;  // 2: keys with underscores, as every other output

// {"source", "frame", "timestamp" (stream time), "pts", "running_time", "duration" (the
// message's, ns, null when unknown), "seconds" and "time" (the frame's position in the file, see
// frame_clock.h), "frames_analysed", "frames_skipped", "resolution", "faces": [the message's
// face fields], "objects": [{"id", "roi_type", "x", "y", "w", "h", "detection":
// {"bounding_box": {x_min, y_min, x_max, y_max normalised}, "confidence", "label",
// "label_id"}, "deepfake": {"label", "label_id", "confidence", "fake_probability",
// "smoothed_score", "verdict", "analyses", "attribute_name", "model_name", "model": {"name"},
// "object_id"}}]}
json::Value frame_json(const FileScan &scan, const AnalysedFrame &frame,
                       const std::string &model_name);

json::Value summary_json(const FileSummary &summary);
json::Value totals_json(const Totals &totals);

}  // namespace dfd::scan
