// deepfake-eval: scores labelled faces and videos with a detector and reports what a model
// card needs: frame- and video-level AUC, accuracy, F1, precision and recall per method, a
// ROC figure, the deletion test of its explanations, and a JSON record of all of it.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/core/utils/logger.hpp>

#include "analysis/face_detector.h"
#include "core/batcher.h"
#include "core/engine.h"
#include "core/json_strict.h"
#include "core/model_error.h"
#include "core/model_file.h"
#include "evaluation/attention_rollout.h"
#include "evaluation/deletion_test.h"
#include "evaluation/eval_dataset.h"
#include "evaluation/eval_report.h"
#include "evaluation/localisation.h"
#include "evaluation/method_table.h"
#include "evaluation/roc_plot.h"
#include "evaluation/token_removal.h"
#include "evaluation/video_files.h"
#include "evaluation/video_score.h"
#include "imaging/preprocess.h"
#include "tools/command_line.h"
#include "training/dataset.h"
#include "training/examples.h"
#include "training/train_config.h"
#include "training/validation.h"

#ifndef DFD_VERSION
#define DFD_VERSION "unknown"
#endif

namespace fs = std::filesystem;
using namespace dfd;
using namespace dfd::eval;

namespace {

constexpr const char *kUsage = R"(Usage: deepfake-eval [OPTIONS] INPUT...

Scores labelled face images (and videos) with a deepfake detector and reports frame- and
video-level AUC, accuracy, F1, precision, recall and confusion counts, overall and per fake
method (each method against all the reals, as the seed's results table), a ROC figure, and
optionally the deletion test of the explanations.

Inputs (at least one; they combine):
  --data DIR             labelled folder: DIR/real and DIR/fake (repeatable)
  --real DIR             folder of real faces (repeatable)
  --fake DIR             folder of fake faces (repeatable)
  --csv FILE             the seed's sample list (label 1 fake / 0 real, example_file_name;
                         frames group into videos by video_name)
  --images DIR           where --csv's files are (default: the CSV's folder)
  --videos LABEL=DIR     video files (mp4, mov, avi, mkv, webm, gif) under DIR; LABEL "real"
                         or a fake method name, e.g. real=videos/real generated=videos/generated
                         (repeatable; decoded as deepfakedetect gets them, faces found every
                         --frame-step frames, tracked and scored by deepfakedetect's own
                         analysis path, videos scored by the seed's video rule; with
                         --frame-step 1 --frames-per-video 0 each track's mean equals
                         deepfake-scan's)
  --self-blend           add each selected real's self-blended pseudo-fake (method
                         "self-blended"), made exactly as deepfake-train's validation makes
                         them: seeded by the file name, with the training config's settings
  --pseudo-fakes KINDS   the same for a comma-separated list of self-blend, cross-swap
                         (another real's face warped on, method "cross-identity swap") and
                         lowres-swap (the face through a low-resolution bottleneck, method
                         "low-resolution swap")

Folders are searched recursively. A fake's method is its first subfolder under the fake
folder (fake/eyes/x.jpg -> "eyes"); for files directly in it, the file name's part before
the first '_' with --method-from-prefix (the seed's rule, always used for --csv), else the
data set's name (the folder above fake/: "faces/yonsei/fake" -> "yonsei").

Selection:
  --split S              train, validation or all (default: validation): deepfake-train's
                         split by a hash of each file's base name, for face images
  --video-split S        the same for --videos files (default: all, because deepfake-train
                         trains on image folders only, so no video file was trained on)
  --val-percent N        the split's share (default: the model's training config, else 20)
  --method-from-prefix   see above
  --group-by-folder      frames are faces from videos: a frame's video is its folder, its
                         identity the number after the last '_' of its stem (the seed's
                         <frame>_<face>.png crops), and video-level figures are reported
                         (the split stays per file name, as deepfake-train's; use --split
                         all for videos that were never trained on)

Model and preprocessing:
  --model FILE           model file (default: $DEEPFAKE_MODEL, else the shipped model)
  --device DEV           cpu, cuda or cuda:N (default: cpu)
  --threads N            LibTorch CPU threads (default: one per core)
  --batch-size N         faces per forward pass (default: 16)
  --threshold T          fake when probability >= T (default: the model's threshold); the
                         video rule takes the first identity mean above T
  --train-config FILE    crop, margin, split and self-blend settings (default: the training
                         config recorded in the model by deepfake-train, else built-in defaults)
  --crop MODE            face (crop by the detected face box, as training and the element do)
                         or image (the whole image); default: the training config's
  --crop-margin M        face-box margin (default: the training config's)
  --landmark-cache FILE  reuse and extend this landmark cache (deepfake-train's format)

Videos:
  --frames-per-video N   faces are looked for in N frames per video (default: 32; 0: every
                         step-th frame of the whole video)
  --frame-step N         analyse every Nth frame (default: spread the N frames evenly over
                         the video by its frame count; every 10th when the count is unknown)

Deletion test (explanation faithfulness):
  --deletion N           run it on N images spread evenly over the fake images (default: 0,
                         off); the fake logit is recorded while the most relevant cells are
                         hidden first, against plain attention rollout and random orders,
                         twice: cells hidden in the input image (pixels: backbone and
                         transformer), and the cells' tokens removed from the transformer's
                         input (tokens: what the relevancy map explains)
  --deletion-on SET      fake (default) or all images
  --deletion-steps S     curve points after the unmasked one (default: 10)
  --deletion-random R    random orders averaged (default: 3)
  --deletion-fill F      pixels: mean (default: the input's mean colour), zero or blur
  --deletion-seed N      seed of the random orders (default: 1)
  --no-rollout           skip the attention-rollout order

Operating point and localisation:
  --false-alarm-rate R   also report the threshold that flags at most this share of the
                         selected reals (0 < R < 1) and what it catches (the threshold in use
                         is always reported with its false-alarm rate)
  --calibration-scope S  the threshold --write-calibrated takes: pooled (the rate over all
                         the selected reals, default) or every-source (the rate held on each
                         data set's reals alone: the highest of their thresholds)
  --write-calibrated OUT a copy of the model with that threshold, for the element's verdicts
                         and alerts, and the calibration recorded in its training record
                         (weights unchanged; needs --false-alarm-rate)
  --localisation N       score the relevancy maps of N pseudo-fakes per kind (of those asked
                         for with --pseudo-fakes or --self-blend) against their blend masks:
                         the share of the map's mass on changed cells and how often the top
                         cell is a changed one, beside attention rollout and random maps
                         (spatial models only)
  --localisation-random R  random maps averaged per image (default: 10)

Output:
  --json FILE            the report (schema gst-deepfake/eval-report v1; see
                         src/evaluation/eval_report.h)
  --roc FILE             ROC figure (PNG) with the AUC of each curve in its legend
  --roc-size WxH         its size in pixels (default: 800x640)
  -h, --help             show this help

Tables go to stdout in the seed's layout (| Test | Accuracy | F1 | AUC |), progress to stderr.

Exit status: 0 on success (unreadable images and videos without faces are skipped, listed
and counted), 2 for bad arguments, a missing or empty input, an unusable model or config,
1 for other failures (nothing could be scored, device, output).
)";

using dfd::tools::parse_integer;
using dfd::tools::parse_number;
using dfd::tools::UsageError;

struct VideoDir {
  std::string label;  // "real" or a fake method
  std::string dir;
};

struct Options {
  std::vector<std::string> data, real, fake;
  std::optional<std::string> csv, images;
  std::vector<VideoDir> videos;
  std::vector<training::FakeKind> pseudo_fakes;  // --self-blend, --pseudo-fakes
  std::optional<double> false_alarm_rate;
  training::CalibrationScope calibration_scope = training::CalibrationScope::Pooled;
  std::string write_calibrated;
  int localisation = 0;
  int localisation_random = 10;
  Split split = Split::Validation;
  Split video_split = Split::All;
  std::optional<int> val_percent;
  bool method_from_prefix = false;
  bool group_by_folder = false;
  std::optional<std::string> model;
  std::string device = "cpu";
  int threads = 0;
  int batch_size = 16;
  std::optional<double> threshold;
  std::optional<std::string> train_config;
  std::optional<std::string> crop;
  std::optional<double> crop_margin;
  std::string landmark_cache;
  int frame_step = 0;
  int frames_per_video = 32;
  int deletion = 0;
  bool deletion_all = false;
  int deletion_steps = 10;
  int deletion_random = 3;
  DeletionFill deletion_fill = DeletionFill::Mean;
  uint64_t deletion_seed = 1;
  bool rollout = true;
  std::string json, roc;
  int roc_width = 800, roc_height = 640;
};

void add_pseudo_fake(Options &o, training::FakeKind kind) {
  if (std::find(o.pseudo_fakes.begin(), o.pseudo_fakes.end(), kind) == o.pseudo_fakes.end()) {
    o.pseudo_fakes.push_back(kind);
  }
}

// The method name of a pseudo-fake kind in tables and records.
std::string pseudo_fake_method(training::FakeKind kind) {
  return training::validation_kind_name(
      kind == training::FakeKind::CrossSwap    ? training::ValidationSet::Kind::CrossSwap
      : kind == training::FakeKind::LowResSwap ? training::ValidationSet::Kind::LowResSwap
                                               : training::ValidationSet::Kind::SelfBlend);
}

Options parse_options(int argc, char **argv, bool &help) {
  Options o;
  static const std::set<std::string> kFlags = {"--self-blend", "--method-from-prefix",
                                               "--group-by-folder", "--no-rollout"};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      help = true;
      return o;
    }
    if (arg.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + arg + "' (see --help)");
    if (kFlags.count(arg)) {
      if (arg == "--self-blend") add_pseudo_fake(o, training::FakeKind::SelfBlend);
      if (arg == "--method-from-prefix") o.method_from_prefix = true;
      if (arg == "--group-by-folder") o.group_by_folder = true;
      if (arg == "--no-rollout") o.rollout = false;
      continue;
    }
    const std::optional<std::string> inline_value = tools::split_inline_value(arg);
    const std::string value = tools::option_value(arg, inline_value, i, argc, argv);
    if (arg == "--data") {
      o.data.push_back(value);
    } else if (arg == "--pseudo-fakes") {
      size_t start = 0;
      while (start <= value.size()) {
        const size_t comma = std::min(value.find(',', start), value.size());
        const std::string kind = value.substr(start, comma - start);
        if (kind == "self-blend") {
          add_pseudo_fake(o, training::FakeKind::SelfBlend);
        } else if (kind == "cross-swap") {
          add_pseudo_fake(o, training::FakeKind::CrossSwap);
        } else if (kind == "lowres-swap") {
          add_pseudo_fake(o, training::FakeKind::LowResSwap);
        } else {
          throw UsageError("--pseudo-fakes takes self-blend, cross-swap and lowres-swap, got '" +
                           kind + "'");
        }
        start = comma + 1;
      }
    } else if (arg == "--false-alarm-rate") {
      o.false_alarm_rate = parse_number(arg, value);
      if (!(*o.false_alarm_rate > 0.0 && *o.false_alarm_rate < 1.0)) {
        throw UsageError("--false-alarm-rate must lie between 0 and 1");
      }
    } else if (arg == "--calibration-scope") {
      if (value == "pooled") {
        o.calibration_scope = training::CalibrationScope::Pooled;
      } else if (value == "every-source") {
        o.calibration_scope = training::CalibrationScope::EverySource;
      } else {
        throw UsageError("--calibration-scope must be pooled or every-source, got '" + value + "'");
      }
    } else if (arg == "--write-calibrated") {
      o.write_calibrated = value;
    } else if (arg == "--localisation") {
      o.localisation = static_cast<int>(parse_integer(arg, value, 1));
    } else if (arg == "--localisation-random") {
      o.localisation_random = static_cast<int>(parse_integer(arg, value, 1));
    } else if (arg == "--real") {
      o.real.push_back(value);
    } else if (arg == "--fake") {
      o.fake.push_back(value);
    } else if (arg == "--csv") {
      o.csv = value;
    } else if (arg == "--images") {
      o.images = value;
    } else if (arg == "--videos") {
      const size_t sep = value.find('=');
      if (sep == std::string::npos || sep == 0 || sep + 1 == value.size()) {
        throw UsageError("--videos needs LABEL=DIR, got '" + value + "'");
      }
      o.videos.push_back({value.substr(0, sep), value.substr(sep + 1)});
    } else if (arg == "--split") {
      try {
        o.split = parse_split(value);
      } catch (const std::invalid_argument &e) {
        throw UsageError(std::string("--split: ") + e.what());
      }
    } else if (arg == "--video-split") {
      try {
        o.video_split = parse_split(value);
      } catch (const std::invalid_argument &e) {
        throw UsageError(std::string("--video-split: ") + e.what());
      }
    } else if (arg == "--val-percent") {
      o.val_percent = static_cast<int>(parse_integer(arg, value, 0));
      if (*o.val_percent > 100) throw UsageError("--val-percent must be at most 100");
    } else if (arg == "--model") {
      o.model = value;
    } else if (arg == "--device") {
      o.device = value;
    } else if (arg == "--threads") {
      o.threads = static_cast<int>(parse_integer(arg, value, 1));
    } else if (arg == "--batch-size") {
      o.batch_size = static_cast<int>(parse_integer(arg, value, 1));
    } else if (arg == "--threshold") {
      o.threshold = parse_number(arg, value);
    } else if (arg == "--train-config") {
      o.train_config = value;
    } else if (arg == "--crop") {
      if (value != "face" && value != "image") throw UsageError("--crop must be face or image");
      o.crop = value;
    } else if (arg == "--crop-margin") {
      o.crop_margin = parse_number(arg, value);
      if (*o.crop_margin < 0) throw UsageError("--crop-margin must not be negative");
    } else if (arg == "--landmark-cache") {
      o.landmark_cache = value;
    } else if (arg == "--frame-step") {
      o.frame_step = static_cast<int>(parse_integer(arg, value, 1));
    } else if (arg == "--frames-per-video") {
      o.frames_per_video = static_cast<int>(parse_integer(arg, value, 0));
    } else if (arg == "--deletion") {
      o.deletion = static_cast<int>(parse_integer(arg, value, 0));
    } else if (arg == "--deletion-on") {
      if (value != "fake" && value != "all") throw UsageError("--deletion-on must be fake or all");
      o.deletion_all = value == "all";
    } else if (arg == "--deletion-steps") {
      o.deletion_steps = static_cast<int>(parse_integer(arg, value, 1));
    } else if (arg == "--deletion-random") {
      o.deletion_random = static_cast<int>(parse_integer(arg, value, 1));
    } else if (arg == "--deletion-fill") {
      try {
        o.deletion_fill = parse_deletion_fill(value);
      } catch (const std::invalid_argument &e) {
        throw UsageError(e.what());
      }
    } else if (arg == "--deletion-seed") {
      o.deletion_seed = static_cast<uint64_t>(parse_integer(arg, value, 0));
    } else if (arg == "--json") {
      o.json = value;
    } else if (arg == "--roc") {
      o.roc = value;
    } else if (arg == "--roc-size") {
      const size_t x = value.find('x');
      if (x == std::string::npos) throw UsageError("--roc-size needs WxH, got '" + value + "'");
      o.roc_width = static_cast<int>(parse_integer(arg, value.substr(0, x), 200));
      o.roc_height = static_cast<int>(parse_integer(arg, value.substr(x + 1), 150));
    } else {
      throw UsageError("unknown option '" + arg + "' (see --help)");
    }
  }
  if (o.images && !o.csv) throw UsageError("--images goes with --csv");
  if (!o.write_calibrated.empty() && !o.false_alarm_rate) {
    throw UsageError("--write-calibrated needs --false-alarm-rate");
  }
  if (o.data.empty() && o.real.empty() && o.fake.empty() && !o.csv && o.videos.empty()) {
    throw UsageError("nothing to evaluate: give --data, --real/--fake, --csv or --videos");
  }
  return o;
}

void progress(const std::string &line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

std::string fixed(double value, int decimals) {
  if (!std::isfinite(value)) return "n/a";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

// The preprocessing and split settings: deepfake-train's own, so that eval crops, splits and
// self-blends exactly as the model's validation did.
training::TrainConfig preprocessing_config(const Options &o, const ModelConfig &model,
                                           std::string &origin) {
  training::TrainConfig config;
  if (o.train_config) {
    config = training::load_train_config(*o.train_config);
    origin = "training config " + *o.train_config;
  } else if (const json::Value *recorded = json::find(model.training, "config");
             recorded && recorded->is_object()) {
    try {
      config = training::parse_train_config(*recorded, "the model's training record");
      origin = "the model's training record";
    } catch (const training::ConfigError &e) {
      progress(std::string("warning: ") + e.what() + "; using built-in defaults");
      config = training::TrainConfig{};
      origin = "built-in defaults (the model's training record did not parse)";
    }
  } else {
    origin = "built-in defaults (the model has no training record)";
  }
  config.model = model;  // the loaded model decides the input geometry and colour order
  if (o.val_percent) config.data.val_percent = *o.val_percent;
  if (o.crop) {
    config.data.crop = *o.crop == "face" ? training::CropMode::FaceBox : training::CropMode::Image;
  }
  if (o.crop_margin) config.data.crop_margin = *o.crop_margin;
  return config;
}

training::ImageEntry to_entry(const Sample &s) {
  training::ImageEntry e;
  e.path = s.path;
  e.name = s.name;
  e.folder = s.source;
  e.fake = s.fake;
  e.validation = s.validation;
  return e;
}

// Scores `entries` with `make` (a validation or self-blend example maker) in batches.
struct Scored {
  size_t index = 0;  // into the entries given
  float logit = 0.f;
};

template <typename Make>
std::vector<Scored> score_examples(Engine &engine, const std::vector<training::ImageEntry> &entries,
                                   int batch_size, const std::string &what, Make make,
                                   std::vector<std::pair<std::string, std::string>> &skipped) {
  const int size = engine.config().image_size;
  const size_t face_bytes = static_cast<size_t>(size) * size * 3;
  std::vector<Scored> out;
  std::vector<uint8_t> batch;
  std::vector<size_t> members;
  size_t next_report = 256;
  const auto flush = [&]() {
    if (members.empty()) return;
    const std::vector<Prediction> p = engine.infer(batch.data(), members.size(), false);
    for (size_t i = 0; i < members.size(); ++i) out.push_back({members[i], p[i].logit});
    batch.clear();
    members.clear();
    if (out.size() >= next_report) {
      progress("  " + what + ": " + std::to_string(out.size()) + " of " +
               std::to_string(entries.size()) + " scored");
      next_report += 256;
    }
  };
  for (size_t i = 0; i < entries.size(); ++i) {
    cv::Mat image;
    try {
      image = make(entries[i]).image;
    } catch (const std::exception &e) {
      skipped.emplace_back(entries[i].path, what + ": " + e.what());
      continue;
    }
    if (!image.isContinuous()) image = image.clone();
    batch.insert(batch.end(), image.data, image.data + face_bytes);
    members.push_back(i);
    if (members.size() >= static_cast<size_t>(batch_size)) flush();
  }
  flush();
  return out;
}

std::vector<MethodScore> method_scores(const std::vector<VideoResult> &videos) {
  std::vector<MethodScore> out;
  for (const VideoResult &v : videos) {
    if (v.score) out.push_back({v.score->score, v.fake, v.method});
  }
  return out;
}

void print_table(const std::string &title, const MethodTable &table) {
  std::printf("\n%s\n%s", title.c_str(), format_table(table, false).c_str());
  const BinaryMetrics &m = table.overall.metrics;
  std::printf("%s: %zu real, %zu fake; TP %zu, FP %zu, TN %zu, FN %zu; precision %s, recall %s\n",
              table.overall.name.c_str(), m.real, m.fake, m.confusion.tp, m.confusion.fp,
              m.confusion.tn, m.confusion.fn, fixed(m.precision, 4).c_str(),
              fixed(m.recall, 4).c_str());
}

std::vector<RocPoint> curve_or_empty(const std::vector<MethodScore> &scores,
                                     const std::string &method) {
  std::vector<LabelledScore> subset;
  for (const MethodScore &s : scores) {
    if (!s.fake || method.empty() || s.method == method) subset.push_back({s.score, s.fake});
  }
  try {
    return roc_curve(subset);
  } catch (const std::invalid_argument &) {
    return {};
  }
}

// One evaluation, stage by stage; each stage adds its part to the report.
class Evaluation {
 public:
  Evaluation(const Options &o, const std::string &command)
      : o_(o),
        model_path_(o.model ? *o.model : default_model_path()),
        engine_(load_engine(o, model_path_)),
        model_(engine_->config()),
        threshold_(o.threshold ? *o.threshold : model_.threshold),
        config_(preprocessing_config(o, model_, config_origin_)) {
    report_.command = command;
  }

  int run() {
    describe();
    collect_images();
    score_images();
    score_video_files();
    summarise_videos();
    if (frame_scores_.empty() && video_scores_.empty()) {
      throw std::runtime_error("nothing was scored (see the skipped inputs above)");
    }
    if (o_.deletion > 0) deletion_test();
    if (o_.localisation > 0) localisation();
    write_outputs();
    return 0;
  }

 private:
  static std::unique_ptr<Engine> load_engine(const Options &o, const std::string &path) {
    EngineOptions options;
    options.device = o.device;
    options.threads = o.threads;
    return Engine::load(path, options);
  }

  bool face_crop() const { return config_.data.crop == training::CropMode::FaceBox; }

  void describe() {
    report_.tool_version = DFD_VERSION;
    report_.model = {model_path_,     model_.name, architecture_name(model_.architecture),
                     model_.source,   o_.device,   model_.image_size,
                     model_.threshold};
    report_.threshold = threshold_;
    report_.split = split_name(o_.split);
    if (!o_.videos.empty()) report_.video_split = split_name(o_.video_split);
    report_.val_percent = config_.data.val_percent;
    json::Value pre;
    pre["crop"] = face_crop() ? std::string("face box (") +
                                    training::detector_kind_name(config_.data.face_detector) +
                                    " detector, seed_square_box)"
                              : std::string("image");
    pre["crop_margin"] = config_.data.crop_margin;
    pre["settings_from"] = config_origin_;
    pre["input"] = "isotropic resize and centred zero padding to " +
                   std::to_string(model_.image_size) + " px (imaging/preprocess.h)";
    if (!o_.pseudo_fakes.empty()) {
      json::Array kinds;
      for (const training::FakeKind k : o_.pseudo_fakes) kinds.emplace_back(pseudo_fake_method(k));
      pre["pseudo_fakes"] = std::move(kinds);
      pre["pseudo_fake_rule"] =
          "deepfake-train's validation pseudo-fakes: one per selected real, seeded by its file "
          "name, with the training config's settings; a cross swap's donor is another selected "
          "real";
    }
    if (!o_.videos.empty()) {
      json::Value v;
      v["frames_per_video"] = o_.frames_per_video;
      v["frame_step"] = o_.frame_step > 0 ? json::Value(o_.frame_step)
                                          : json::Value("frame count / frames_per_video");
      v["detector"] =
          "deepfakedetect's analysis path (analysis/face_analyzer.h) with its default detector, "
          "YuNet; identities are its tracks";
      pre["videos"] = std::move(v);
    }
    report_.preprocessing = std::move(pre);

    std::printf("deepfake-eval %s\n", DFD_VERSION);
    std::printf("model: %s (%s, %s, %d px, threshold %s%s)\n", model_path_.c_str(),
                model_.name.empty() ? "unnamed" : model_.name.c_str(),
                architecture_name(model_.architecture), model_.image_size,
                fixed(threshold_, 2).c_str(), o_.threshold ? ", from --threshold" : "");
    const std::string video_split =
        o_.videos.empty() ? ""
                          : std::string(", ") + split_name(o_.video_split) + " for video files";
    std::printf("split: %s for face images%s (val_percent %d, deepfake-train's file-name split)\n",
                split_name(o_.split), video_split.c_str(), config_.data.val_percent);
    std::printf("preprocessing: %s crop, margin %s; settings from %s\n",
                face_crop() ? "face-box" : "whole-image",
                fixed(config_.data.crop_margin, 3).c_str(), config_origin_.c_str());
  }

  void collect_images() {
    FolderOptions folder;
    folder.method_rule = o_.method_from_prefix ? MethodRule::FilePrefix : MethodRule::Folder;
    folder.grouping = o_.group_by_folder ? FrameGrouping::ByFolder : FrameGrouping::None;
    folder.val_percent = config_.data.val_percent;
    folder.split = o_.split;
    try {
      for (const std::string &dir : o_.data) add_labelled_folder(set_, dir, folder);
      for (const std::string &dir : o_.real) add_class_folder(set_, dir, false, folder);
      for (const std::string &dir : o_.fake) add_class_folder(set_, dir, true, folder);
      if (o_.csv) {
        const std::string images =
            o_.images ? *o_.images : fs::path(*o_.csv).parent_path().string();
        add_seed_csv(set_, *o_.csv, images.empty() ? "." : images, folder);
      }
    } catch (const std::runtime_error &e) {
      throw UsageError(e.what());  // a missing or empty input folder is a wrong argument
    }
    report_.datasets = set_.sources;
    for (const SourceSummary &s : set_.sources) {
      std::printf("data: %s (%s, %s): %zu of %zu files in the split\n", s.path.c_str(),
                  s.kind.c_str(), s.label.c_str(), s.selected, s.files);
    }
    // The maker preprocesses exactly as deepfake-train's validation, which is why the selected
    // files are handed to it as a data set of their own.
    for (const Sample &s : set_.samples) {
      (s.fake ? dataset_.val_fake : dataset_.val_real).push_back(to_entry(s));
      (s.fake ? fake_samples_ : real_samples_).push_back(&s);
    }
    if (!o_.pseudo_fakes.empty() && real_samples_.empty()) {
      throw UsageError("--self-blend and --pseudo-fakes need real images in the selected split");
    }
    if (!set_.samples.empty() && (face_crop() || !o_.pseudo_fakes.empty())) {
      progress("landmarks: finding faces in " + std::to_string(set_.samples.size()) + " images" +
               (o_.landmark_cache.empty() ? "" : " (cache " + o_.landmark_cache + ")"));
      shapes_ = training::find_face_shapes(dataset_, config_, o_.landmark_cache, {});
    }
    maker_ = std::make_unique<training::ExampleMaker>(config_, dataset_, shapes_);
  }

  void score_images() {
    if (!set_.samples.empty()) {
      progress("scoring " + std::to_string(set_.samples.size()) + " face images");
      std::vector<training::ImageEntry> entries;
      std::vector<const Sample *> order;
      for (const auto *list : {&real_samples_, &fake_samples_}) {
        for (const Sample *s : *list) {
          entries.push_back(to_entry(*s));
          order.push_back(s);
        }
      }
      const auto scored = score_examples(
          *engine_, entries, o_.batch_size, "images",
          [&](const training::ImageEntry &e) { return maker_->validation(e); }, report_.skipped);
      std::vector<FaceRecord> grouped;
      std::map<std::string, const Sample *> first_of_video;
      for (const Scored &s : scored) {
        const Sample &sample = *order[s.index];
        const double p = sigmoid(s.logit);
        report_.frames.push_back(
            {sample.path, sample.fake, sample.fake ? sample.method : "real", s.logit, p});
        frame_scores_.push_back({p, sample.fake, sample.method});
        frame_sources_.push_back(dataset_name(sample.source));
        if (!sample.video.empty()) {
          // Real and fake frames may share a video name in a CSV; the label keeps them apart.
          const std::string key = (sample.fake ? "fake:" : "real:") + sample.video;
          grouped.push_back({key, sample.identity, p});
          first_of_video.emplace(key, &sample);
        }
      }
      for (const ScoredVideo &v : score_videos(grouped, threshold_)) {
        const Sample &first = *first_of_video.at(v.video);
        VideoResult r;
        r.name = first.video;
        r.origin = "frames";
        r.fake = first.fake;
        r.method = first.fake ? first.method : "real";
        r.score = v.score;
        for (const IdentityMean &identity : v.score.identities) r.faces += identity.frames;
        report_.videos.push_back(std::move(r));
      }
    }
    for (const training::FakeKind kind : o_.pseudo_fakes) {
      const std::string method = pseudo_fake_method(kind);
      progress("scoring " + std::to_string(real_samples_.size()) + " " + method +
               " pseudo-fakes of the selected reals");
      std::vector<training::ImageEntry> reals;
      for (const Sample *s : real_samples_) reals.push_back(to_entry(*s));
      const auto scored = score_examples(
          *engine_, reals, o_.batch_size, method,
          [&](const training::ImageEntry &e) { return maker_->validation_pseudo_fake(e, kind); },
          report_.skipped);
      for (const Scored &s : scored) {
        const double p = sigmoid(s.logit);
        report_.frames.push_back({reals[s.index].path + "#" + method, true, method, s.logit, p});
        frame_scores_.push_back({p, true, method});
        frame_sources_.push_back(dataset_name(real_samples_[s.index]->source));
      }
    }
    if (!frame_scores_.empty()) {
      report_.frame_table = method_table(frame_scores_, threshold_);
      print_table("Frame level (" + std::string(split_name(o_.split)) + " split, threshold " +
                      fixed(threshold_, 2) + "):",
                  *report_.frame_table);
      per_source_table();
      operating_point();
    }
  }

  void score_video_files() {
    if (o_.videos.empty()) return;
    // The element's path: its detector, tracker and shared batcher (a second copy of the model,
    // as deepfakedetect would load it), at this tool's batch size.
    EngineOptions engine_options;
    engine_options.device = o_.device;
    engine_options.threads = o_.threads;
    BatcherOptions batching;
    batching.batch_size = o_.batch_size;
    batching.timeout = std::chrono::milliseconds(0);
    const std::shared_ptr<Batcher> batcher =
        Batcher::acquire("", model_path_, engine_options, batching);
    VideoFileOptions options;
    options.frame_step = o_.frame_step;
    options.frames_per_video = o_.frames_per_video;
    options.crop_margin = config_.data.crop_margin;
    for (const VideoDir &dir : o_.videos) {
      std::vector<std::string> files;
      try {
        files = list_video_files(dir.dir);
      } catch (const std::runtime_error &e) {
        throw UsageError(e.what());
      }
      SourceSummary summary{"videos", dir.dir, dir.label == "real" ? "real" : "fake", files.size(),
                            0};
      for (const std::string &file : files) {
        const bool validation = training::is_validation_name(fs::path(file).filename().string(),
                                                             config_.data.val_percent);
        if ((o_.video_split == Split::Validation && !validation) ||
            (o_.video_split == Split::Train && validation)) {
          continue;
        }
        ++summary.selected;
        progress("video " + file);
        const VideoFileResult v = score_video_file(batcher, file, options);
        VideoResult r;
        r.name = file;
        r.origin = "file";
        r.fake = dir.label != "real";
        r.method = dir.label;
        r.frames_read = v.frames_read;
        r.frames_analysed = v.frames_analysed;
        r.frame_step = v.frame_step;
        r.faces = v.faces_scored;
        r.error = v.error;
        if (!v.faces.empty()) {
          r.score = score_videos(v.faces, threshold_).front().score;
        } else if (r.error.empty()) {
          r.error = "no face found in the analysed frames";
        }
        if (!r.error.empty()) report_.skipped.emplace_back(file, r.error);
        report_.videos.push_back(std::move(r));
      }
      std::printf("data: %s (videos, %s): %zu of %zu files in the split\n", dir.dir.c_str(),
                  dir.label.c_str(), summary.selected, summary.files);
      report_.datasets.push_back(std::move(summary));
    }
  }

  void summarise_videos() {
    video_scores_ = method_scores(report_.videos);
    bool grouped_frames = false, video_files = false;
    for (const VideoResult &v : report_.videos) {
      (v.origin == "file" ? video_files : grouped_frames) = true;
    }
    if (grouped_frames) video_splits_ = "frames: " + std::string(split_name(o_.split)) + " split";
    if (video_files) {
      video_splits_ += std::string(video_splits_.empty() ? "" : "; ") +
                       "video files: " + split_name(o_.video_split) + " split";
    }
    if (video_scores_.empty()) return;
    report_.video_rule =
        "identity score = mean of its frames' fake probabilities; video score = the first "
        "identity mean above " +
        fixed(threshold_, 2) + ", else the mean of the identity means (the seed's rule)";
    report_.video_table = method_table(video_scores_, threshold_);
    print_table("Video level (" + video_splits_ + ", seed rule at " + fixed(threshold_, 2) + "):",
                *report_.video_table);
    for (const VideoResult &v : report_.videos) {
      const std::string detail = v.score ? std::to_string(v.score->identities.size()) +
                                               " identities, " + std::to_string(v.faces) + " faces"
                                         : v.error;
      std::printf("  %s %-5s %s  %s\n", v.score ? fixed(v.score->score, 4).c_str() : "  n/a ",
                  v.fake ? "fake" : "real", v.name.c_str(), detail.c_str());
    }
  }

  // Each data set's reals against its own fakes, real and pseudo: the figure that says how
  // well the model separates one source, undisturbed by how the sources differ.
  void per_source_table() {
    std::map<std::string, std::vector<MethodScore>> by_source;
    for (size_t i = 0; i < frame_scores_.size(); ++i) {
      by_source[frame_sources_[i]].push_back(frame_scores_[i]);
    }
    std::vector<MethodRow> rows;
    for (const auto &[source, scores] : by_source) {
      size_t reals = 0;
      for (const MethodScore &s : scores) reals += s.fake ? 0 : 1;
      if (reals == 0 || reals == scores.size()) continue;
      MethodTable table = method_table(scores, threshold_, source);
      table.overall.name = source;
      rows.push_back(table.overall);
    }
    if (rows.size() < 2) return;
    report_.per_source = rows;
    MethodTable shown;
    shown.overall = rows.front();
    shown.methods.assign(rows.begin() + 1, rows.end());
    print_table("Per source (each data set's reals against its own fakes, threshold " +
                    fixed(threshold_, 2) + "):",
                shown);
  }

  // The threshold in use on these reals (false alarms, on all of them and on each source's,
  // and what it catches), and the ones --false-alarm-rate asks for: over all the reals
  // pooled, and on every source's reals alone.
  void operating_point() {
    std::map<std::string, std::vector<float>> real_logits, fake_logits;
    for (size_t i = 0; i < report_.frames.size(); ++i) {
      const FrameResult &f = report_.frames[i];
      (f.fake ? fake_logits[f.method] : real_logits[frame_sources_.at(i)])
          .push_back(static_cast<float>(f.logit));
    }
    if (real_logits.empty()) return;
    const training::NamedLogits reals(real_logits.begin(), real_logits.end());
    const training::NamedLogits fakes(fake_logits.begin(), fake_logits.end());

    const auto point_json = [](const training::OperatingPoint &op) {
      json::Value v;
      v["threshold"] = op.threshold;
      v["false_alarm_rate"] = op.false_alarm_rate;
      json::Value tpr = json::Object{};
      for (const auto &[name, rate] : op.true_positive_rate) tpr[name] = rate;
      v["true_positive_rate"] = std::move(tpr);
      json::Value sources = json::Array{};
      for (const training::SourceAlarms &a : op.per_source) {
        json::Value item;
        item["source"] = a.source;
        item["reals"] = a.reals;
        item["false_alarms"] = a.alarms;
        item["false_alarm_rate"] = a.rate();
        json::as_array(sources).push_back(std::move(item));
      }
      v["per_source"] = std::move(sources);
      return v;
    };
    const auto print_point = [](const std::string &heading, const training::OperatingPoint &op) {
      std::printf("%s threshold %s: %s%% of %zu reals flagged (", heading.c_str(),
                  fixed(op.threshold, 4).c_str(), fixed(100.0 * op.false_alarm_rate, 2).c_str(),
                  op.reals);
      for (size_t i = 0; i < op.per_source.size(); ++i) {
        const training::SourceAlarms &a = op.per_source[i];
        std::printf("%s%s %zu/%zu %s%%", i ? "; " : "", a.source.c_str(), a.alarms, a.reals,
                    fixed(100.0 * a.rate(), 2).c_str());
      }
      std::printf("); caught:");
      for (const auto &[name, rate] : op.true_positive_rate) {
        std::printf(" %s %s%%;", name.c_str(), fixed(100.0 * rate, 1).c_str());
      }
      std::printf("\n");
    };

    const training::OperatingPoint in_use =
        training::measure_operating_point(threshold_, reals, fakes);
    json::Value op = point_json(in_use);
    op["reals"] = in_use.reals;
    size_t alarms = 0;
    for (const training::SourceAlarms &a : in_use.per_source) alarms += a.alarms;
    op["false_alarms"] = alarms;
    op["chosen"] = json::Value();
    op["chosen_every_source"] = json::Value();
    std::printf("\n");
    print_point("Operating point at the threshold in use,", in_use);
    if (o_.false_alarm_rate) {
      const double rate = *o_.false_alarm_rate;
      const training::OperatingPoint chosen =
          training::choose_operating_point(reals, fakes, rate, training::CalibrationScope::Pooled);
      json::Value c = point_json(chosen);
      c["false_alarm_rate_target"] = rate;
      op["chosen"] = std::move(c);
      print_point("For " + fixed(100.0 * rate, 2) + "% false alarms on all these reals pooled:",
                  chosen);
      const training::OperatingPoint every = training::choose_operating_point(
          reals, fakes, rate, training::CalibrationScope::EverySource);
      json::Value e = point_json(every);
      e["false_alarm_rate_target"] = rate;
      op["chosen_every_source"] = std::move(e);
      print_point("For at most " + fixed(100.0 * rate, 2) + "% on every source's reals:", every);
      if (!o_.write_calibrated.empty()) {
        write_calibrated(
            o_.calibration_scope == training::CalibrationScope::EverySource ? every : chosen,
            o_.calibration_scope == training::CalibrationScope::EverySource
                ? op["chosen_every_source"]
                : op["chosen"]);
      }
    }
    report_.operating_point = std::move(op);
  }

  // The model again, with `point`'s threshold and how it was chosen beside the training
  // record, so that the element's verdicts and alerts keep that false-alarm rate.
  void write_calibrated(const training::OperatingPoint &point, const json::Value &point_json) {
    const ModelFile source = ModelFile::open(model_path_);
    ModelConfig config = source.config();
    json::Value calibration = point_json;
    calibration["scope"] = training::calibration_scope_name(o_.calibration_scope);
    calibration["previous_threshold"] = config.threshold;
    calibration["split"] = split_name(o_.split);
    json::Value data = json::Array{};
    for (const auto &d : report_.datasets) {
      json::Value item;
      item["path"] = d.path;
      item["label"] = d.label;
      item["selected"] = d.selected;
      json::as_array(data).push_back(std::move(item));
    }
    calibration["data"] = std::move(data);
    calibration["tool"] = "deepfake-eval --write-calibrated";
    if (!config.training.is_object()) config.training = json::Object{};
    config.training["calibration"] = std::move(calibration);
    config.threshold = point.threshold;
    write_model_file(o_.write_calibrated, config, source);
    std::printf("Calibrated model (threshold %s, %s): %s\n", fixed(point.threshold, 4).c_str(),
                training::calibration_scope_name(o_.calibration_scope),
                o_.write_calibrated.c_str());
  }

  void localisation() {
    if (o_.pseudo_fakes.empty() || real_samples_.empty()) {
      throw UsageError("--localisation needs --pseudo-fakes (or --self-blend) and real images");
    }
    std::vector<LocalisationInput> inputs;
    const size_t n = std::min(real_samples_.size(), static_cast<size_t>(o_.localisation));
    for (const training::FakeKind kind : o_.pseudo_fakes) {
      for (size_t i = 0; i < n; ++i) {
        // Spread over the reals so one folder does not fill the sample.
        const training::ImageEntry e = to_entry(*real_samples_[i * real_samples_.size() / n]);
        try {
          cv::Mat mask;
          const training::Example fake = maker_->validation_pseudo_fake(e, kind, &mask);
          inputs.push_back({e.path, pseudo_fake_method(kind), fake.image, mask});
        } catch (const std::exception &) {
          // Already listed as skipped by the scoring pass.
        }
      }
    }
    std::unique_ptr<AttentionRollout> rollout;
    RolloutMaps rollout_fn;
    if (o_.rollout) {
      rollout = std::make_unique<AttentionRollout>(model_path_, o_.device);
      rollout_fn = [&](const uint8_t *images, size_t count) {
        return rollout->compute(images, count);
      };
    }
    progress("localisation on " + std::to_string(inputs.size()) + " pseudo-fakes");
    const LocalisationResult r =
        run_localisation(*engine_, inputs, rollout_fn, o_.localisation_random, o_.deletion_seed);
    std::printf(
        "\nLocalisation (%zu pseudo-fakes, %dx%d cells; changed cells cover %s%% of the grid "
        "on average):\n| Pseudo-fake | Map | Mass on changed cells | Top cell changed |\n"
        "|---|---|---|---|\n",
        inputs.size(), r.grid_width, r.grid_height, fixed(100.0 * r.mask_coverage, 1).c_str());
    json::Array rows;
    for (const LocalisationRow &row : r.rows) {
      std::printf("| %s | %s | %s | %s%% |\n", row.kind.c_str(), row.order.c_str(),
                  fixed(row.mass_inside, 4).c_str(), fixed(100.0 * row.top_cell_inside, 1).c_str());
      json::Value v;
      v["kind"] = row.kind;
      v["order"] = row.order;
      v["images"] = row.images;
      v["mass_inside"] = row.mass_inside;
      v["top_cell_inside"] = row.top_cell_inside;
      rows.push_back(std::move(v));
    }
    json::Value loc;
    loc["images"] = inputs.size();
    json::Value grid;
    grid["width"] = r.grid_width;
    grid["height"] = r.grid_height;
    loc["grid"] = std::move(grid);
    loc["mask_coverage"] = r.mask_coverage;
    loc["rows"] = std::move(rows);
    report_.localisation = std::move(loc);
  }

  void deletion_test() {
    std::vector<training::ImageEntry> candidates;
    for (const Sample &s : set_.samples) {
      if (s.fake || o_.deletion_all) candidates.push_back(to_entry(s));
    }
    if (candidates.empty()) {
      progress("deletion test: no " + std::string(o_.deletion_all ? "" : "fake ") +
               "image in the selected split; skipped");
      return;
    }
    const size_t n = std::min(candidates.size(), static_cast<size_t>(o_.deletion));
    std::vector<DeletionInput> inputs;
    for (size_t i = 0; i < n; ++i) {
      // Spread over the list so one folder or method does not fill the sample.
      const training::ImageEntry &e = candidates[i * candidates.size() / n];
      try {
        inputs.push_back({e.path, maker_->validation(e).image});
      } catch (const std::exception &) {
        // Already listed as skipped by the scoring pass.
      }
    }
    if (inputs.empty()) return;
    std::unique_ptr<AttentionRollout> rollout;
    RolloutFunction rollout_fn;
    if (o_.rollout) {
      rollout = std::make_unique<AttentionRollout>(model_path_, o_.device);
      rollout_fn = [&](const uint8_t *images, size_t count) {
        return rollout->compute(images, count);
      };
    }
    DeletionOptions options;
    options.steps = o_.deletion_steps;
    options.random_orders = o_.deletion_random;
    options.seed = o_.deletion_seed;
    options.fill = o_.deletion_fill;
    progress("deletion test on " + std::to_string(inputs.size()) + " images: pixels");
    report_.deletion = run_deletion_test(*engine_, inputs, options, rollout_fn);
    print_deletion(*report_.deletion, "cells hidden in the input, fill " +
                                          std::string(deletion_fill_name(options.fill)));

    progress("deletion test on " + std::to_string(inputs.size()) + " images: tokens");
    TokenRemoval removal(model_path_, o_.device);
    options.space = DeletionSpace::Tokens;
    report_.token_deletion =
        run_deletion_test(*engine_, inputs, options, rollout_fn,
                          [&](const uint8_t *image, const std::vector<std::vector<int>> &removed) {
                            return removal.logits_without(image, removed);
                          });
    print_deletion(*report_.token_deletion, "tokens removed from the transformer's input");
  }

  void print_deletion(const DeletionResult &d, const std::string &how) {
    std::printf(
        "\nDeletion test, %s space (%zu %simages, %dx%d cells, %d steps, %s; lower area = more "
        "faithful):\n",
        deletion_space_name(d.space), d.images.size(), o_.deletion_all ? "" : "fake ", d.grid_width,
        d.grid_height, d.steps, how.c_str());
    std::printf(
        "| Order | Fake-logit area | Probability area | Mean logit drop |\n"
        "|---|---|---|---|\n");
    for (const DeletionCurve &c : d.curves) {
      std::printf("| %s | %s | %s | %s |\n", c.order.c_str(), fixed(c.logit_area, 4).c_str(),
                  fixed(c.probability_area, 4).c_str(), fixed(c.mean_logit_drop, 4).c_str());
    }
    std::printf("relevancy order below random on %s%% of images; %s\n",
                fixed(100.0 * d.relevancy_beats_random, 1).c_str(), d.note.c_str());
  }

  void write_roc() {
    std::vector<RocSeries> series;
    const auto add = [&](const std::string &name, const std::vector<MethodScore> &scores,
                         const std::string &method, double auc) {
      std::vector<RocPoint> curve = curve_or_empty(scores, method);
      if (!curve.empty()) series.push_back({name, std::move(curve), auc});
    };
    if (report_.frame_table) {
      add("frames: " + report_.frame_table->overall.name, frame_scores_, "",
          report_.frame_table->overall.metrics.auc);
      if (report_.frame_table->methods.size() > 1) {
        for (const MethodRow &row : report_.frame_table->methods) {
          add("frames: " + row.name, frame_scores_, row.name, row.metrics.auc);
        }
      }
    }
    if (report_.video_table) {
      add("videos: " + report_.video_table->overall.name, video_scores_, "",
          report_.video_table->overall.metrics.auc);
    }
    if (series.empty()) {
      progress("ROC: no set holds both real and fake samples; no figure written");
      return;
    }
    write_roc_png(o_.roc, series, o_.roc_width, o_.roc_height,
                  "ROC, " + (report_.frame_table ? std::string(split_name(o_.split)) + " split"
                                                 : video_splits_));
    report_.roc_png = o_.roc;
    std::printf("\nROC figure: %s\n", o_.roc.c_str());
  }

  void write_outputs() {
    if (!o_.roc.empty()) write_roc();
    if (!report_.skipped.empty()) {
      std::printf("\nskipped %zu input(s):\n", report_.skipped.size());
      for (const auto &[path, reason] : report_.skipped) {
        std::printf("  %s: %s\n", path.c_str(), reason.c_str());
      }
    }
    if (!o_.json.empty()) {
      std::ofstream out(o_.json, std::ios::binary | std::ios::trunc);
      out << json::dump(report_to_json(report_)) << "\n";
      out.close();
      if (!out) throw std::runtime_error(o_.json + ": cannot write the report");
      std::printf("JSON report: %s\n", o_.json.c_str());
    }
  }

  const Options &o_;
  const std::string model_path_;
  std::unique_ptr<Engine> engine_;
  const ModelConfig &model_;
  const double threshold_;
  std::string config_origin_;
  const training::TrainConfig config_;

  EvalReport report_;
  SampleSet set_;
  training::Dataset dataset_;
  std::vector<const Sample *> real_samples_, fake_samples_;
  training::FaceShapes shapes_;
  std::unique_ptr<training::ExampleMaker> maker_;
  std::vector<MethodScore> frame_scores_, video_scores_;
  std::vector<std::string> frame_sources_;  // the data set of each frame score
  std::string video_splits_;
};

}  // namespace

int main(int argc, char **argv) {
  dfd::tools::restart_with_passive_openmp_wait(argv);
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
  // The record names the tool, not the path it was started by.
  std::string command = "deepfake-eval";
  for (int i = 1; i < argc; ++i) command += " " + dfd::tools::shell_quote(argv[i]);
  try {
    bool help = false;
    const Options options = parse_options(argc, argv, help);
    if (help) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    return Evaluation(options, command).run();
  } catch (const UsageError &e) {
    std::fprintf(stderr, "deepfake-eval: %s\n", e.what());
    return 2;
  } catch (const ModelError &e) {
    std::fprintf(stderr, "deepfake-eval: %s\n", e.what());
    return 2;
  } catch (const training::ConfigError &e) {
    std::fprintf(stderr, "deepfake-eval: %s\n", e.what());
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "deepfake-eval: %s\n", e.what());
    return 1;
  }
}
