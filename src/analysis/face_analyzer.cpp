#include "analysis/face_analyzer.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "analysis/box_relevancy.h"
#include "imaging/preprocess.h"

namespace dfd {

std::vector<TrackedFace> carry_regions(const std::vector<GivenRegion> &regions,
                                       const std::vector<TrackedFace> &last, float min_iou) {
  std::vector<TrackedFace> out;
  for (const GivenRegion &region : regions) {
    uint64_t track = region.object_id;
    if (track == 0) {
      float best = 0.f;
      for (const TrackedFace &face : last) {
        const float iou = intersection_over_union(face.box, region.box);
        if (iou >= min_iou && iou > best) {
          best = iou;
          track = face.track_id;
        }
      }
    }
    if (track != 0) out.push_back({track, region.box, region.confidence, region.roi_id, {}});
  }
  return out;
}

FaceAnalyzer::FaceAnalyzer(std::unique_ptr<FaceDetector> detector, std::shared_ptr<Batcher> batcher,
                           const TrackerOptions &tracker_options)
    : detector_(std::move(detector)), batcher_(std::move(batcher)), tracker_(tracker_options) {}

void FaceAnalyzer::set_completion_callback(std::function<void()> callback) {
  on_complete_ = std::move(callback);
}

FrameAnalysis FaceAnalyzer::analyse(const FrameView &frame, int64_t frame_index,
                                    const AnalysisSettings &settings) {
  if (!detector_) throw std::logic_error("FaceAnalyzer::analyse without a face detector");
  FrameAnalysis out;
  out.frame_index = frame_index;
  out.frame_size = frame.size();
  std::vector<cv::Rect> tracked;
  if (!settings.full_detection) {
    std::lock_guard<std::mutex> lock(tracker_lock_);
    for (const Track &track : tracker_.tracks()) tracked.push_back(track.box);
  }
  // With nothing to follow (first frame, after a reset, every face lost) only a whole-frame
  // search can find anything.
  out.full_detection = tracked.empty();
  const cv::Mat gray = frame.gray();
  const std::vector<FaceBox> found =
      out.full_detection ? detector_->detect(gray) : detector_->detect_near(gray, tracked);
  return score_faces(frame, std::move(out), found, std::vector<uint64_t>(found.size(), 0),
                     std::vector<int>(found.size(), -1), settings);
}

FrameAnalysis FaceAnalyzer::analyse_regions(const FrameView &frame, int64_t frame_index,
                                            const AnalysisSettings &settings,
                                            const std::vector<GivenRegion> &regions) {
  FrameAnalysis out;
  out.frame_index = frame_index;
  out.frame_size = frame.size();
  out.full_detection = false;
  const cv::Rect bounds(cv::Point(0, 0), out.frame_size);
  std::vector<FaceBox> found;
  std::vector<uint64_t> given;
  std::vector<int> roi_ids;
  for (const GivenRegion &region : regions) {
    // A box reaching past the frame (allowed by the ROI meta) is cut to what can be seen;
    // one wholly outside has nothing to classify.
    const cv::Rect box = region.box & bounds;
    if (box.empty()) continue;
    found.push_back({box, region.confidence, {}});
    given.push_back(region.object_id);
    roi_ids.push_back(region.roi_id);
  }
  return score_faces(frame, std::move(out), found, given, roi_ids, settings);
}

FrameAnalysis FaceAnalyzer::score_faces(const FrameView &frame, FrameAnalysis out,
                                        const std::vector<FaceBox> &found,
                                        const std::vector<uint64_t> &given,
                                        const std::vector<int> &roi_ids,
                                        const AnalysisSettings &settings) {
  std::vector<uint64_t> ids;
  std::vector<bool> due;
  std::vector<int64_t> last_submitted;
  {
    std::lock_guard<std::mutex> lock(tracker_lock_);
    ids = tracker_.associate(found, given);
    for (const uint64_t id : ids) {
      due.push_back(tracker_.wants_analysis(id, out.frame_index, settings.reclassify_interval));
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

  const ModelConfig &model = config();
  std::vector<ModelInput> inputs;
  for (size_t i = 0; i < found.size(); ++i) {
    out.faces.push_back(
        {ids[i], found[i].box, found[i].confidence, roi_ids[i], found[i].landmarks});
    if (!due[i]) continue;
    const cv::Rect crop = seed_square_box(found[i].box, out.frame_size, settings.margin);
    if (crop.empty()) continue;
    ModelInput input = make_model_input(frame.bgr_region(crop), model);
    out.submitted.push_back({ids[i], found[i].box, crop, input.content});
    inputs.push_back(std::move(input));
  }
  if (inputs.empty()) return out;

  out.result = batcher_
                   ->submit(pack_model_inputs(inputs, model.image_size), inputs.size(),
                            settings.explain, on_complete_)
                   .share();
  std::lock_guard<std::mutex> lock(tracker_lock_);
  for (const SubmittedFace &face : out.submitted) {
    tracker_.mark_submitted(face.track_id, out.frame_index);
  }
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

std::vector<FaceReport> FaceAnalyzer::report(const std::vector<TrackedFace> &faces,
                                             const std::vector<FaceReport> &previous) const {
  std::vector<FaceReport> out;
  out.reserve(faces.size());
  std::lock_guard<std::mutex> lock(tracker_lock_);
  for (const TrackedFace &face : faces) {
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
      // The analysing thread runs ahead and may already have dropped this track.
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

}  // namespace dfd
