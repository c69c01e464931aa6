#include "face_analysis.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/heatmap.h"
#include "framecv.h"
#include "imaging/overlay.h"
#include "imaging/preprocess.h"

namespace dfd::gst {

namespace {

// Bilinear sample with edges clamped, at continuous pixel coordinates (pixel centres on
// integers).
float sample(const FloatMap &map, double x, double y) {
  x = std::clamp(x, 0.0, static_cast<double>(map.width - 1));
  y = std::clamp(y, 0.0, static_cast<double>(map.height - 1));
  const int x0 = static_cast<int>(std::floor(x));
  const int y0 = static_cast<int>(std::floor(y));
  const int x1 = std::min(x0 + 1, map.width - 1);
  const int y1 = std::min(y0 + 1, map.height - 1);
  const double fx = x - x0;
  const double fy = y - y0;
  const double top = map.at(x0, y0) * (1 - fx) + map.at(x1, y0) * fx;
  const double bottom = map.at(x0, y1) * (1 - fx) + map.at(x1, y1) * fx;
  return static_cast<float>(top * (1 - fy) + bottom * fy);
}

}  // namespace

RelevancyGrid box_relevancy(const RelevancyGrid &model_grid, const ModelConfig &config,
                            const SubmittedFace &face, int max_side) {
  RelevancyGrid out;
  if (model_grid.values.empty() || face.crop.empty() || face.box.empty()) return out;
  const FloatMap input_map = relevancy_map(model_grid, config.architecture, config.image_size);
  // The crop's map at a reduced size: it is sampled again onto a grid of at most max_side, so
  // full-resolution crops (hundreds of pixels) would only cost time.
  const double shrink = std::min(1.0, 128.0 / std::max(face.crop.width, face.crop.height));
  const cv::Size small(std::max(1, static_cast<int>(std::lround(face.crop.width * shrink))),
                       std::max(1, static_cast<int>(std::lround(face.crop.height * shrink))));
  const FloatMap crop_map = map_onto_crop(input_map, face.content, small);
  const double sx = static_cast<double>(small.width) / face.crop.width;
  const double sy = static_cast<double>(small.height) / face.crop.height;

  const double fit =
      std::min(1.0, static_cast<double>(max_side) / std::max(face.box.width, face.box.height));
  out.width = std::max(1, static_cast<int>(std::lround(face.box.width * fit)));
  out.height = std::max(1, static_cast<int>(std::lround(face.box.height * fit)));
  out.values.resize(static_cast<size_t>(out.width) * static_cast<size_t>(out.height));
  for (int j = 0; j < out.height; ++j) {
    const double frame_y = face.box.y + (j + 0.5) * face.box.height / out.height;
    const double crop_y = (frame_y - face.crop.y) * sy - 0.5;
    for (int i = 0; i < out.width; ++i) {
      const double frame_x = face.box.x + (i + 0.5) * face.box.width / out.width;
      const double crop_x = (frame_x - face.crop.x) * sx - 0.5;
      out.values[static_cast<size_t>(j) * out.width + i] = sample(crop_map, crop_x, crop_y);
    }
  }
  return out;
}

FaceAnalyzer::FaceAnalyzer(std::unique_ptr<FaceDetector> detector, std::shared_ptr<Batcher> batcher,
                           const TrackerOptions &tracker_options)
    : detector_(std::move(detector)), batcher_(std::move(batcher)), tracker_(tracker_options) {}

FrameAnalysis FaceAnalyzer::analyse(const GstVideoFrame *frame, int64_t frame_index,
                                    const AnalysisSettings &settings) {
  FrameAnalysis out;
  out.frame_index = frame_index;
  std::vector<cv::Rect> tracked;
  if (!settings.full_detection) {
    std::lock_guard<std::mutex> lock(tracker_lock_);
    for (const Track &track : tracker_.tracks()) tracked.push_back(track.box);
  }
  // With nothing to follow (first frame, after a reset, every face lost) only a whole-frame
  // search can find anything.
  out.full_detection = tracked.empty();
  const cv::Mat gray = gray_frame(frame);
  const std::vector<FaceBox> found =
      out.full_detection ? detector_->detect(gray) : detector_->detect_near(gray, tracked);

  std::vector<uint64_t> ids;
  std::vector<bool> due;
  std::vector<int64_t> last_submitted;
  {
    std::lock_guard<std::mutex> lock(tracker_lock_);
    ids = tracker_.associate(found);
    for (const uint64_t id : ids) {
      due.push_back(tracker_.wants_analysis(id, frame_index, settings.reclassify_interval));
      const Track *track = tracker_.find(id);
      last_submitted.push_back(track != nullptr ? track->last_submitted_frame : -1);
    }
  }
  const size_t due_count = static_cast<size_t>(std::count(due.begin(), due.end(), true));
  if (settings.max_faces > 0 && due_count > static_cast<size_t>(settings.max_faces)) {
    // Only some faces fit this frame's budget: those scored longest ago go first, so that
    // every track comes round in turn.
    std::vector<size_t> order;
    for (size_t i = 0; i < due.size(); ++i) {
      if (due[i]) order.push_back(i);
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return last_submitted[a] < last_submitted[b]; });
    for (size_t k = static_cast<size_t>(settings.max_faces); k < order.size(); ++k) {
      due[order[k]] = false;
    }
  }

  const cv::Size frame_size(GST_VIDEO_FRAME_WIDTH(frame), GST_VIDEO_FRAME_HEIGHT(frame));
  const ModelConfig &model = config();
  std::vector<ModelInput> inputs;
  for (size_t i = 0; i < found.size(); ++i) {
    out.faces.push_back({ids[i], found[i].box, found[i].confidence});
    if (!due[i]) continue;
    const cv::Rect crop = seed_square_box(found[i].box, frame_size, settings.margin);
    if (crop.empty()) continue;
    ModelInput input = make_model_input(region_to_bgr(frame, crop), model);
    out.submitted.push_back({ids[i], found[i].box, crop, input.content});
    inputs.push_back(std::move(input));
  }
  if (inputs.empty()) return out;

  out.result =
      batcher_->submit(pack_model_inputs(inputs, model.image_size), inputs.size(), settings.explain)
          .share();
  std::lock_guard<std::mutex> lock(tracker_lock_);
  for (const SubmittedFace &face : out.submitted)
    tracker_.mark_submitted(face.track_id, frame_index);
  return out;
}

std::vector<VerdictEvent> FaceAnalyzer::apply(const FrameAnalysis &analysis,
                                              const std::vector<Prediction> &predictions) {
  const size_t count = std::min(analysis.submitted.size(), predictions.size());
  // Mapped outside the lock: the pushing thread must not hold up detection for this.
  std::vector<RelevancyGrid> grids;
  grids.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    grids.push_back(box_relevancy(predictions[i].relevancy, config(), analysis.submitted[i]));
  }
  std::vector<VerdictEvent> events;
  std::lock_guard<std::mutex> lock(tracker_lock_);
  for (size_t i = 0; i < count; ++i) {
    const uint64_t id = analysis.submitted[i].track_id;
    const VerdictChange change = tracker_.add_score(id, predictions[i].probability,
                                                    std::move(grids[i]), analysis.frame_index);
    if (!change.changed) continue;
    const Track *track = tracker_.find(id);
    events.push_back({id, change.fake, track != nullptr ? track->smoothed : 0.f});
  }
  return events;
}

std::vector<FaceReport> FaceAnalyzer::report(const std::vector<FaceRecord> &faces,
                                             const std::vector<FaceReport> &previous) const {
  std::vector<FaceReport> out;
  out.reserve(faces.size());
  std::lock_guard<std::mutex> lock(tracker_lock_);
  for (const FaceRecord &face : faces) {
    FaceReport report;
    if (const Track *track = tracker_.find(face.track_id)) {
      report.scored = track->scored;
      report.score = track->score;
      report.label_fake = track->scored && track->score >= tracker_.options().threshold;
      report.smoothed = track->smoothed;
      report.fake = track->fake;
      report.analyses = track->analyses;
      report.relevancy = track->relevancy;
    } else {
      // The streaming thread runs ahead and may already have dropped this track.
      const auto old = std::find_if(previous.begin(), previous.end(), [&](const FaceReport &r) {
        return r.face.track_id == face.track_id;
      });
      if (old != previous.end()) report = *old;
    }
    report.face = face;
    out.push_back(std::move(report));
  }
  return out;
}

void FaceAnalyzer::set_tracker_options(const TrackerOptions &options) {
  std::lock_guard<std::mutex> lock(tracker_lock_);
  tracker_.set_options(options);
}

bool FaceAnalyzer::full_detection_due(int64_t frame_index, int interval) const {
  std::lock_guard<std::mutex> lock(tracker_lock_);
  return interval <= 1 || tracker_.tracks().empty() || last_full_detection_ < 0 ||
         frame_index < last_full_detection_ || frame_index - last_full_detection_ >= interval;
}

void FaceAnalyzer::full_detection_submitted(int64_t frame_index) {
  std::lock_guard<std::mutex> lock(tracker_lock_);
  last_full_detection_ = frame_index;
}

bool FaceAnalyzer::has_tracks() const {
  std::lock_guard<std::mutex> lock(tracker_lock_);
  return !tracker_.tracks().empty();
}

void FaceAnalyzer::reset() {
  std::lock_guard<std::mutex> lock(tracker_lock_);
  tracker_.reset();
  last_full_detection_ = -1;
}

}  // namespace dfd::gst
