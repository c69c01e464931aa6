// deepfake-scan: runs deepfakedetect over video files and says which hold fake faces, where,
// and how sure it is, for people (stdout) and programs (JSON lines, a JSON summary, the exit
// status).

#include <gst/gst.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/json_strict.h"
#include "core/model_error.h"
#include "core/model_file.h"
#include "scan/model_hold.h"
#include "scan/scan_file.h"
#include "scan/scan_inputs.h"
#include "scan/scan_json.h"
#include "scan/scan_progress.h"
#include "scan/scan_summary.h"
#include "scan/scan_text.h"
#include "tools/command_line.h"

namespace fs = std::filesystem;
using namespace dfd;
using namespace dfd::scan;

namespace {

constexpr const char *kUsage = R"(Usage: deepfake-scan [OPTIONS] FILE|DIR|GLOB...

Scans video files for deepfaked faces. Each file is decoded completely by GStreamer
(decodebin ! videoconvert ! deepfakedetect ! fakesink, as fast as the machine allows); faces
are found, tracked and scored on every --inference-interval-th frame. For each file it prints
the verdict, the video score by the seed's rule (each track's mean fake probability; the first
track mean above the threshold decides, else the mean of the track means), each track's
score and time span, and the time ranges in which a face was judged fake.

Folders are searched recursively for mp4, m4v, mov, avi, mkv, webm and gif files. Patterns
(quote them, e.g. 'videos/*.gif') are expanded here. Files named directly are scanned
whatever their extension.

Model and analysis:
  --model FILE             model file (default: $DEEPFAKE_MODEL, else the shipped model)
  --device DEV             cpu, cuda or cuda:N (default: cpu)
  --batch-size N           faces per inference batch (default: 8)
  --inference-interval N   analyse every Nth frame (default: 1, every frame)
  --threshold T            a face is fake at or above fake probability T, and so is a video
                           whose score reaches T (default: the model's threshold)
  --jobs N                 scan N files at once, sharing one loaded model (default: 1)

Output:
  --jsonl PATH             one JSON line per analysed frame: the fields of deepfakedetect's
                           `deepfake` message plus gvametaconvert-style "objects". PATH is a
                           folder (it exists, or ends with /) for one NAME.jsonl per file, or
                           a file for all of them in scan order, or - for stdout (the
                           human-readable summary is then left out)
  --summary FILE           a JSON summary of every file (schema gst-deepfake/scan-summary v2)
  --annotate DIR           write DIR/NAME-deepfake.mp4 per file: boxes, labels and relevancy
                           heatmaps drawn by deepfakeoverlay, H.264 (slower: explanations and
                           encoding)
  -q, --quiet              no progress and no per-file summary; errors are still reported
  -h, --help               show this help

Progress goes to stderr: a bar per file (frames, fps, ETA) on a terminal, a line every 10
seconds otherwise. Ctrl-C stops after finishing the open files' outputs.

Exit status (errors take precedence, as with grep):
  0  every file was scanned and none was judged fake (files without faces count as not fake)
  1  at least one file was judged fake, and there was no error
  2  an error: a bad option, an argument that names nothing, an unusable model, or a file that
     could not be decoded (such files are reported and the scan goes on with the others)
  130  interrupted
)";

using dfd::tools::parse_integer;
using dfd::tools::UsageError;

struct Options {
  std::vector<std::string> inputs;
  ScanSettings scan;
  std::optional<double> threshold;
  int jobs = 1;
  std::string jsonl, summary, annotate;
  bool quiet = false;
};

Options parse_options(int argc, char **argv, bool &help) {
  Options o;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (options_done || arg == "-" || arg.empty() || arg[0] != '-') {
      o.inputs.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      help = true;
      return o;
    }
    if (arg == "-q" || arg == "--quiet") {
      o.quiet = true;
      continue;
    }
    const std::optional<std::string> inline_value = dfd::tools::split_inline_value(arg);
    const std::string value = dfd::tools::option_value(arg, inline_value, i, argc, argv);
    if (arg == "--model") {
      o.scan.model = value;
    } else if (arg == "--device") {
      o.scan.device = value;
    } else if (arg == "--batch-size") {
      o.scan.batch_size = static_cast<int>(parse_integer(arg, value, 1, 256));
    } else if (arg == "--inference-interval") {
      o.scan.inference_interval = static_cast<int>(parse_integer(arg, value, 1, 1000000));
    } else if (arg == "--threshold") {
      char *end = nullptr;
      const double t = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(t >= 0.0 && t <= 1.0)) {
        throw UsageError("--threshold needs a probability from 0 to 1, got '" + value + "'");
      }
      o.threshold = t;
    } else if (arg == "--jobs") {
      o.jobs = static_cast<int>(parse_integer(arg, value, 1, 64));
    } else if (arg == "--jsonl") {
      o.jsonl = value;
    } else if (arg == "--summary") {
      o.summary = value;
    } else if (arg == "--annotate") {
      o.annotate = value;
    } else {
      throw UsageError("unknown option '" + arg + "' (see --help)");
    }
    if (value.empty()) throw UsageError(arg + " needs a non-empty value");
  }
  if (o.inputs.empty()) throw UsageError("no file, folder or pattern to scan (see --help)");
  return o;
}

// The signal handler only sets this flag; the scans see it and finish their files with EOS.
std::atomic<bool> interrupt_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

extern "C" void on_interrupt(int) {
  interrupt_requested.store(true);
  // A second Ctrl-C ends the program at once.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

// From a build tree (build/src/scan/deepfake-scan) the plugin built beside it is the one meant,
// not an installed one; pipelines/common.sh does the same for the scripts.
void use_build_tree_plugin() {
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  if (error) return;
  const fs::path plugin_dir = (exe.parent_path() / ".." / ".." / "gst").lexically_normal();
  if (!fs::exists(plugin_dir / "libgstdeepfake.so", error)) return;
  const char *current = std::getenv("GST_PLUGIN_PATH");
  std::string path = plugin_dir.string();
  if (current != nullptr && *current != '\0') path += std::string(":") + current;
  setenv("GST_PLUGIN_PATH", path.c_str(), 1);
}

// The model the elements will open: --model, else the element's default (which honours
// $DEEPFAKE_MODEL and finds the shipped model from a build tree or an install).
std::string resolve_model(const std::string &requested) {
  if (!requested.empty()) return requested;
  GstElement *detect = gst_element_factory_make("deepfakedetect", nullptr);
  if (detect == nullptr) return {};
  gst_object_ref_sink(detect);
  gchar *model = nullptr;
  g_object_get(detect, "model", &model, nullptr);
  std::string path = model != nullptr ? model : "";
  g_free(model);
  gst_object_unref(detect);
  return path;
}

void write_text_file(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw std::runtime_error(path + ": cannot write");
}

// Where the per-file and all-file outputs go, prepared before anything is scanned so that a
// typo in a path fails at once.
class Outputs {
 public:
  Outputs(const Options &o, const std::vector<std::string> &files) {
    if (!o.jsonl.empty()) {
      std::error_code error;
      if (o.jsonl == "-") {
        jsonl_stdout_ = true;
      } else if (o.jsonl.back() == '/' || fs::is_directory(o.jsonl, error)) {
        make_folder(o.jsonl, "--jsonl");
        jsonl_files_ = output_paths(files, o.jsonl, ".jsonl");
      } else {
        jsonl_all_.open(o.jsonl, std::ios::binary | std::ios::trunc);
        if (!jsonl_all_) throw UsageError("--jsonl: cannot write " + o.jsonl);
      }
    }
    if (!o.annotate.empty()) {
      make_folder(o.annotate, "--annotate");
      annotated_ = output_paths(files, o.annotate, "-deepfake.mp4");
      for (size_t i = 0; i < files.size(); ++i) {
        std::error_code error;
        if (fs::equivalent(files[i], annotated_[i], error)) {
          throw UsageError("--annotate would overwrite the input " + files[i]);
        }
      }
    }
  }

  std::string annotated(size_t i) const { return annotated_.empty() ? "" : annotated_[i]; }
  bool jsonl_to_stdout() const { return jsonl_stdout_; }

  // Writes the file's lines; returns the per-file JSONL path, if there is one.
  std::string write_jsonl(size_t i, const FileScan &scan, const std::string &model_name) {
    if (!jsonl_stdout_ && !jsonl_all_.is_open() && jsonl_files_.empty()) return {};
    std::string lines;
    for (const AnalysedFrame &frame : scan.frames) {
      json::dump_to(lines, frame_json(scan, frame, model_name));
      lines += '\n';
    }
    if (jsonl_stdout_) {
      std::fwrite(lines.data(), 1, lines.size(), stdout);
      std::fflush(stdout);
      return {};
    }
    if (jsonl_all_.is_open()) {
      jsonl_all_ << lines;
      jsonl_all_.flush();
      if (!jsonl_all_) throw std::runtime_error("--jsonl: write failed");
      return {};
    }
    write_text_file(jsonl_files_[i], lines);
    return jsonl_files_[i];
  }

 private:
  static void make_folder(const std::string &folder, const std::string &flag) {
    std::error_code error;
    fs::create_directories(folder, error);
    if (!fs::is_directory(folder, error)) throw UsageError(flag + ": cannot make folder " + folder);
  }

  bool jsonl_stdout_ = false;
  std::ofstream jsonl_all_;
  std::vector<std::string> jsonl_files_, annotated_;
};

// Files are handed to `jobs` worker threads; the main thread shows progress and reports each
// file as soon as it and all files before it are done, so the output is in argument order
// whatever the number of jobs.
class Scan {
 public:
  Scan(const Options &o, std::vector<std::string> files, std::string model_path,
       std::string model_name, double threshold, std::string command)
      : o_(o),
        files_(std::move(files)),
        model_path_(std::move(model_path)),
        model_name_(std::move(model_name)),
        threshold_(threshold),
        command_(std::move(command)),
        outputs_(o, files_),
        progress_(files_.size()),
        results_(files_.size()),
        started_(files_.size(), false),
        finished_(files_.size(), false),
        display_(stderr, isatty(STDERR_FILENO) == 1, std::chrono::seconds(10)) {
    settings_ = o.scan;
    settings_.model = model_path_;
    settings_.threshold = threshold_;
    settings_.instance_id = "deepfake-scan";
    for (auto &p : progress_) p = std::make_unique<ScanProgress>();
  }

  // Returns the exit status.
  int run(const std::vector<std::string> &input_errors) {
    const auto begin = std::chrono::steady_clock::now();
    const ModelHold model(settings_);
    std::vector<std::thread> workers;
    const size_t jobs = std::min(files_.size(), static_cast<size_t>(o_.jobs));
    for (size_t j = 0; j < jobs; ++j) workers.emplace_back([this] { work(); });
    try {
      size_t reported = 0;
      while (reported < files_.size()) {
        {
          std::unique_lock<std::mutex> lock(mutex_);
          done_.wait_for(lock, std::chrono::milliseconds(100));
        }
        reported = report_ready(reported);
        if (!o_.quiet) display_.update(active_files());
        // Files not yet started are left; the open ones finish (EOS) and are reported.
        if (interrupt_requested.load() && all_workers_idle()) break;
      }
      for (std::thread &worker : workers) worker.join();
      report_ready(reported);
    } catch (...) {
      // An output could not be written: stop the scans the way Ctrl-C does, then report it.
      interrupt_requested.store(true);
      for (std::thread &worker : workers) {
        if (worker.joinable()) worker.join();
      }
      throw;
    }
    display_.clear();

    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    const Totals total = totals(summaries_, wall);
    if (print_human() && files_.size() > 1) std::printf("%s", totals_text(total).c_str());
    std::fflush(stdout);
    const bool interrupted = interrupt_requested.load();
    if (interrupted) std::fprintf(stderr, "deepfake-scan: interrupted\n");
    int status = 0;
    if (interrupted) {
      status = 130;
    } else if (!input_errors.empty() || total.errors > 0) {
      status = 2;
    } else if (total.fake > 0) {
      status = 1;
    }
    if (!o_.summary.empty()) write_summary(input_errors, total, status);
    return status;
  }

 private:
  bool print_human() const { return !o_.quiet && !outputs_.jsonl_to_stdout(); }

  void work() {
    for (;;) {
      if (interrupt_requested.load()) return;
      const size_t i = next_.fetch_add(1);
      if (i >= files_.size()) return;
      ScanSettings settings = settings_;
      settings.annotate_path = outputs_.annotated(i);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        progress_[i]->started = std::chrono::steady_clock::now();
        started_[i] = true;
      }
      FileScan scan = scan_file(files_[i], settings, *progress_[i], interrupt_requested);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        results_[i] = std::move(scan);
        finished_[i] = true;
      }
      done_.notify_all();
    }
  }

  bool all_workers_idle() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 0; i < files_.size(); ++i) {
      if (started_[i] && !finished_[i]) return false;
    }
    return true;
  }

  std::vector<ActiveFile> active_files() {
    std::vector<ActiveFile> out;
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 0; i < files_.size(); ++i) {
      if (started_[i] && !finished_[i]) {
        out.push_back({i + 1, files_.size(), files_[i], progress_[i].get()});
      }
    }
    return out;
  }

  // Reports files [from, ...) that are done, stopping at the first that is not.
  size_t report_ready(size_t from) {
    for (;;) {
      std::optional<FileScan> scan;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (from >= files_.size() || !results_[from]) return from;
        scan = std::move(results_[from]);
        results_[from].reset();
      }
      report(from, *scan);
      ++from;
    }
  }

  void report(size_t i, const FileScan &scan) {
    display_.clear();
    FileSummary summary = summarise(scan, threshold_);
    json::Value record = summary_json(summary);
    // A file that failed before its first analysed frame gets no (empty) JSONL file.
    const std::string jsonl = scan.error.empty() || !scan.frames.empty()
                                  ? outputs_.write_jsonl(i, scan, model_name_)
                                  : std::string();
    record["jsonl"] = jsonl.empty() ? json::Value() : json::Value(jsonl);
    const std::string annotated = outputs_.annotated(i);
    record["annotated"] =
        annotated.empty() || scan.frames_decoded == 0 ? json::Value() : json::Value(annotated);
    if (!summary.error.empty()) {
      std::fprintf(stderr, "deepfake-scan: %s: %s\n", scan.path.c_str(), summary.error.c_str());
    }
    if (print_human()) {
      std::printf("%s", summary_text(summary).c_str());
      std::fflush(stdout);
    }
    summaries_.push_back(std::move(summary));
    records_.push_back(std::move(record));
  }

  void write_summary(const std::vector<std::string> &input_errors, const Totals &total,
                     int status) {
    json::Object model;
    model["path"] = model_path_;
    model["name"] = model_name_;
    json::Object report;
    report["schema"] = kSummarySchema;
    report["version"] = kSummaryVersion;
    report["command"] = command_;
    report["model"] = std::move(model);
    report["threshold"] = threshold_;
    report["inference_interval"] = settings_.inference_interval;
    report["batch_size"] = settings_.batch_size;
    report["device"] = settings_.device;
    report["jobs"] = o_.jobs;
    report["files"] = json::Array(records_.begin(), records_.end());
    json::Array errors;
    for (const std::string &e : input_errors) errors.push_back(e);
    report["input_errors"] = std::move(errors);
    report["totals"] = totals_json(total);
    report["exit_status"] = status;
    write_text_file(o_.summary, json::dump(report) + "\n");
  }

  const Options &o_;
  const std::vector<std::string> files_;
  const std::string model_path_, model_name_;
  const double threshold_;
  const std::string command_;
  ScanSettings settings_;
  Outputs outputs_;

  std::vector<std::unique_ptr<ScanProgress>> progress_;
  std::mutex mutex_;
  std::condition_variable done_;
  std::atomic<size_t> next_{0};
  // Under mutex_: a result waits in results_ until it is reported.
  std::vector<std::optional<FileScan>> results_;
  std::vector<bool> started_, finished_;
  ProgressDisplay display_;
  std::vector<FileSummary> summaries_;
  std::vector<json::Value> records_;
};

}  // namespace

int main(int argc, char **argv) {
  dfd::tools::restart_with_passive_openmp_wait(argv);
  std::string command = "deepfake-scan";
  for (int i = 1; i < argc; ++i) command += " " + dfd::tools::shell_quote(argv[i]);
  Options options;
  try {
    bool help = false;
    options = parse_options(argc, argv, help);
    if (help) {
      std::fputs(kUsage, stdout);
      return 0;
    }
  } catch (const UsageError &e) {
    std::fprintf(stderr, "deepfake-scan: %s\n", e.what());
    return 2;
  }

  const InputFiles inputs = expand_inputs(options.inputs);
  for (const std::string &error : inputs.errors) {
    std::fprintf(stderr, "deepfake-scan: %s\n", error.c_str());
  }
  if (inputs.files.empty()) {
    std::fprintf(stderr, "deepfake-scan: no file to scan\n");
    return 2;
  }

  use_build_tree_plugin();
  gst_init(nullptr, nullptr);
  if (GstElementFactory *factory = gst_element_factory_find("deepfakedetect")) {
    gst_object_unref(factory);
  } else {
    std::fprintf(stderr,
                 "deepfake-scan: the deepfakedetect element is not available: install the "
                 "project (meson install), or set GST_PLUGIN_PATH to a build's gst folder\n");
    return 2;
  }
  try {
    const std::string model_path = resolve_model(options.scan.model);
    const ModelFile model = ModelFile::open(model_path);
    const ModelConfig &config = model.config();
    const double threshold = options.threshold.value_or(config.threshold);
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
    Scan scan(options, inputs.files, model_path, config.name.empty() ? model_path : config.name,
              threshold, command);
    return scan.run(inputs.errors);
  } catch (const UsageError &e) {
    std::fprintf(stderr, "deepfake-scan: %s\n", e.what());
    return 2;
  } catch (const ModelError &e) {
    std::fprintf(stderr, "deepfake-scan: %s\n", e.what());
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "deepfake-scan: %s\n", e.what());
    return 2;
  }
}
