// What deepfake-eval scores: labelled face images from folders or from the seed's CSV, each
// with its method (the row of the results table), its split, and, when frames come from
// videos, the video and identity they belong to.
//
// Labelled folder layout (--data DIR):
//   DIR/real/...       real faces
//   DIR/fake/...       fake faces
// Folders are searched recursively. The method of a fake (the seed's results-table row) is:
//   1. the first subfolder under fake/ when there is one (fake/eyes/x.jpg -> "eyes");
//   2. else, with MethodRule::FilePrefix, the file name's part before its first '_' (the
//      seed's rule for its flat sample lists: "Deepfakes_000.png" -> "Deepfakes");
//   3. else the data set's name: the folder above fake/ ("data/yonsei/fake" -> "yonsei").
// Reals get a subset name by the same rules; it is reported in the counts only, because every
// method is scored against all the reals (as the seed's per-method tests share their reals).
//
// Grouping frames into videos (FrameGrouping::ByFolder): a frame's video is the folder holding
// it, and its identity the number after the last '_' of its file stem (the seed's crop files
// are named <frame>_<face index>.png), or "0" when there is none.
//
// The split is the training split, computed by training::is_validation_name on the base name,
// so eval and deepfake-train always agree on which files were held out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dfd::eval {

enum class Split { Train, Validation, All };
enum class MethodRule { Folder, FilePrefix };
enum class FrameGrouping { None, ByFolder };

struct Sample {
  std::string path;
  std::string name;    // base name: the split key
  std::string source;  // the data set (folder or CSV) as given
  bool fake = false;
  std::string method;  // fakes: the results-table row; reals: their subset
  bool validation = false;
  std::string video;  // empty unless grouped into videos
  std::string identity;
};

// One input as given on the command line, with its counts before and after the split.
struct SourceSummary {
  std::string kind;  // "folder", "csv"
  std::string path;
  std::string label;  // "real", "fake" or "mixed"
  size_t files = 0;
  size_t selected = 0;
};

struct SampleSet {
  std::vector<Sample> samples;  // the selected ones only
  std::vector<SourceSummary> sources;
};

const char *split_name(Split split);
Split parse_split(std::string_view text);  // throws std::invalid_argument

// The part of a file name before its first '_' ("" when it has none or starts with '_').
std::string file_prefix(std::string_view file_name);
// The number after the last '_' of the stem ("12_3.png" -> "3"), or "0".
std::string identity_from_file_name(std::string_view file_name);
// "data/yonsei/fake" -> "yonsei"; "data/spliced" -> "spliced" (a folder that is not named
// real or fake names itself).
std::string dataset_name(const std::string &class_folder);

struct FolderOptions {
  MethodRule method_rule = MethodRule::Folder;
  FrameGrouping grouping = FrameGrouping::None;
  int val_percent = 20;
  Split split = Split::Validation;
};

// Appends the images under `class_folder` (all real or all fake). Throws std::runtime_error
// for an unreadable or image-less folder.
void add_class_folder(SampleSet &set, const std::string &class_folder, bool fake,
                      const FolderOptions &options);
// DIR/real and DIR/fake (both required).
void add_labelled_folder(SampleSet &set, const std::string &dir, const FolderOptions &options);

// The seed's sample list: images are `images_dir`/example_file_name, the label column gives the
// class ("1"/"fake", "0"/"real"), the method is the subfolder under `images_dir` or else the
// file prefix (the seed's rule, whatever options.method_rule says), and frames group into videos by
// video_name when it is present (one identity per video: the seed's lists do not name faces). Rows
// with unreadable labels throw std::runtime_error naming the row.
void add_seed_csv(SampleSet &set, const std::string &csv_path, const std::string &images_dir,
                  const FolderOptions &options);

}  // namespace dfd::eval
