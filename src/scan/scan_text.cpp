#include "scan/scan_text.h"

#include <cmath>
#include <cstdarg>
#include <cstdio>

namespace dfd::scan {

namespace {

std::string printf_string(const char *format, ...) __attribute__((format(printf, 1, 2)));

std::string printf_string(const char *format, ...) {
  char buffer[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  return buffer;
}

std::string range_text(double start, double end) {
  return format_clock(start) + " - " + format_clock(end) +
         printf_string(" (%.3f-%.3f s)", start, end);
}

}  // namespace

std::string format_clock(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--:--.---";
  const long long ms = std::llround(seconds * 1000.0);
  return printf_string("%02lld:%02lld:%02lld.%03lld", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60,
                       ms % 1000);
}

std::string summary_text(const FileSummary &s) {
  std::string out = s.path + ": ";
  if (s.verdict == Verdict::Error) {
    out += s.interrupted ? "INTERRUPTED" : "ERROR: " + s.error;
  } else if (s.verdict == Verdict::NoFace) {
    out += "no face found";
  } else {
    out += s.verdict == Verdict::Fake ? "FAKE" : "real";
  }
  if (s.score) {
    // After an error the figures are those of the part analysed before it.
    out += s.verdict == Verdict::Error ? "\n  before it:" : "";
    out += printf_string(" (video score %.3f, threshold %.3f", *s.score, s.threshold);
    out += s.deciding_track ? printf_string(", decided by track %llu)",
                                            static_cast<unsigned long long>(*s.deciding_track))
                            : ", mean of the tracks)";
  }
  out += "\n";
  out += printf_string("  %dx%d", s.width, s.height);
  if (s.duration) out += ", " + format_clock(*s.duration);
  out +=
      printf_string(", %llu frames decoded, %llu analysed, %llu faces scored; %.1f s (%.1f fps)\n",
                    static_cast<unsigned long long>(s.frames_decoded),
                    static_cast<unsigned long long>(s.frames_analysed),
                    static_cast<unsigned long long>(s.faces), s.wall_seconds, s.fps);
  for (const TrackSummary &t : s.tracks) {
    out += printf_string("  track %llu: score %.3f over %zu frames (%zu fake), ",
                         static_cast<unsigned long long>(t.object_id), t.score, t.frames,
                         t.fake_frames) +
           range_text(t.first, t.last) + "\n";
  }
  for (const FakeRange &r : s.fake_ranges) {
    std::string ids;
    for (const uint64_t id : r.object_ids) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    out += "  fake: " + range_text(r.start, r.end) +
           printf_string(", %zu analysed frames, max score %.3f, track %s\n", r.frames, r.max_score,
                         ids.c_str());
  }
  return out;
}

Totals totals(const std::vector<FileSummary> &summaries, double wall_seconds) {
  Totals t;
  t.files = summaries.size();
  t.wall_seconds = wall_seconds;
  for (const FileSummary &s : summaries) {
    switch (s.verdict) {
      case Verdict::Fake:
        ++t.fake;
        break;
      case Verdict::Real:
        ++t.real;
        break;
      case Verdict::NoFace:
        ++t.no_face;
        break;
      case Verdict::Error:
        ++t.errors;
        break;
    }
    t.frames_decoded += s.frames_decoded;
    t.frames_analysed += s.frames_analysed;
    t.faces += s.faces;
  }
  return t;
}

std::string totals_text(const Totals &t) {
  const double fps = t.wall_seconds > 0 ? t.frames_decoded / t.wall_seconds : 0.0;
  return printf_string(
      "%zu file(s): %zu fake, %zu real, %zu without faces, %zu error(s); %llu frames decoded, "
      "%llu analysed, %llu faces in %.1f s (%.1f fps)\n",
      t.files, t.fake, t.real, t.no_face, t.errors,
      static_cast<unsigned long long>(t.frames_decoded),
      static_cast<unsigned long long>(t.frames_analysed), static_cast<unsigned long long>(t.faces),
      t.wall_seconds, fps);
}

}  // namespace dfd::scan
