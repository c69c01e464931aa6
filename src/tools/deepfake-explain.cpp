// deepfake-explain: scores face crops and explains each score with a relevancy map, as the
// seed's explain_model.py does for its sample list, and for plain images or folders.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/engine.h"
#include "core/heatmap.h"
#include "core/json_strict.h"
#include "core/model_error.h"
#include "imaging/explain_sheet.h"
#include "imaging/overlay.h"
#include "imaging/preprocess.h"
#include "tools/classification_metrics.h"
#include "tools/command_line.h"
#include "tools/seed_csv.h"

namespace fs = std::filesystem;

namespace {

constexpr const char *kUsage = R"(Usage: deepfake-explain [OPTIONS] [IMAGE|FOLDER ...]
       deepfake-explain [OPTIONS] --csv FILE --images DIR

Scores face crops with a deepfake detector and explains each score with a relevancy map.
Images are taken as already-cropped faces (as the seed's examples are).

Options:
  --model FILE       model file (default: $DEEPFAKE_MODEL, else the installed default model)
  --device DEV       cpu, cuda or cuda:N (default: cpu)
  --batch-size N     images per forward pass (default: 8)
  --threshold T      fake when probability >= T (default: the model's threshold)
  --json             print one JSON line per image on stdout:
                       {"image","logit","probability","label","relevancy":{"width","height","values"}}
                     and write sheets only when --output is given
  --output DIR       where sheets and summary.csv go (default: explanation)
  --csv FILE         seed mode: the seed's sample list (columns video_name, label (1 fake,
                     0 real), video_prob, high_low_prob, example_file_name)
  --images DIR       seed mode: the folder holding the example files
  -h, --help         show this help

For every image a sheet "vis_norm<file name>" (the seed's name: the crop and its relevancy
overlay under a five-line title) is written to the output folder, and one row per image to
summary.csv (file, label, video_prob, frame_prob, logit, prediction, classification).
Folders are read non-recursively (jpg, jpeg, png, bmp, webp; sorted by name). Outside seed
mode an image is labelled when a folder in its path is named "real" or "fake"; with labels,
TP/FP/TN/FN, accuracy and F1 at the threshold are printed (on stderr with --json).

Exit status: 0 on success, 2 for bad arguments, an unusable model or an unreadable image or
CSV row (the other images are still processed), 1 for other failures (device, output).
)";

using dfd::tools::UsageError;

struct Options {
  std::optional<std::string> model;
  std::string device = "cpu";
  int batch_size = 8;
  std::optional<double> threshold;
  bool json = false;
  std::optional<std::string> output;
  std::optional<std::string> csv;
  std::optional<std::string> images;
  std::vector<std::string> inputs;
  bool help = false;
};

Options parse_options(int argc, char **argv) {
  Options options;
  bool only_inputs = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (only_inputs || arg.empty() || arg[0] != '-' || arg == "-") {
      options.inputs.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_inputs = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      options.help = true;
      continue;
    }
    if (arg == "--json") {
      options.json = true;
      continue;
    }
    // Every other option takes a value, as "--name value" or "--name=value".
    const std::optional<std::string> inline_value = dfd::tools::split_inline_value(arg);
    static const std::set<std::string> kValued = {
        "--model", "--device", "--batch-size", "--threshold", "--output", "--csv", "--images"};
    if (kValued.count(arg) == 0) throw UsageError("unknown option " + arg);
    const std::string value = dfd::tools::option_value(arg, inline_value, i, argc, argv);
    if (arg == "--model") {
      options.model = value;
    } else if (arg == "--device") {
      options.device = value;
    } else if (arg == "--batch-size") {
      options.batch_size = static_cast<int>(dfd::tools::parse_integer(arg, value, 1, 1024));
    } else if (arg == "--threshold") {
      options.threshold = dfd::tools::parse_number(arg, value);
    } else if (arg == "--output") {
      options.output = value;
    } else if (arg == "--csv") {
      options.csv = value;
    } else {
      options.images = value;
    }
  }
  if (options.help) return options;
  if (options.csv.has_value() != options.images.has_value()) {
    throw UsageError("--csv and --images go together");
  }
  if (options.csv && !options.inputs.empty()) {
    throw UsageError("give either --csv/--images or images and folders, not both");
  }
  if (!options.csv && options.inputs.empty()) throw UsageError("nothing to explain");
  return options;
}

// One image to explain, and what is known about it before the model sees it.
struct WorkItem {
  std::string path;          // as given or joined: JSON "image", summary "file"
  std::string file_name;     // the seed's example_file_name, or the base name
  std::optional<bool> fake;  // ground truth, when known
  std::string video_prob;    // seed mode only, as written in the CSV
};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool is_image_file(const fs::path &path) {
  static const std::set<std::string> kExtensions = {".jpg", ".jpeg", ".png", ".bmp", ".webp"};
  return kExtensions.count(lower(path.extension().string())) > 0;
}

// The innermost folder named "real" or "fake" decides, so data/fake/real/x.jpg is real.
std::optional<bool> label_from_folders(const fs::path &image) {
  std::optional<bool> fake;
  for (const fs::path &part : image.parent_path()) {
    const std::string name = lower(part.string());
    if (name == "fake") fake = true;
    if (name == "real") fake = false;
  }
  return fake;
}

std::vector<WorkItem> plain_items(const std::vector<std::string> &inputs, bool &input_errors) {
  std::vector<WorkItem> items;
  auto add = [&items](const fs::path &path) {
    items.push_back({path.string(), path.filename().string(), label_from_folders(path), {}});
  };
  for (const std::string &input : inputs) {
    std::error_code error;
    if (fs::is_directory(input, error)) {
      std::vector<fs::path> files;
      for (const fs::directory_entry &entry : fs::directory_iterator(input, error)) {
        if (entry.is_regular_file(error) && is_image_file(entry.path())) {
          files.push_back(entry.path());
        }
      }
      if (error) {
        std::cerr << "deepfake-explain: " << input << ": " << error.message() << "\n";
        input_errors = true;
      }
      std::sort(files.begin(), files.end(), [](const fs::path &a, const fs::path &b) {
        return a.filename().string() < b.filename().string();
      });
      if (files.empty()) std::cerr << "deepfake-explain: " << input << ": no images\n";
      for (const fs::path &file : files) add(file);
    } else {
      // Files that do not exist are reported when they fail to read, in input order.
      add(fs::path(input));
    }
  }
  return items;
}

std::vector<WorkItem> seed_items(const std::string &csv, const std::string &images,
                                 bool &input_errors) {
  std::vector<WorkItem> items;
  for (const dfd::SeedSample &sample : dfd::read_seed_samples(csv)) {
    const std::optional<bool> fake = dfd::parse_fake_label(sample.label);
    if (!fake) {
      std::cerr << "deepfake-explain: " << csv << ": record " << sample.record << " ("
                << sample.example_file_name << "): unknown label '" << sample.label
                << "' (expected 1/fake or 0/real)\n";
      input_errors = true;
      continue;
    }
    items.push_back({(fs::path(images) / sample.example_file_name).string(),
                     sample.example_file_name, fake, sample.video_prob});
  }
  return items;
}

// Shortest text that reads back as the same float32.
std::string float_text(float value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string json_line(const WorkItem &item, const dfd::Prediction &prediction, bool fake) {
  dfd::json::Array values;
  values.reserve(prediction.relevancy.values.size());
  for (float v : prediction.relevancy.values) values.emplace_back(static_cast<double>(v));
  dfd::json::Object relevancy;
  relevancy["width"] = prediction.relevancy.width;
  relevancy["height"] = prediction.relevancy.height;
  relevancy["values"] = std::move(values);
  dfd::json::Object line;
  line["image"] = item.path;
  line["logit"] = static_cast<double>(prediction.logit);
  line["probability"] = static_cast<double>(prediction.probability);
  line["label"] = fake ? "fake" : "real";
  line["relevancy"] = std::move(relevancy);
  return dfd::json::dump(dfd::json::Value(std::move(line)));
}

// Sheets keep the seed's name, "vis_norm" + file name; two inputs with the same base name
// (from different folders) get a numbered suffix rather than overwriting each other.
class SheetNames {
 public:
  explicit SheetNames(fs::path folder) : folder_(std::move(folder)) {}

  fs::path next(const std::string &file_name) {
    const fs::path base = folder_ / ("vis_norm" + file_name);
    fs::path path = base;
    for (int n = 2; !used_.insert(path.string()).second; ++n) {
      path = base.parent_path() /
             (base.stem().string() + "_" + std::to_string(n) + base.extension().string());
    }
    return path;
  }

 private:
  fs::path folder_;
  std::set<std::string> used_;
};

class Explainer {
 public:
  Explainer(dfd::Engine &engine, const Options &options, size_t total)
      : engine_(engine),
        config_(engine.config()),
        threshold_(options.threshold.value_or(engine.config().threshold)),
        json_(options.json),
        write_files_(!options.json || options.output.has_value()),
        output_(options.output.value_or("explanation")),
        sheet_names_(output_),
        total_(total) {}

  // Creates the output folder and summary.csv; false (after a message) when it cannot.
  bool open_outputs() {
    if (!write_files_) return true;
    std::error_code error;
    fs::create_directories(output_, error);
    if (error) {
      std::cerr << "deepfake-explain: " << output_.string() << ": " << error.message() << "\n";
      return false;
    }
    summary_path_ = output_ / "summary.csv";
    summary_.open(summary_path_, std::ios::binary | std::ios::trunc);
    if (!summary_) {
      std::cerr << "deepfake-explain: " << summary_path_.string() << ": cannot write\n";
      return false;
    }
    summary_ << dfd::format_csv_record(
        {"file", "label", "video_prob", "frame_prob", "logit", "prediction", "classification"});
    return true;
  }

  // Reads, scores and explains items [begin, end) in a single forward and backward pass.
  void run_batch(const std::vector<WorkItem> &all, size_t begin, size_t end) {
    std::vector<const WorkItem *> items;
    std::vector<cv::Mat> crops;
    std::vector<dfd::ModelInput> padded_bgr;
    std::vector<dfd::ModelInput> inputs;
    for (size_t k = begin; k < end; ++k) {
      const WorkItem &item = all[k];
      cv::Mat crop;
      try {
        crop = cv::imread(item.path, cv::IMREAD_COLOR);
      } catch (const cv::Exception &) {
        crop.release();
      }
      if (crop.empty()) {
        std::cerr << "deepfake-explain: " << item.path << ": cannot read the image\n";
        input_errors_ = true;
        continue;
      }
      dfd::ModelInput bgr = dfd::letterbox(crop, config_.image_size);
      inputs.push_back({dfd::to_model_colour_order(bgr.image, config_.color_order), bgr.content});
      padded_bgr.push_back(std::move(bgr));
      crops.push_back(std::move(crop));
      items.push_back(&item);
    }
    if (items.empty()) return;
    const std::vector<uint8_t> packed = dfd::pack_model_inputs(inputs, config_.image_size);
    const std::vector<dfd::Prediction> predictions =
        engine_.infer(packed.data(), items.size(), /*explain=*/true);
    for (size_t i = 0; i < items.size(); ++i) {
      report(*items[i], crops[i], padded_bgr[i].image, predictions.at(i));
    }
  }

  // Prints the confusion counts when any image had a label; returns the exit status.
  int finish() {
    if (summary_.is_open()) {
      summary_.close();
      if (!summary_) {
        std::cerr << "deepfake-explain: " << summary_path_.string() << ": write failed\n";
        output_errors_ = true;
      }
    }
    if (counts_.total() > 0) {
      std::ostream &out = json_ ? std::cerr : std::cout;
      char line[256];
      std::snprintf(line, sizeof line,
                    "threshold %.4g: TP %zu  FP %zu  TN %zu  FN %zu  accuracy %.4f  F1 %.4f  "
                    "(%zu labelled images)\n",
                    threshold_, counts_.tp, counts_.fp, counts_.tn, counts_.fn, counts_.accuracy(),
                    counts_.f1(), counts_.total());
      out << line;
    }
    if (write_files_) {
      std::cerr << "deepfake-explain: " << done_ << " sheet(s) and summary.csv in "
                << output_.string() << "\n";
    }
    if (input_errors_) return 2;
    return output_errors_ ? 1 : 0;
  }

  void note_input_error() { input_errors_ = true; }

 private:
  void report(const WorkItem &item, const cv::Mat &crop, const cv::Mat &padded_bgr,
              const dfd::Prediction &prediction) {
    const bool fake = dfd::predicted_fake(prediction.probability, threshold_);
    std::optional<dfd::Outcome> outcome;
    if (item.fake) {
      outcome = dfd::classify(*item.fake, fake);
      counts_.add(*outcome);
    }
    ++seen_;
    std::cerr << "[" << seen_ << "/" << total_ << "] " << item.path << ": "
              << (fake ? "fake" : "real") << " " << float_text(prediction.probability)
              << (outcome ? std::string(" (") + dfd::outcome_name(*outcome) + ")" : "") << "\n";

    if (json_) std::cout << json_line(item, prediction, fake) << std::endl;
    if (!write_files_) return;

    if (prediction.relevancy.values.empty()) {
      std::cerr << "deepfake-explain: " << item.path << ": the engine returned no relevancy\n";
      output_errors_ = true;
      return;
    }
    const dfd::FloatMap mask =
        dfd::relevancy_map(prediction.relevancy, config_.architecture, config_.image_size);
    const cv::Mat overlay = dfd::seed_overlay(padded_bgr, mask);

    dfd::SheetText text;
    if (item.fake) text.label = *item.fake ? "Fake Image" : "True Image";
    text.method = dfd::seed_method_name(item.file_name);
    text.video_score = item.video_prob;
    text.frame_probability = prediction.probability;
    if (outcome) text.classification = dfd::outcome_name(*outcome);
    const cv::Mat sheet = dfd::render_explain_sheet(dfd::seed_title_lines(text), crop, overlay);
    write_sheet(item, sheet);

    summary_ << dfd::format_csv_record({item.path, item.fake ? (*item.fake ? "fake" : "real") : "",
                                        item.video_prob, float_text(prediction.probability),
                                        float_text(prediction.logit), fake ? "fake" : "real",
                                        outcome ? dfd::outcome_name(*outcome) : ""});
  }

  void write_sheet(const WorkItem &item, const cv::Mat &sheet) {
    fs::path path = sheet_names_.next(item.file_name);
    // The seed lets matplotlib pick the format from the name; where OpenCV has no writer
    // for it (no extension, say), PNG is added rather than losing the sheet.
    if (!cv::haveImageWriter(path.string())) path += ".png";
    std::error_code error;
    fs::create_directories(path.parent_path(), error);
    bool written = false;
    try {
      written = !error && cv::imwrite(path.string(), sheet);
    } catch (const cv::Exception &e) {
      std::cerr << "deepfake-explain: " << path.string() << ": " << e.what() << "\n";
    }
    if (!written) {
      std::cerr << "deepfake-explain: " << path.string() << ": cannot write the sheet\n";
      output_errors_ = true;
      return;
    }
    ++done_;
  }

  dfd::Engine &engine_;
  const dfd::ModelConfig &config_;
  double threshold_;
  bool json_;
  bool write_files_;
  fs::path output_;
  SheetNames sheet_names_;
  fs::path summary_path_;
  std::ofstream summary_;
  dfd::ConfusionCounts counts_;
  size_t total_;
  size_t seen_ = 0;
  size_t done_ = 0;
  bool input_errors_ = false;
  bool output_errors_ = false;
};

int run(const Options &options) {
  bool input_errors = false;
  std::vector<WorkItem> items;
  try {
    items = options.csv ? seed_items(*options.csv, *options.images, input_errors)
                        : plain_items(options.inputs, input_errors);
  } catch (const std::runtime_error &e) {
    std::cerr << "deepfake-explain: " << e.what() << "\n";
    return 2;
  }

  // The device first: it is cheap to check, and loading a large model only to be told the
  // device is missing wastes the user's time.
  try {
    dfd::check_device(options.device);
  } catch (const std::invalid_argument &e) {
    std::cerr << "deepfake-explain: --device: " << e.what() << "\n";
    return 2;
  } catch (const std::exception &e) {
    std::cerr << "deepfake-explain: --device " << options.device << ": " << e.what() << "\n";
    return 1;
  }
  std::unique_ptr<dfd::Engine> engine;
  const std::string model = options.model.value_or(dfd::default_model_path());
  try {
    dfd::EngineOptions engine_options;
    engine_options.device = options.device;
    engine = dfd::Engine::load(model, engine_options);
  } catch (const dfd::ModelError &e) {
    std::cerr << "deepfake-explain: " << e.what() << "\n";
    return 2;
  } catch (const std::exception &e) {
    std::cerr << "deepfake-explain: " << model << ": " << e.what() << "\n";
    return 1;
  }

  Explainer explainer(*engine, options, items.size());
  if (input_errors) explainer.note_input_error();
  if (!explainer.open_outputs()) return 1;
  const size_t batch_size = static_cast<size_t>(options.batch_size);
  for (size_t start = 0; start < items.size(); start += batch_size) {
    try {
      explainer.run_batch(items, start, std::min(items.size(), start + batch_size));
    } catch (const std::exception &e) {
      std::cerr << "deepfake-explain: " << e.what() << "\n";
      return 1;
    }
  }
  return explainer.finish();
}

}  // namespace

int main(int argc, char **argv) {
  // OpenCV's own warnings for unreadable files would duplicate our messages, which name the
  // file and let the run go on.
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
  Options options;
  try {
    options = parse_options(argc, argv);
  } catch (const UsageError &e) {
    std::cerr << "deepfake-explain: " << e.what() << "\n(see deepfake-explain --help)\n";
    return 2;
  }
  if (options.help) {
    std::cout << kUsage;
    return 0;
  }
  return run(options);
}
