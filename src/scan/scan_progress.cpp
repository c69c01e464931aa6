#include "scan/scan_progress.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "training/progress.h"

namespace dfd::scan {

std::string progress_text(const ActiveFile &file, int bar_width,
                          std::chrono::steady_clock::time_point now) {
  const ScanProgress &p = *file.progress;
  const uint64_t frames = p.frames.load();
  const uint64_t position = p.position.load();
  const uint64_t duration = p.duration.load();
  const double rate = p.frame_rate.load();
  const double elapsed = std::chrono::duration<double>(now - p.started).count();
  const bool known = duration != kNoTime && duration > 0 && position != kNoTime;
  const double done =
      known ? std::clamp(static_cast<double>(position) / static_cast<double>(duration), 0.0, 1.0)
            : 0.0;

  const int digits = static_cast<int>(std::to_string(file.total).size());
  char head[64];
  std::snprintf(head, sizeof head, "[%*zu/%zu] ", digits, file.number, file.total);
  // Long names are cut so that a bar stays on one line (a wrapped bar would not be erased).
  std::string name = std::filesystem::path(file.path).filename().string();
  if (name.size() > 40) name = name.substr(0, 37) + "...";
  std::string out = head + name;
  if (known && bar_width > 0) {
    const int filled = std::min(bar_width, static_cast<int>(done * bar_width));
    out += " [" + std::string(static_cast<size_t>(filled), '#') +
           std::string(static_cast<size_t>(bar_width - filled), '.') + "]";
  }
  if (frames == 0) return out + "  starting";
  out += "  " + std::to_string(frames);
  if (known && rate > 0) {
    out += "/" + std::to_string(static_cast<uint64_t>(std::llround(duration * 1e-9 * rate)));
  }
  char tail[96];
  std::snprintf(tail, sizeof tail, " frames  %.1f fps", elapsed > 0 ? frames / elapsed : 0.0);
  out += tail;
  if (known) {
    // Media time per wall second so far: steady enough for a file decoded at full speed.
    const double media_rate = elapsed > 0 ? position * 1e-9 / elapsed : 0.0;
    const double eta = media_rate > 0 ? (duration - position) * 1e-9 / media_rate : -1.0;
    out += "  eta " + training::format_duration(eta);
  }
  return out;
}

ProgressDisplay::ProgressDisplay(std::FILE *out, bool interactive,
                                 std::chrono::seconds log_interval)
    : out_(out), interactive_(interactive), log_interval_(log_interval) {}

ProgressDisplay::~ProgressDisplay() {
  clear();
}

void ProgressDisplay::update(const std::vector<ActiveFile> &files) {
  const auto now = std::chrono::steady_clock::now();
  if (!interactive_) {
    for (const ActiveFile &file : files) {
      auto it = last_logged_.find(file.number);
      if (it != last_logged_.end() && now - it->second < log_interval_) continue;
      std::fprintf(out_, "%s\n", progress_text(file, 0, now).c_str());
      last_logged_[file.number] = now;
    }
    std::fflush(out_);
    return;
  }
  // Five redraws a second are smooth enough and cost next to nothing.
  if (lines_shown_ > 0 && now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  clear();
  for (const ActiveFile &file : files) {
    std::fprintf(out_, "%s\033[K\n", progress_text(file, 24, now).c_str());
  }
  lines_shown_ = static_cast<int>(files.size());
  std::fflush(out_);
}

void ProgressDisplay::clear() {
  if (!interactive_ || lines_shown_ == 0) return;
  // Up to the first bar, then erase to the end of the screen.
  std::fprintf(out_, "\033[%dA\r\033[J", lines_shown_);
  std::fflush(out_);
  lines_shown_ = 0;
}

}  // namespace dfd::scan
