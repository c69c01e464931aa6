// Where each decoded frame lies in its file, also when the decoder's timestamps do not say:
// GStreamer's GIF path (avdemux_gif ! avdec_gif) stamps every frame 0 with a correct duration.
// A frame whose stream time does not move past the previous frame's is placed where the
// previous frame ends.
#pragma once

#include <cstdint>

#include "scan/scan_file.h"

namespace dfd::scan {

class FrameClock {
 public:
  // Used for frames without a duration (from the caps; 0: unknown).
  void set_frame_duration(uint64_t ns) { frame_duration_ = ns; }
  // The next frame's position in ns (kNoTime when neither it nor an earlier frame has a time).
  // stream_time and duration: kNoTime when unknown.
  uint64_t next(uint64_t stream_time, uint64_t duration);
  // Where the newest frame ends (kNoTime before the first placed frame).
  uint64_t end() const { return end_; }

 private:
  uint64_t frame_duration_ = 0;
  uint64_t last_ = kNoTime;
  uint64_t end_ = kNoTime;
};

}  // namespace dfd::scan
