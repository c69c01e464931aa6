// The seed's video verdict (spec section 3): a video is as fake as its most suspicious face,
// judged by identity rather than by frame, so one bad frame does not condemn a video and one
// fake face among real ones is not averaged away.
#pragma once

#include <string>
#include <vector>

namespace dfd::eval {

struct IdentityScores {
  std::string id;
  std::vector<double> frame_scores;  // fake probabilities of this face, in frame order
};

struct IdentityMean {
  std::string id;
  size_t frames = 0;
  double mean = 0.0;
};

struct VideoScore {
  std::vector<IdentityMean> identities;  // in the order given
  double score = 0.0;
  // Index into `identities` of the identity whose mean decided, or -1 when the score is the
  // mean of all identity means (none exceeded the threshold).
  int deciding_identity = -1;
};

// Identity score = mean of its frame scores; video score = the first identity mean strictly
// above `threshold` (the seed tests `> 0.55`), else the mean of the identity means. Identities
// without frames are dropped. Throws std::invalid_argument when no identity has a frame.
VideoScore score_video(const std::vector<IdentityScores> &identities, double threshold);

// One scored face of a video: groups frame records into identities.
struct FaceRecord {
  std::string video;
  std::string identity;
  double score = 0.0;
};

// Groups records by video (in order of first appearance) and, inside each, by identity (in
// order of first appearance, which is the seed's face-index order when identities are
// numbered by size rank), then scores each video.
struct ScoredVideo {
  std::string video;
  VideoScore score;
};
std::vector<ScoredVideo> score_videos(const std::vector<FaceRecord> &records, double threshold);

}  // namespace dfd::eval
