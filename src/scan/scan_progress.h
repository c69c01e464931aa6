// Progress of the files being scanned, on stderr: a bar per file with frames, speed and ETA,
// redrawn in place, when a person watches a terminal; otherwise a plain line when a file starts
// and then every few seconds, which reads well in a log.
#pragma once

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "scan/scan_file.h"

namespace dfd::scan {

struct ActiveFile {
  size_t number = 0;  // 1-based position in the scan
  size_t total = 0;
  std::string path;
  const ScanProgress *progress = nullptr;
};

// "[ 3/28] name [#####.......]  120/448 frames  14.2 fps  eta 23s" (the bar, the frame total
// and the ETA only when the duration is known; bar_width 0: no bar); "starting" before the
// first frame.
std::string progress_text(const ActiveFile &file, int bar_width,
                          std::chrono::steady_clock::time_point now);

class ProgressDisplay {
 public:
  ProgressDisplay(std::FILE *out, bool interactive, std::chrono::seconds log_interval);
  ~ProgressDisplay();
  ProgressDisplay(const ProgressDisplay &) = delete;
  ProgressDisplay &operator=(const ProgressDisplay &) = delete;

  void update(const std::vector<ActiveFile> &files);
  // Takes the bars away, so that other output can be written; the next update redraws them.
  void clear();

 private:
  std::FILE *out_;
  bool interactive_;
  std::chrono::seconds log_interval_;
  int lines_shown_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
  std::map<size_t, std::chrono::steady_clock::time_point> last_logged_;
};

}  // namespace dfd::scan
