#include "scan/frame_clock.h"

namespace dfd::scan {

uint64_t FrameClock::next(uint64_t stream_time, uint64_t duration) {
  uint64_t position = kNoTime;
  if (stream_time != kNoTime && (last_ == kNoTime || stream_time > last_)) {
    position = stream_time;
  } else if (end_ != kNoTime) {
    position = end_;
  }
  if (position == kNoTime) return kNoTime;
  last_ = position;
  end_ = position + (duration != kNoTime ? duration : frame_duration_);
  return position;
}

}  // namespace dfd::scan
