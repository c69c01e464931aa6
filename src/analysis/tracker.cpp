// Greedy IoU tracking and per-track score smoothing with verdict hysteresis.
#include "analysis/tracker.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace dfd {

float intersection_over_union(const cv::Rect &a, const cv::Rect &b) {
  const double inter = (a & b).area();
  const double uni = static_cast<double>(a.area()) + b.area() - inter;
  return uni > 0 ? static_cast<float>(inter / uni) : 0.f;
}

std::vector<uint64_t> Tracker::associate(const std::vector<FaceBox> &faces) {
  return associate(faces, std::vector<uint64_t>(faces.size(), 0));
}

std::vector<uint64_t> Tracker::associate(const std::vector<FaceBox> &faces,
                                         const std::vector<uint64_t> &given_ids) {
  std::vector<uint64_t> ids(faces.size(), 0);
  std::vector<bool> track_taken(tracks_.size(), false);
  const auto take = [&](size_t t, size_t f) {
    track_taken[t] = true;
    Track &track = tracks_[t];
    track.box = faces[f].box;
    track.detection_confidence = faces[f].confidence;
    track.missed = 0;
    ids[f] = track.id;
  };
  // An upstream tracker's id says which face this is better than any overlap can.
  for (size_t f = 0; f < faces.size(); ++f) {
    const uint64_t given = f < given_ids.size() ? given_ids[f] : 0;
    if (given == 0) continue;
    for (size_t t = 0; t < tracks_.size(); ++t) {
      if (tracks_[t].id == given && !track_taken[t]) {
        take(t, f);
        break;
      }
    }
  }

  // Greedy rather than Hungarian: faces in one frame rarely overlap, and taking the best
  // overlap first is what makes a face keep its id when a neighbour moves close to it.
  struct Candidate {
    float iou;
    size_t track;
    size_t face;
  };
  std::vector<Candidate> candidates;
  for (size_t t = 0; t < tracks_.size(); ++t) {
    if (track_taken[t]) continue;
    for (size_t f = 0; f < faces.size(); ++f) {
      if (ids[f] != 0 || (f < given_ids.size() && given_ids[f] != 0)) continue;
      const float iou = intersection_over_union(tracks_[t].box, faces[f].box);
      if (iou >= options_.iou_threshold && iou > 0.f) candidates.push_back({iou, t, f});
    }
  }
  // Ties broken by index so that the same input always gives the same ids.
  std::sort(candidates.begin(), candidates.end(), [](const Candidate &a, const Candidate &b) {
    return std::tie(b.iou, a.track, a.face) < std::tie(a.iou, b.track, b.face);
  });
  for (const Candidate &c : candidates) {
    if (track_taken[c.track] || ids[c.face] != 0) continue;
    take(c.track, c.face);
  }

  for (size_t t = 0; t < tracks_.size(); ++t) {
    if (!track_taken[t]) ++tracks_[t].missed;
  }
  // Dropped before new tracks are appended: a new face must not inherit a stale track.
  tracks_.erase(std::remove_if(tracks_.begin(), tracks_.end(),
                               [this](const Track &t) { return t.missed > options_.max_missed; }),
                tracks_.end());

  for (size_t f = 0; f < faces.size(); ++f) {
    if (ids[f] != 0) continue;
    const uint64_t given = f < given_ids.size() ? given_ids[f] : 0;
    Track track;
    track.id = given != 0 ? given : next_id_++;
    next_id_ = std::max(next_id_, track.id + 1);
    track.box = faces[f].box;
    track.detection_confidence = faces[f].confidence;
    tracks_.push_back(std::move(track));
    ids[f] = tracks_.back().id;
  }
  return ids;
}

VerdictChange Tracker::add_score(uint64_t id, float probability, RelevancyGrid relevancy,
                                 int64_t frame_index) {
  auto it =
      std::find_if(tracks_.begin(), tracks_.end(), [id](const Track &t) { return t.id == id; });
  if (it == tracks_.end()) return {};
  Track &track = *it;
  track.score = probability;
  if (!track.scored) {
    // No history to blend with: starting from 0 would bias every new face towards "real".
    track.smoothed = probability;
    track.scored = true;
  } else {
    const float w = options_.smoothing;
    track.smoothed = w * probability + (1.f - w) * track.smoothed;
  }
  ++track.analyses;
  track.last_scored_frame = std::max(track.last_scored_frame, frame_index);
  track.relevancy = std::move(relevancy);

  const int needed = std::max(1, options_.verdict_analyses);
  if ((track.smoothed >= options_.threshold) != track.fake) {
    ++track.streak;
  } else {
    track.streak = 0;
  }
  if (track.streak >= needed) {
    track.fake = !track.fake;
    track.streak = 0;
    return {true, track.fake};
  }
  return {false, track.fake};
}

bool Tracker::wants_analysis(uint64_t id, int64_t frame_index, int reclassify_interval) const {
  const Track *track = find(id);
  if (track == nullptr) return false;
  if (track->last_submitted_frame < 0) return true;
  if (reclassify_interval <= 0) return false;
  if (reclassify_interval == 1) return true;
  return frame_index - track->last_submitted_frame >= reclassify_interval;
}

void Tracker::mark_submitted(uint64_t id, int64_t frame_index) {
  auto it =
      std::find_if(tracks_.begin(), tracks_.end(), [id](const Track &t) { return t.id == id; });
  if (it != tracks_.end()) it->last_submitted_frame = frame_index;
}

const Track *Tracker::find(uint64_t id) const {
  auto it =
      std::find_if(tracks_.begin(), tracks_.end(), [id](const Track &t) { return t.id == id; });
  return it == tracks_.end() ? nullptr : &*it;
}

void Tracker::reset() {
  // next_id_ is kept: ids are never reused by one tracker, so an alert about an object id
  // before a flush cannot be mistaken for a different face after it.
  tracks_.clear();
}

}  // namespace dfd
