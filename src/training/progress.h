// Training progress on stderr: a live bar with loss, throughput and ETA when a person is
// watching a terminal, plain log lines (one per N steps) when the output goes to a file or a
// pipe, where carriage returns would only garble the log.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace dfd::training {

struct StepStatus {
  int epoch = 0;  // 0-based
  int epochs = 0;
  int64_t step_in_epoch = 0;  // steps done in this epoch
  int64_t steps_per_epoch = 0;
  int64_t global_step = 0;  // steps done in the run
  int64_t total_steps = 0;  // the run's planned end
  double loss = 0.0;        // running mean over this epoch's steps
  double lr = 0.0;
  double faces_per_second = 0.0;
  double eta_epoch_seconds = 0.0;  // negative: unknown yet
  double eta_run_seconds = 0.0;    // training steps only, validation passes excluded
};

// "1h02m03s"; "--" for negative or non-finite seconds.
std::string format_duration(double seconds);

class Progress {
 public:
  // `interactive`: draw a bar (normally isatty(stderr)); `log_every`: steps between lines
  // when not interactive.
  Progress(std::FILE *out, bool interactive, int log_every);
  static bool stderr_is_terminal();

  void step(const StepStatus &status);
  // A whole line (epoch summaries, validation figures); clears the bar first.
  void line(const std::string &text);

 private:
  void clear_bar();

  std::FILE *out_;
  bool interactive_;
  int log_every_;
  bool bar_shown_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace dfd::training
