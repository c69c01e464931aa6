// Verdict alerts from metadata alone: deepfakepublish may sit in another process or pipeline
// branch than deepfakedetect, so it re-derives, per object id, the verdict changes that the
// detector announces with its `deepfake-alert` bus message.
#pragma once

#include <gst/gst.h>

#include <cstdint>
#include <map>
#include <vector>

#include "publish_json.h"

namespace dfd::gst::publish {

class VerdictWatch {
 public:
  // The faces on `buffer` (ROI metas with a `deepfake` param and an object id) whose verdict
  // differs from the one last seen for their id. Every track starts as "real", as the
  // detector's tracks do, so the first alert of a face is its first "fake" verdict; "unknown"
  // (not scored yet) changes nothing.
  std::vector<Alert> update(GstBuffer *buffer);

  // Forgets every face (flush: the detector resets its tracks too and never reuses ids).
  void reset();

  size_t tracked() const { return seen_.size(); }

 private:
  struct Seen {
    bool fake = false;
    uint64_t last_frame = 0;
  };
  std::map<int, Seen> seen_;
  uint64_t frame_ = 0;
};

}  // namespace dfd::gst::publish
