#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace dfd::training {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--";
  const long total = std::lround(seconds);
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%ldh%02ldm%02lds", total / 3600, total / 60 % 60, total % 60);
  } else if (total >= 60) {
    std::snprintf(text, sizeof text, "%ldm%02lds", total / 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%lds", total);
  }
  return text;
}

Progress::Progress(std::FILE *out, bool interactive, int log_every)
    : out_(out), interactive_(interactive), log_every_(log_every > 0 ? log_every : 1) {}

bool Progress::stderr_is_terminal() {
  return ::isatty(STDERR_FILENO) == 1;
}

void Progress::step(const StepStatus &s) {
  if (!interactive_) {
    if (s.global_step % log_every_ != 0 && s.step_in_epoch != s.steps_per_epoch) return;
    std::fprintf(out_,
                 "train: epoch %d/%d step %lld/%lld (run %lld/%lld) loss %.4f lr %.3g "
                 "%.1f faces/s eta %s\n",
                 s.epoch + 1, s.epochs, static_cast<long long>(s.step_in_epoch),
                 static_cast<long long>(s.steps_per_epoch), static_cast<long long>(s.global_step),
                 static_cast<long long>(s.total_steps), s.loss, s.lr, s.faces_per_second,
                 format_duration(s.eta_run_seconds).c_str());
    std::fflush(out_);
    return;
  }
  // Redrawing costs a write per step; five times a second is smooth enough.
  const auto now = std::chrono::steady_clock::now();
  if (bar_shown_ && s.step_in_epoch != s.steps_per_epoch &&
      now - last_draw_ < std::chrono::milliseconds(200)) {
    return;
  }
  last_draw_ = now;
  constexpr int kWidth = 24;
  const double done =
      s.steps_per_epoch > 0 ? static_cast<double>(s.step_in_epoch) / s.steps_per_epoch : 0.0;
  const int filled = std::min(kWidth, static_cast<int>(done * kWidth));
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '.');
  std::fprintf(out_,
               "\r\033[Kepoch %d/%d [%s] %lld/%lld train loss %.4f lr %.3g %.1f faces/s "
               "eta %s (run %s)",
               s.epoch + 1, s.epochs, bar.c_str(), static_cast<long long>(s.step_in_epoch),
               static_cast<long long>(s.steps_per_epoch), s.loss, s.lr, s.faces_per_second,
               format_duration(s.eta_epoch_seconds).c_str(),
               format_duration(s.eta_run_seconds).c_str());
  std::fflush(out_);
  bar_shown_ = true;
}

void Progress::line(const std::string &text) {
  clear_bar();
  std::fprintf(out_, "%s\n", text.c_str());
  std::fflush(out_);
}

void Progress::clear_bar() {
  if (interactive_ && bar_shown_) std::fputs("\r\033[K", out_);
  bar_shown_ = false;
}

}  // namespace dfd::training
