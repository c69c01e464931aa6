// The human-readable side of a scan: times as HH:MM:SS.mmm and the per-file summary printed
// on stdout.
#pragma once

#include <string>
#include <vector>

#include "scan/scan_summary.h"

namespace dfd::scan {

// "01:02:03.456"; "--:--:--.---" for a negative or non-finite time.
std::string format_clock(double seconds);

// A few lines: the verdict and score, the figures, each track, each fake range.
std::string summary_text(const FileSummary &summary);

struct Totals {
  size_t files = 0, fake = 0, real = 0, no_face = 0, errors = 0;
  uint64_t frames_decoded = 0, frames_analysed = 0, faces = 0;
  double wall_seconds = 0.0;  // of the whole scan, not the sum over files
};
Totals totals(const std::vector<FileSummary> &summaries, double wall_seconds);
std::string totals_text(const Totals &totals);

}  // namespace dfd::scan
