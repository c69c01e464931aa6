#include "video_score.h"

#include <map>
#include <stdexcept>

namespace dfd::eval {

VideoScore score_video(const std::vector<IdentityScores> &identities, double threshold) {
  VideoScore out;
  for (const IdentityScores &identity : identities) {
    if (identity.frame_scores.empty()) continue;
    double sum = 0.0;
    for (const double s : identity.frame_scores) sum += s;
    out.identities.push_back({identity.id, identity.frame_scores.size(),
                              sum / static_cast<double>(identity.frame_scores.size())});
  }
  if (out.identities.empty()) throw std::invalid_argument("a video score needs a scored face");
  double sum = 0.0;
  for (size_t i = 0; i < out.identities.size(); ++i) {
    if (out.identities[i].mean > threshold) {
      out.score = out.identities[i].mean;
      out.deciding_identity = static_cast<int>(i);
      return out;
    }
    sum += out.identities[i].mean;
  }
  out.score = sum / static_cast<double>(out.identities.size());
  return out;
}

std::vector<ScoredVideo> score_videos(const std::vector<FaceRecord> &records, double threshold) {
  std::vector<std::string> video_order;
  std::map<std::string, std::vector<IdentityScores>> videos;
  for (const FaceRecord &r : records) {
    auto it = videos.find(r.video);
    if (it == videos.end()) {
      video_order.push_back(r.video);
      it = videos.emplace(r.video, std::vector<IdentityScores>{}).first;
    }
    std::vector<IdentityScores> &ids = it->second;
    IdentityScores *identity = nullptr;
    for (IdentityScores &candidate : ids) {
      if (candidate.id == r.identity) identity = &candidate;
    }
    if (!identity) {
      ids.push_back({r.identity, {}});
      identity = &ids.back();
    }
    identity->frame_scores.push_back(r.score);
  }
  std::vector<ScoredVideo> out;
  out.reserve(video_order.size());
  for (const std::string &video : video_order) {
    out.push_back({video, score_video(videos[video], threshold)});
  }
  return out;
}

}  // namespace dfd::eval
