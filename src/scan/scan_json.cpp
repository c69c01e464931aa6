#include "scan/scan_json.h"

#include <algorithm>

namespace dfd::scan {

namespace {

json::Value time_or_null(uint64_t ns) {
  return ns == kNoTime ? json::Value() : json::Value(static_cast<double>(ns));
}

json::Value face_json(const FaceObservation &f) {
  json::Object o;
  o["object_id"] = static_cast<double>(f.object_id);
  o["x"] = f.x;
  o["y"] = f.y;
  o["w"] = f.width;
  o["h"] = f.height;
  o["detection_confidence"] = f.detection_confidence;
  o["scored"] = f.scored;
  o["label"] = f.label;
  o["confidence"] = f.confidence;
  o["fake_probability"] = f.score;
  o["smoothed_score"] = f.smoothed;
  o["verdict"] = f.verdict;
  o["analyses"] = f.analyses;
  return o;
}

double normalised(int value, int size) {
  return size > 0 ? std::clamp(static_cast<double>(value) / size, 0.0, 1.0) : 0.0;
}

// As gvametaconvert writes a detected and classified region.
json::Value object_json(const FaceObservation &f, int width, int height,
                        const std::string &model_name) {
  json::Object box;
  box["x_min"] = normalised(f.x, width);
  box["y_min"] = normalised(f.y, height);
  box["x_max"] = normalised(f.x + f.width, width);
  box["y_max"] = normalised(f.y + f.height, height);
  json::Object detection;
  detection["bounding_box"] = std::move(box);
  detection["confidence"] = f.detection_confidence;
  detection["label"] = "face";
  detection["label_id"] = 0;
  json::Object model;
  model["name"] = model_name;
  // As deepfakepublish writes the element's param: its fields, model and object_id.
  json::Object deepfake;
  deepfake["label"] = f.label;
  deepfake["label_id"] = f.label == "fake" ? 1 : f.label == "real" ? 0 : -1;
  deepfake["confidence"] = f.confidence;
  deepfake["fake_probability"] = f.score;
  deepfake["smoothed_score"] = f.smoothed;
  deepfake["verdict"] = f.verdict;
  deepfake["analyses"] = f.analyses;
  deepfake["attribute_name"] = "deepfake";
  deepfake["model_name"] = model_name;
  deepfake["model"] = std::move(model);
  deepfake["object_id"] = static_cast<double>(f.object_id);
  json::Object o;
  o["id"] = static_cast<double>(f.object_id);
  o["roi_type"] = "face";
  o["x"] = f.x;
  o["y"] = f.y;
  o["w"] = f.width;
  o["h"] = f.height;
  o["detection"] = std::move(detection);
  o["deepfake"] = std::move(deepfake);
  return o;
}

json::Value clock_json(double seconds) {
  json::Object o;
  o["seconds"] = seconds;
  o["time"] = format_clock(seconds);
  return o;
}

}  // namespace

json::Value frame_json(const FileScan &scan, const AnalysedFrame &frame,
                       const std::string &model_name) {
  json::Object o;
  o["source"] = scan.path;
  o["frame"] = static_cast<double>(frame.index);
  o["timestamp"] = time_or_null(frame.stream_time);  // as gvametaconvert: stream time
  o["pts"] = time_or_null(frame.pts);
  o["running_time"] = time_or_null(frame.running_time);
  o["duration"] = time_or_null(frame.duration);
  const std::optional<double> seconds = frame_seconds(frame);
  o["seconds"] = seconds ? json::Value(*seconds) : json::Value();
  o["time"] = seconds ? json::Value(format_clock(*seconds)) : json::Value();
  o["frames_analysed"] = static_cast<double>(frame.frames_analysed);
  o["frames_skipped"] = static_cast<double>(frame.frames_skipped);
  json::Object resolution;
  resolution["width"] = scan.width;
  resolution["height"] = scan.height;
  o["resolution"] = std::move(resolution);
  json::Array faces, objects;
  for (const FaceObservation &f : frame.faces) {
    faces.push_back(face_json(f));
    objects.push_back(object_json(f, scan.width, scan.height, model_name));
  }
  o["faces"] = std::move(faces);
  o["objects"] = std::move(objects);
  return o;
}

json::Value summary_json(const FileSummary &s) {
  json::Object o;
  o["path"] = s.path;
  o["verdict"] = verdict_name(s.verdict);
  o["error"] = s.error.empty() ? (s.interrupted ? json::Value("interrupted") : json::Value())
                               : json::Value(s.error);
  o["threshold"] = s.threshold;
  o["score"] = s.score ? json::Value(*s.score) : json::Value();
  o["deciding_track"] =
      s.deciding_track ? json::Value(static_cast<double>(*s.deciding_track)) : json::Value();
  o["width"] = s.width;
  o["height"] = s.height;
  o["duration"] = s.duration ? json::Value(*s.duration) : json::Value();
  o["frames_decoded"] = static_cast<double>(s.frames_decoded);
  o["frames_analysed"] = static_cast<double>(s.frames_analysed);
  o["faces"] = static_cast<double>(s.faces);
  o["wall_seconds"] = s.wall_seconds;
  o["fps"] = s.fps;
  json::Array tracks;
  for (const TrackSummary &t : s.tracks) {
    json::Object track;
    track["object_id"] = static_cast<double>(t.object_id);
    track["score"] = t.score;
    track["frames"] = t.frames;
    track["fake_frames"] = t.fake_frames;
    track["first"] = clock_json(t.first);
    track["last"] = clock_json(t.last);
    tracks.push_back(std::move(track));
  }
  o["tracks"] = std::move(tracks);
  json::Array ranges;
  for (const FakeRange &r : s.fake_ranges) {
    json::Object range;
    range["start"] = clock_json(r.start);
    range["end"] = clock_json(r.end);
    range["frames"] = r.frames;
    range["max_score"] = r.max_score;
    json::Array ids;
    for (const uint64_t id : r.object_ids) ids.push_back(static_cast<double>(id));
    range["object_ids"] = std::move(ids);
    ranges.push_back(std::move(range));
  }
  o["fake_ranges"] = std::move(ranges);
  return o;
}

json::Value totals_json(const Totals &t) {
  json::Object o;
  o["files"] = t.files;
  o["fake"] = t.fake;
  o["real"] = t.real;
  o["no_face"] = t.no_face;
  o["errors"] = t.errors;
  o["frames_decoded"] = static_cast<double>(t.frames_decoded);
  o["frames_analysed"] = static_cast<double>(t.frames_analysed);
  o["faces"] = static_cast<double>(t.faces);
  o["wall_seconds"] = t.wall_seconds;
  o["fps"] = t.wall_seconds > 0 ? static_cast<double>(t.frames_decoded) / t.wall_seconds : 0.0;
  return o;
}

}  // namespace dfd::scan
