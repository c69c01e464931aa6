#include "eval_dataset.h"

#include <cctype>
#include <filesystem>
#include <stdexcept>

#include "tools/seed_csv.h"
#include "training/dataset.h"

namespace dfd::eval {

namespace fs = std::filesystem;

namespace {

bool selected(Split split, bool validation) {
  switch (split) {
    case Split::Train:
      return !validation;
    case Split::Validation:
      return validation;
    case Split::All:
      return true;
  }
  return true;
}

std::string folder_name(const fs::path &folder) {
  fs::path path = folder.lexically_normal();
  if (!path.has_filename()) path = path.parent_path();  // "a/b/" names b
  return path.filename().string();
}

// Rules 1-3 of the header, for a file below `root`.
std::string method_of(const fs::path &root, const fs::path &file, MethodRule rule,
                      const std::string &fallback) {
  const fs::path relative = file.lexically_relative(root);
  const auto first = relative.begin();
  if (first != relative.end() && std::next(first) != relative.end()) return first->string();
  if (rule == MethodRule::FilePrefix) {
    const std::string prefix = file_prefix(file.filename().string());
    if (!prefix.empty()) return prefix;
  }
  return fallback;
}

}  // namespace

const char *split_name(Split split) {
  switch (split) {
    case Split::Train:
      return "train";
    case Split::Validation:
      return "validation";
    case Split::All:
      return "all";
  }
  return "?";
}

Split parse_split(std::string_view text) {
  if (text == "train") return Split::Train;
  if (text == "validation" || text == "val") return Split::Validation;
  if (text == "all") return Split::All;
  throw std::invalid_argument("split must be train, validation or all, got '" + std::string(text) +
                              "'");
}

std::string file_prefix(std::string_view file_name) {
  const size_t underscore = file_name.find('_');
  if (underscore == std::string_view::npos) return "";
  return std::string(file_name.substr(0, underscore));
}

std::string identity_from_file_name(std::string_view file_name) {
  const std::string stem = fs::path(std::string(file_name)).stem().string();
  const size_t underscore = stem.rfind('_');
  if (underscore == std::string::npos || underscore + 1 == stem.size()) return "0";
  const std::string tail = stem.substr(underscore + 1);
  for (const char c : tail) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return "0";
  }
  return tail;
}

std::string dataset_name(const std::string &class_folder) {
  fs::path path = fs::path(class_folder).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();
  const std::string own = path.filename().string();
  if ((own == "real" || own == "fake") && !path.parent_path().filename().empty()) {
    return path.parent_path().filename().string();
  }
  return own;
}

void add_class_folder(SampleSet &set, const std::string &class_folder, bool fake,
                      const FolderOptions &options) {
  const std::vector<training::ImageEntry> entries =
      training::scan_image_folder(class_folder, fake, options.val_percent);
  const std::string fallback = dataset_name(class_folder);
  SourceSummary summary{"folder", class_folder, fake ? "fake" : "real", entries.size(), 0};
  for (const training::ImageEntry &entry : entries) {
    if (!selected(options.split, entry.validation)) continue;
    Sample s;
    s.path = entry.path;
    s.name = entry.name;
    s.source = class_folder;
    s.fake = fake;
    s.method = method_of(class_folder, entry.path, options.method_rule, fallback);
    s.validation = entry.validation;
    if (options.grouping == FrameGrouping::ByFolder) {
      s.video = fs::path(entry.path).parent_path().string();
      s.identity = identity_from_file_name(entry.name);
    }
    set.samples.push_back(std::move(s));
    ++summary.selected;
  }
  set.sources.push_back(std::move(summary));
}

void add_labelled_folder(SampleSet &set, const std::string &dir, const FolderOptions &options) {
  for (const bool fake : {false, true}) {
    const std::string folder = (fs::path(dir) / (fake ? "fake" : "real")).string();
    std::error_code error;
    if (!fs::is_directory(folder, error)) {
      throw std::runtime_error(dir + ": a labelled folder needs real/ and fake/ subfolders (" +
                               folder + " is missing)");
    }
    add_class_folder(set, folder, fake, options);
  }
}

void add_seed_csv(SampleSet &set, const std::string &csv_path, const std::string &images_dir,
                  const FolderOptions &options) {
  const std::vector<SeedSample> rows = read_seed_samples(csv_path);
  SourceSummary summary{"csv", csv_path, "mixed", rows.size(), 0};
  const std::string fallback = folder_name(fs::path(csv_path).parent_path());
  for (const SeedSample &row : rows) {
    const std::optional<bool> fake = parse_fake_label(row.label);
    if (!fake) {
      throw std::runtime_error(csv_path + ": record " + std::to_string(row.record) + ": label '" +
                               row.label + "' is neither 0/real nor 1/fake");
    }
    Sample s;
    s.path = (fs::path(images_dir) / row.example_file_name).string();
    s.name = fs::path(row.example_file_name).filename().string();
    s.source = csv_path;
    s.fake = *fake;
    s.validation = training::is_validation_name(s.name, options.val_percent);
    if (!selected(options.split, s.validation)) continue;
    // The seed names the method by the file prefix (a subfolder, if any, still comes first).
    s.method =
        method_of(images_dir, s.path, MethodRule::FilePrefix, fallback.empty() ? "csv" : fallback);
    if (!row.video_name.empty()) {
      s.video = row.video_name;
      s.identity = "0";
    }
    set.samples.push_back(std::move(s));
    ++summary.selected;
  }
  set.sources.push_back(std::move(summary));
}

}  // namespace dfd::eval
