// deepfake-eval's parts: ROC/AUC, F1, precision, recall and accuracy against hand-computed
// fixtures, the seed's video rule, method naming and the split, the results table, the JSON
// report's schema, the ROC figure, and the deletion test's ordering and masking (its arithmetic
// on a synthetic grid, then end to end on a small random model). LibTorch is used for that
// model, so the suite runs with CK_FORK=no.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "core/json_strict.h"
#include "core/model_file.h"
#include "core/torch_model.h"
#include "evaluation/attention_rollout.h"
#include "evaluation/deletion_test.h"
#include "evaluation/eval_dataset.h"
#include "evaluation/eval_report.h"
#include "evaluation/method_table.h"
#include "evaluation/metrics.h"
#include "evaluation/roc_plot.h"
#include "evaluation/token_removal.h"
#include "evaluation/video_files.h"
#include "evaluation/video_score.h"
#include "training/dataset.h"
#include "training/metrics.h"

// check.h defines macros (fail, ...) that clash with libstdc++ headers: include it last.
#include <check.h>

namespace fs = std::filesystem;
using namespace dfd::eval;
namespace json = dfd::json;

namespace {

constexpr double kEps = 1e-12;

std::vector<LabelledScore> scores(const std::vector<double> &values,
                                  const std::vector<int> &labels) {
  std::vector<LabelledScore> out;
  for (size_t i = 0; i < values.size(); ++i) out.push_back({values[i], labels[i] != 0});
  return out;
}

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/dfd-test-evaluation-XXXXXX";
    const char *made = mkdtemp(pattern);
    ck_assert_msg(made != nullptr, "mkdtemp failed");
    path_ = made;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  std::string operator/(const std::string &name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// ck_assert_str_eq keeps only the pointers, which dangle for temporaries' c_str().
void check_str(const std::string &got, const std::string &want) {
  ck_assert_msg(got == want, "got '%s', want '%s'", got.c_str(), want.c_str());
}

void touch(const std::string &path) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << "x";
}

}  // namespace

// ---- ROC and AUC -------------------------------------------------------------------------

START_TEST(test_auc_hand_computed) {
  // Fakes 0.9, 0.4; reals 0.8, 0.1. Pairs (fake > real): 0.9>0.8, 0.9>0.1, 0.4>0.1 = 3 of 4.
  ck_assert_double_eq_tol(roc_auc(scores({0.9, 0.4, 0.8, 0.1}, {1, 1, 0, 0})), 0.75, kEps);
  // Perfect and inverted separation.
  ck_assert_double_eq_tol(roc_auc(scores({0.9, 0.8, 0.2, 0.1}, {1, 1, 0, 0})), 1.0, kEps);
  ck_assert_double_eq_tol(roc_auc(scores({0.1, 0.2, 0.8, 0.9}, {1, 1, 0, 0})), 0.0, kEps);
  // Fakes 0.7, 0.5, 0.3 against reals 0.6, 0.2: 0.7 beats both (2), 0.5 beats 0.2 (1), 0.3
  // beats 0.2 (1): 4 of 6 pairs.
  ck_assert_double_eq_tol(roc_auc(scores({0.7, 0.5, 0.3, 0.6, 0.2}, {1, 1, 1, 0, 0})), 4.0 / 6,
                          kEps);
}
END_TEST

START_TEST(test_auc_ties_count_half) {
  // Every score equal: each pair is a tie, AUC 0.5 whatever the order of the input.
  ck_assert_double_eq_tol(roc_auc(scores({0.5, 0.5, 0.5, 0.5}, {1, 0, 1, 0})), 0.5, kEps);
  ck_assert_double_eq_tol(roc_auc(scores({0.5, 0.5, 0.5, 0.5}, {0, 0, 1, 1})), 0.5, kEps);
  // Fakes 0.8, 0.5; reals 0.5, 0.2: pairs 0.8>0.5, 0.8>0.2, 0.5=0.5 (half), 0.5>0.2 -> 3.5/4.
  ck_assert_double_eq_tol(roc_auc(scores({0.8, 0.5, 0.5, 0.2}, {1, 1, 0, 0})), 0.875, kEps);
  // The tie gives one diagonal step: (0,0) -> (0,.5) -> (.5,1) -> (1,1).
  const std::vector<RocPoint> curve = roc_curve(scores({0.8, 0.5, 0.5, 0.2}, {1, 1, 0, 0}));
  ck_assert_uint_eq(curve.size(), 4);
  ck_assert_double_eq_tol(curve[1].fpr, 0.0, kEps);
  ck_assert_double_eq_tol(curve[1].tpr, 0.5, kEps);
  ck_assert_double_eq_tol(curve[2].fpr, 0.5, kEps);
  ck_assert_double_eq_tol(curve[2].tpr, 1.0, kEps);
  ck_assert_double_eq_tol(curve[2].threshold, 0.5, kEps);
  ck_assert_double_eq_tol(curve[3].fpr, 1.0, kEps);
}
END_TEST

START_TEST(test_auc_matches_training_rank_statistic) {
  // deepfake-train's validation AUC (a rank sum) and eval's curve area must agree.
  std::vector<LabelledScore> s;
  std::vector<dfd::training::Scored> t;
  for (int i = 0; i < 200; ++i) {
    const double v = std::floor(std::sin(i * 12.9898) * 8.0) / 8.0;  // coarse: many ties
    const bool fake = (i * 7) % 3 == 0;
    s.push_back({v + (fake ? 0.1 : 0.0), fake});
    t.push_back({static_cast<float>(v + (fake ? 0.1 : 0.0)), fake});
  }
  ck_assert_double_eq_tol(roc_auc(s), dfd::training::roc_auc(t), 1e-6);
}
END_TEST

START_TEST(test_auc_one_class_is_an_error) {
  for (const std::vector<int> &labels : {std::vector<int>{1, 1, 1}, std::vector<int>{0, 0, 0}}) {
    bool thrown = false;
    try {
      roc_auc(scores({0.1, 0.5, 0.9}, labels));
    } catch (const std::invalid_argument &e) {
      thrown = std::string(e.what()).find("real and fake") != std::string::npos;
    }
    ck_assert_msg(thrown, "a one-class AUC must throw, naming the missing class");
  }
  bool thrown = false;
  try {
    roc_curve({});
  } catch (const std::invalid_argument &) {
    thrown = true;
  }
  ck_assert(thrown);
  // The threshold figures still exist for one class; only the AUC is undefined.
  const BinaryMetrics m = compute_metrics(scores({0.7, 0.2}, {1, 1}), 0.5);
  ck_assert(std::isnan(m.auc));
  ck_assert_double_eq_tol(m.accuracy, 0.5, kEps);
}
END_TEST

// ---- Threshold figures -------------------------------------------------------------------

START_TEST(test_threshold_metrics_hand_computed) {
  // Threshold 0.55. Fakes 0.9 (TP), 0.6 (TP), 0.55 (TP: >=), 0.3 (FN);
  // reals 0.7 (FP), 0.2 (TN), 0.54 (TN).
  const BinaryMetrics m =
      compute_metrics(scores({0.9, 0.6, 0.55, 0.3, 0.7, 0.2, 0.54}, {1, 1, 1, 1, 0, 0, 0}), 0.55);
  ck_assert_uint_eq(m.confusion.tp, 3);
  ck_assert_uint_eq(m.confusion.fn, 1);
  ck_assert_uint_eq(m.confusion.fp, 1);
  ck_assert_uint_eq(m.confusion.tn, 2);
  ck_assert_uint_eq(m.real, 3);
  ck_assert_uint_eq(m.fake, 4);
  ck_assert_double_eq_tol(m.accuracy, 5.0 / 7, kEps);
  ck_assert_double_eq_tol(m.precision, 3.0 / 4, kEps);
  ck_assert_double_eq_tol(m.recall, 3.0 / 4, kEps);
  ck_assert_double_eq_tol(m.f1, 2 * 3.0 / (2 * 3 + 1 + 1), kEps);
  // Pairs fake > real: 0.9 beats 3, 0.6 beats 2, 0.55 beats 2, 0.3 beats 1 -> 8 of 12.
  ck_assert_double_eq_tol(m.auc, 8.0 / 12, kEps);
  ck_assert_double_eq_tol(m.threshold, 0.55, kEps);
}
END_TEST

START_TEST(test_threshold_metrics_degenerate) {
  // Nothing called fake: precision and F1 are 0 (scikit-learn's zero_division=0), recall 0.
  const BinaryMetrics m = compute_metrics(scores({0.1, 0.2, 0.3}, {1, 0, 1}), 0.5);
  ck_assert_double_eq_tol(m.precision, 0.0, kEps);
  ck_assert_double_eq_tol(m.recall, 0.0, kEps);
  ck_assert_double_eq_tol(m.f1, 0.0, kEps);
  ck_assert_double_eq_tol(m.accuracy, 1.0 / 3, kEps);
  const BinaryMetrics empty = compute_metrics({}, 0.5);
  ck_assert_uint_eq(empty.confusion.total(), 0);
  ck_assert_double_eq_tol(empty.accuracy, 0.0, kEps);
}
END_TEST

START_TEST(test_method_table_shares_reals) {
  // Reals 0.1, 0.6; method "eyes" fakes 0.9, 0.7; method "nose" fakes 0.4.
  const std::vector<MethodScore> s = {{0.1, false, "r"},
                                      {0.6, false, "r"},
                                      {0.9, true, "eyes"},
                                      {0.7, true, "eyes"},
                                      {0.4, true, "nose"}};
  const MethodTable table = method_table(s, 0.5);
  check_str(table.overall.name, "All (2 methods)");
  ck_assert_uint_eq(table.overall.metrics.real, 2);
  ck_assert_uint_eq(table.overall.metrics.fake, 3);
  ck_assert_uint_eq(table.methods.size(), 2);
  check_str(table.methods[0].name, "eyes");
  ck_assert_uint_eq(table.methods[0].metrics.real, 2);
  ck_assert_uint_eq(table.methods[0].metrics.fake, 2);
  ck_assert_double_eq_tol(table.methods[0].metrics.auc, 1.0, kEps);
  // nose: 0.4 beats 0.1 only: 1 of 2. Accuracy: reals 0.1 TN, 0.6 FP; 0.4 FN -> 1/3.
  ck_assert_double_eq_tol(table.methods[1].metrics.auc, 0.5, kEps);
  ck_assert_double_eq_tol(table.methods[1].metrics.accuracy, 1.0 / 3, kEps);
  // Overall: pairs 0.9 (2), 0.7 (2), 0.4 (1) = 5 of 6.
  ck_assert_double_eq_tol(table.overall.metrics.auc, 5.0 / 6, kEps);

  const std::string md = format_table(table, false);
  ck_assert_msg(md.find("| Test | Accuracy | F1 | AUC |") == 0, "%s", md.c_str());
  ck_assert_msg(md.find("| eyes | 75.00% | 0.8000 | 1.0000 |") != std::string::npos, "%s",
                md.c_str());
  ck_assert_msg(md.find("| nose | 33.33% | 0.0000 | 0.5000 |") != std::string::npos, "%s",
                md.c_str());
  // One method: the overall row names it and no per-method rows repeat it.
  const MethodTable single = method_table({{0.1, false, ""}, {0.9, true, "yonsei"}}, 0.5);
  check_str(single.overall.name, "All (yonsei)");
  ck_assert_msg(format_table(single, true).find("| yonsei |") == std::string::npos, "repeated");
}
END_TEST

// ---- Video rule --------------------------------------------------------------------------

START_TEST(test_video_score_first_identity_above_threshold) {
  // Identity means: a = 0.3, b = 0.7, c = 0.9. The first above 0.55 is b, not the largest.
  const VideoScore v = score_video({{"a", {0.2, 0.4}}, {"b", {0.6, 0.8}}, {"c", {0.9}}}, 0.55);
  ck_assert_double_eq_tol(v.score, 0.7, kEps);
  ck_assert_int_eq(v.deciding_identity, 1);
  ck_assert_uint_eq(v.identities.size(), 3);
  ck_assert_uint_eq(v.identities[0].frames, 2);
  ck_assert_double_eq_tol(v.identities[0].mean, 0.3, kEps);
}
END_TEST

START_TEST(test_video_score_mean_of_means_otherwise) {
  // Means 0.2 (three frames) and 0.5 (one frame): the mean of means is 0.35, not the frame
  // mean 0.275. A mean equal to the threshold does not count as above it.
  const VideoScore v = score_video({{"a", {0.1, 0.2, 0.3}}, {"b", {0.5}}}, 0.55);
  ck_assert_double_eq_tol(v.score, 0.35, kEps);
  ck_assert_int_eq(v.deciding_identity, -1);
  const VideoScore equal = score_video({{"a", {0.55}}, {"b", {0.45}}}, 0.55);
  ck_assert_double_eq_tol(equal.score, 0.5, kEps);
  // Empty identities are dropped; none at all is an error.
  const VideoScore dropped = score_video({{"a", {}}, {"b", {0.9}}}, 0.55);
  ck_assert_uint_eq(dropped.identities.size(), 1);
  bool thrown = false;
  try {
    score_video({{"a", {}}}, 0.55);
  } catch (const std::invalid_argument &) {
    thrown = true;
  }
  ck_assert(thrown);
}
END_TEST

START_TEST(test_score_videos_groups_records) {
  const std::vector<FaceRecord> records = {
      {"v1", "0", 0.2}, {"v2", "0", 0.9}, {"v1", "1", 0.8}, {"v1", "0", 0.4}, {"v1", "1", 0.6}};
  const std::vector<ScoredVideo> videos = score_videos(records, 0.55);
  ck_assert_uint_eq(videos.size(), 2);
  check_str(videos[0].video, "v1");
  // v1: identity 0 mean 0.3, identity 1 mean 0.7 -> 0.7.
  check_str(videos[0].score.identities[0].id, "0");
  ck_assert_double_eq_tol(videos[0].score.score, 0.7, kEps);
  ck_assert_double_eq_tol(videos[1].score.score, 0.9, kEps);
}
END_TEST

START_TEST(test_video_analysis_step) {
  VideoFileOptions o;                           // 32 frames spread over the video
  ck_assert_int_eq(analysis_step(o, 44), 1);    // a short GIF: its first 32 frames
  ck_assert_int_eq(analysis_step(o, 850), 26);  // 34 s at 25 fps: frames 0, 26, ... 806
  ck_assert_int_eq(analysis_step(o, 0), kUnknownCountStep);
  ck_assert_int_eq(analysis_step(o, -1), kUnknownCountStep);
  o.frame_step = 5;  // an explicit step wins
  ck_assert_int_eq(analysis_step(o, 850), 5);
  o.frame_step = 0;
  o.frames_per_video = 0;  // every frame of the whole video
  ck_assert_int_eq(analysis_step(o, 850), 1);
}
END_TEST

// ---- Inputs ------------------------------------------------------------------------------

START_TEST(test_method_and_identity_names) {
  check_str(file_prefix("Deepfakes_000_003.png"), "Deepfakes");
  check_str(file_prefix("12.jpg"), "");
  check_str(identity_from_file_name("120_2.png"), "2");
  check_str(identity_from_file_name("120.png"), "0");
  check_str(identity_from_file_name("a_b.png"), "0");
  check_str(dataset_name("data/yonsei/fake"), "yonsei");
  check_str(dataset_name("data/yonsei/fake/"), "yonsei");
  check_str(dataset_name("data/spliced"), "spliced");
  ck_assert(parse_split("validation") == Split::Validation);
  ck_assert(parse_split("all") == Split::All);
  bool thrown = false;
  try {
    parse_split("test");
  } catch (const std::invalid_argument &) {
    thrown = true;
  }
  ck_assert(thrown);
}
END_TEST

START_TEST(test_labelled_folder_methods_and_split) {
  TempDir dir;
  const std::vector<std::string> files = {
      "set/real/r1.jpg",      "set/real/r2.jpg",     "set/real/r3.png",    "set/fake/eyes/e1.jpg",
      "set/fake/eyes/e2.jpg", "set/fake/Nose_1.jpg", "set/fake/plain.jpg", "set/fake/notes.txt"};
  for (const std::string &f : files) touch(dir / f);
  FolderOptions options;
  options.split = Split::All;
  SampleSet all;
  add_labelled_folder(all, dir / "set", options);
  ck_assert_uint_eq(all.samples.size(), 7);  // notes.txt is not an image
  ck_assert_uint_eq(all.sources.size(), 2);
  std::set<std::string> methods;
  for (const Sample &s : all.samples) {
    if (s.fake) methods.insert(s.method);
  }
  // Subfolder first; flat files take the data set's name without --method-from-prefix.
  ck_assert(methods == (std::set<std::string>{"eyes", "set"}));

  options.method_rule = MethodRule::FilePrefix;
  SampleSet prefixed;
  add_labelled_folder(prefixed, dir / "set", options);
  methods.clear();
  for (const Sample &s : prefixed.samples) {
    if (s.fake) methods.insert(s.method);
  }
  ck_assert(methods == (std::set<std::string>{"eyes", "Nose", "set"}));

  // The split is deepfake-train's: validation and train partition the files.
  for (const int percent : {0, 30, 100}) {
    options.val_percent = percent;
    SampleSet val, train;
    options.split = Split::Validation;
    add_labelled_folder(val, dir / "set", options);
    options.split = Split::Train;
    add_labelled_folder(train, dir / "set", options);
    ck_assert_uint_eq(val.samples.size() + train.samples.size(), 7);
    for (const Sample &s : val.samples) {
      ck_assert(dfd::training::is_validation_name(s.name, percent));
      ck_assert(s.validation);
    }
    for (const Sample &s : train.samples) ck_assert(!s.validation);
    ck_assert_uint_eq(val.sources[0].files, 3);
  }

  bool thrown = false;
  try {
    SampleSet missing;
    add_labelled_folder(missing, dir / "set/real", options);
  } catch (const std::runtime_error &e) {
    thrown = std::string(e.what()).find("real/ and fake/") != std::string::npos;
  }
  ck_assert(thrown);
}
END_TEST

START_TEST(test_group_by_folder_and_csv) {
  TempDir dir;
  for (const char *f : {"v/real/clip1/0_0.png", "v/real/clip1/10_1.png", "v/fake/clipA/0_0.png"}) {
    touch(dir / f);
  }
  FolderOptions options;
  options.split = Split::All;
  options.grouping = FrameGrouping::ByFolder;
  SampleSet set;
  add_labelled_folder(set, dir / "v", options);
  ck_assert_uint_eq(set.samples.size(), 3);
  for (const Sample &s : set.samples) {
    ck_assert_msg(s.video == fs::path(s.path).parent_path().string(), "%s", s.video.c_str());
    check_str(s.identity, s.name.find("_1") != std::string::npos ? "1" : "0");
  }

  std::ofstream(dir / "list.csv") << "video_name,label,video_prob,high_low_prob,example_file_name\n"
                                     "vid1,1,0.9,high,Deepfakes_vid1_0.png\n"
                                     "vid2,0,0.1,low,Original_vid2_0.png\n";
  SampleSet csv;
  add_seed_csv(csv, dir / "list.csv", dir / "examples", options);
  ck_assert_uint_eq(csv.samples.size(), 2);
  ck_assert(csv.samples[0].fake);
  check_str(csv.samples[0].method, "Deepfakes");
  check_str(csv.samples[0].video, "vid1");
  check_str(csv.samples[0].path, dir / "examples/Deepfakes_vid1_0.png");
  ck_assert(!csv.samples[1].fake);
  std::ofstream(dir / "bad.csv") << "label,example_file_name\nmaybe,x.png\n";
  bool thrown = false;
  try {
    SampleSet bad;
    add_seed_csv(bad, dir / "bad.csv", dir / "examples", options);
  } catch (const std::runtime_error &e) {
    thrown = std::string(e.what()).find("maybe") != std::string::npos;
  }
  ck_assert(thrown);
}
END_TEST

// ---- Report ------------------------------------------------------------------------------

namespace {

EvalReport sample_report() {
  EvalReport r;
  r.command = "deepfake-eval --data 'a b'";
  r.tool_version = "0.1.0";
  r.model = {"m.safetensors", "test", "spatial", "random", "cpu", 224, 0.55};
  r.threshold = 0.55;
  r.split = "validation";
  r.video_split = "all";
  r.val_percent = 20;
  r.datasets.push_back({"folder", "x/real", "real", 10, 2});
  r.skipped.emplace_back("x/real/broken.jpg", "cannot decode");
  const std::vector<MethodScore> s = {{0.1, false, "r"}, {0.9, true, "eyes"}, {0.3, true, "nose"}};
  r.frame_table = method_table(s, 0.55);
  r.frames.push_back({"x/real/a.jpg", false, "real", -2.2, 0.1});
  r.frames.push_back({"x/fake/eyes/b.jpg", true, "eyes", 2.2, 0.9});
  VideoResult v;
  v.name = "clip.mp4";
  v.origin = "file";
  v.fake = true;
  v.method = "generated";
  v.score = score_video({{"track-1", {0.9, 0.7}}}, 0.55);
  v.frames_read = 40;
  v.frames_analysed = 4;
  v.faces = 2;
  r.videos.push_back(v);
  VideoResult none;
  none.name = "empty.gif";
  none.origin = "file";
  none.method = "real";
  none.error = "no face found";
  r.videos.push_back(none);
  r.video_table = method_table({{0.8, true, "generated"}, {0.2, false, "real"}}, 0.55);
  r.video_rule = "seed";
  DeletionResult d;
  d.grid_width = d.grid_height = 7;
  d.steps = 2;
  d.random_orders = 3;
  d.note = "spatial";
  d.curves.push_back(summarise_curves("relevancy", {{2.0, 0.0, -1.0}}));
  d.curves.push_back(summarise_curves("random", {{2.0, 1.0, -1.0}}));
  d.images.push_back({"b.jpg", 2.0, {0.75, 1.25}});
  d.relevancy_beats_random = 1.0;
  r.deletion = d;
  d.space = DeletionSpace::Tokens;
  r.token_deletion = d;
  r.roc_png = "roc.png";
  return r;
}

}  // namespace

START_TEST(test_report_schema) {
  const EvalReport r = sample_report();
  const std::string text = dfd::json::dump(report_to_json(r));
  const dfd::json::Value v = dfd::json::parse(text);  // parses back
  const std::vector<std::string> problems = check_report_schema(v);
  for (const std::string &p : problems) fprintf(stderr, "schema: %s\n", p.c_str());
  ck_assert_uint_eq(problems.size(), 0);

  // Independently of check_report_schema: the keys a model card script reads, by type.
  check_str(json::as_string(*json::find(v, "schema")), "gst-deepfake/eval-report");
  ck_assert_int_eq(static_cast<int>(json::as_number(*json::find(v, "schema_version"))), 1);
  check_str(json::as_string(*json::find(v, "command")), "deepfake-eval --data 'a b'");
  check_str(json::as_string((*json::find(*json::find(v, "tool"), "name"))), "deepfake-eval");
  ck_assert_double_eq_tol(json::as_number(*json::find(*json::find(v, "model"), "threshold")), 0.55,
                          kEps);
  check_str(json::as_string(*json::find(*json::find(v, "split"), "name")), "validation");
  check_str(json::as_string(*json::find(*json::find(v, "split"), "videos")), "all");
  ck_assert_int_eq(
      static_cast<int>(json::as_number(*json::find(*json::find(v, "split"), "val_percent"))), 20);
  const dfd::json::Value &frame = *v.find("frame");
  const dfd::json::Value &overall = *frame.find("overall");
  for (const char *key : {"accuracy", "precision", "recall", "f1", "auc", "real", "fake"}) {
    ck_assert_msg(json::find(overall, key) && json::find(overall, key)->is_number(),
                  "frame.overall.%s", key);
  }
  ck_assert_double_eq_tol(json::as_number(*json::find(overall, "auc")), 1.0, kEps);
  ck_assert_int_eq(
      static_cast<int>(json::as_number(*json::find(*json::find(overall, "confusion"), "tp"))), 1);
  ck_assert_uint_eq(json::as_array(*json::find(frame, "methods")).size(), 2);
  ck_assert_uint_eq(json::as_array(*json::find(frame, "records")).size(), 2);
  const dfd::json::Value &videos = *v.find("video")->find("videos");
  ck_assert_double_eq_tol(json::as_number(*json::find(json::as_array(videos)[0], "score")), 0.8,
                          kEps);
  check_str(json::as_string(*json::find(json::as_array(videos)[0], "deciding_identity")),
            "track-1");
  ck_assert(json::find(json::as_array(videos)[1], "score")->is_null());
  ck_assert(json::find(json::as_array(videos)[1], "error")->is_string());
  const dfd::json::Value &curves = *v.find("deletion_test")->find("curves");
  ck_assert_uint_eq(json::as_array(*json::find(json::as_array(curves)[0], "mean_logit")).size(), 3);
  ck_assert_double_eq_tol(json::as_number(*json::find(json::as_array(curves)[0], "logit_area")),
                          0.25, kEps);
  const dfd::json::Value &first_image =
      json::as_array(*json::find(*json::find(v, "deletion_test"), "per_image"))[0];
  ck_assert_double_eq_tol(
      json::as_number(*json::find(*json::find(first_image, "logit_area"), "random")), 1.25, kEps);
  check_str(json::as_string(*json::find(*json::find(v, "deletion_test"), "space")), "pixels");
  check_str(json::as_string(*json::find(*json::find(v, "token_deletion_test"), "space")), "tokens");

  // A one-class set has no AUC: null, not NaN (which is not JSON).
  EvalReport one_class = sample_report();
  one_class.frame_table = method_table({{0.9, true, "x"}}, 0.5);
  one_class.video_table.reset();
  one_class.deletion.reset();
  one_class.token_deletion.reset();
  one_class.roc_png.clear();
  one_class.video_split.clear();
  const dfd::json::Value w = dfd::json::parse(dfd::json::dump(report_to_json(one_class)));
  ck_assert(w.find("frame")->find("overall")->find("auc")->is_null());
  ck_assert(w.find("video")->is_null());
  ck_assert(w.find("deletion_test")->is_null());
  ck_assert(w.find("token_deletion_test")->is_null());
  ck_assert(w.find("roc_png")->is_null());
  ck_assert(w.find("split")->find("videos")->is_null());
  ck_assert_uint_eq(check_report_schema(w).size(), 0);

  // The checker notices a missing key and a wrong type.
  dfd::json::Value broken = v;
  json::as_object(broken).erase("threshold");
  broken["split"]["val_percent"] = "twenty";
  const std::vector<std::string> found = check_report_schema(broken);
  ck_assert_uint_eq(found.size(), 2);
}
END_TEST

// ---- ROC figure --------------------------------------------------------------------------

START_TEST(test_roc_png_written_at_size) {
  TempDir dir;
  const std::vector<LabelledScore> s = scores({0.9, 0.8, 0.3, 0.7, 0.2, 0.1}, {1, 1, 1, 0, 0, 0});
  const std::vector<RocSeries> series = {{"frames", roc_curve(s), roc_auc(s)},
                                         {"other", roc_curve(s), 0.5}};
  check_str(legend_label(series[0]), "frames (AUC = 0.889)");
  const std::string path = dir / "roc.png";
  write_roc_png(path, series, 640, 480);
  const cv::Mat png = cv::imread(path, cv::IMREAD_UNCHANGED);
  ck_assert(!png.empty());
  ck_assert_int_eq(png.cols, 640);
  ck_assert_int_eq(png.rows, 480);
  ck_assert_int_eq(png.channels(), 3);
  // Something besides the white background and grey grid was drawn: the coloured curves.
  size_t coloured = 0;
  for (int y = 0; y < png.rows; ++y) {
    for (int x = 0; x < png.cols; ++x) {
      const cv::Vec3b p = png.at<cv::Vec3b>(y, x);
      if (std::abs(p[0] - p[2]) > 60) ++coloured;
    }
  }
  ck_assert_msg(coloured > 500, "only %zu coloured pixels", coloured);
  bool thrown = false;
  try {
    render_roc(series, 100, 100);
  } catch (const std::invalid_argument &) {
    thrown = true;
  }
  ck_assert(thrown);
}
END_TEST

// ---- Deletion test -----------------------------------------------------------------------

START_TEST(test_deletion_order_on_synthetic_grid) {
  // 3x2 grid: most relevant first, ties in index order.
  const std::vector<float> grid = {0.1f, 0.9f, 0.5f, 0.9f, 0.0f, 0.3f};
  const std::vector<int> order = relevance_order(grid);
  ck_assert(order == (std::vector<int>{1, 3, 2, 5, 0, 4}));

  // Random orders: permutations, fixed by the seed, different between seeds.
  const std::vector<int> a = random_order(49, 5), b = random_order(49, 5), c = random_order(49, 6);
  ck_assert(a == b);
  ck_assert(a != c);
  std::vector<int> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 49; ++i) ck_assert_int_eq(sorted[static_cast<size_t>(i)], i);

  ck_assert_int_eq(cells_hidden_at(0, 10, 49), 0);
  ck_assert_int_eq(cells_hidden_at(5, 10, 49), 25);  // 24.5 rounds away from zero
  ck_assert_int_eq(cells_hidden_at(10, 10, 49), 49);

  // Cells tile a 224 input of a 7x7 grid in 32 px squares, row-major.
  const cv::Rect r = cell_rect(9, 7, 7, 224);
  ck_assert_int_eq(r.x, 64);
  ck_assert_int_eq(r.y, 32);
  ck_assert_int_eq(r.width, 32);
  ck_assert_int_eq(r.height, 32);
  // Uneven sizes still tile the whole image without gaps.
  int covered = 0;
  for (int cell = 0; cell < 9; ++cell) covered += cell_rect(cell, 3, 3, 100).area();
  ck_assert_int_eq(covered, 100 * 100);

  // Hiding: exactly the chosen cells change, to the fill's pixels.
  cv::Mat input(224, 224, CV_8UC3, cv::Scalar(200, 100, 50));
  input(cv::Rect(0, 0, 112, 224)).setTo(cv::Scalar(0, 0, 0));
  const cv::Mat fill = deletion_fill_image(input, DeletionFill::Mean);
  ck_assert_int_eq(fill.at<cv::Vec3b>(0, 0)[0], 100);  // half 200, half 0
  const cv::Mat hidden = hide_cells(input, fill, {9, 0}, 1, 7, 7);
  ck_assert_int_eq(hidden.at<cv::Vec3b>(40, 70)[0], 100);  // inside cell 9
  ck_assert_int_eq(hidden.at<cv::Vec3b>(5, 5)[0], 0);      // cell 0 not hidden yet
  ck_assert_int_eq(cv::countNonZero(cv::Mat(hidden != input).reshape(1)), 32 * 32 * 3);
  ck_assert_int_eq(input.at<cv::Vec3b>(40, 70)[0], 0);  // the input is untouched
  ck_assert(cv::countNonZero(deletion_fill_image(input, DeletionFill::Zero).reshape(1)) == 0);

  // The seed's grid is pooled to the displayed 16x16 map.
  dfd::RelevancyGrid seed{32, 32, std::vector<float>(1024, 1.f)};
  const DeletionGrid pooled = deletion_grid(seed, dfd::Architecture::Seed);
  ck_assert_int_eq(pooled.width, 16);
  ck_assert_uint_eq(pooled.values.size(), 256);
  const DeletionGrid spatial =
      deletion_grid({7, 7, std::vector<float>(49, 0.f)}, dfd::Architecture::Spatial);
  ck_assert_int_eq(spatial.width, 7);
}
END_TEST

START_TEST(test_deletion_areas) {
  // Evenly spaced on [0, 1]: trapezoids of (2,0), (0,-1) over halves -> 0.5 + -0.25 = 0.25.
  ck_assert_double_eq_tol(curve_area({2.0, 0.0, -1.0}), 0.25, kEps);
  ck_assert_double_eq_tol(curve_area({1.0, 1.0}), 1.0, kEps);
  const DeletionCurve c = summarise_curves("x", {{2.0, 0.0, -1.0}, {0.0, 0.0, 1.0}});
  ck_assert_uint_eq(c.mean_logit.size(), 3);
  ck_assert_double_eq_tol(c.mean_logit[0], 1.0, kEps);
  ck_assert_double_eq_tol(c.mean_logit[2], 0.0, kEps);
  ck_assert_double_eq_tol(c.mean_probability[1], 0.5, kEps);
  ck_assert_double_eq_tol(c.logit_area, curve_area({1.0, 0.0, 0.0}), kEps);
  ck_assert_double_eq_tol(c.mean_logit_drop, 1.0, kEps);  // 1 - mean(0, 0)
}
END_TEST

namespace {

// A small random spatial model (128 px: a 4x4 grid) with BatchNorm statistics of its inputs,
// so its activations and attention are not degenerate.
std::string small_model(const std::string &path) {
  dfd::ModelConfig c;
  c.architecture = dfd::Architecture::Spatial;
  c.image_size = 128;
  c.transformer.dim = 32;
  c.transformer.depth = 2;
  c.transformer.heads = 2;
  c.transformer.dim_head = 16;
  c.transformer.mlp_dim = 64;
  c.name = "test-evaluation";
  c.source = "random initialisation (tests/test_evaluation.cpp)";
  torch::manual_seed(11);
  dfd::DeepfakeNet net(c);
  net->train();
  {
    torch::NoGradGuard no_grad;
    for (int i = 0; i < 3; ++i) net->forward(torch::rand({4, 3, 128, 128}) * 255.0);
  }
  dfd::save_weights(net, path);
  return path;
}

}  // namespace

START_TEST(test_deletion_end_to_end_small_model) {
  TempDir dir;
  const std::string model = small_model(dir / "m.safetensors");
  dfd::EngineOptions options;
  options.threads = 1;
  const std::unique_ptr<dfd::Engine> engine = dfd::Engine::load(model, options);
  AttentionRollout rollout(model, "cpu");

  std::vector<DeletionInput> inputs;
  for (int i = 0; i < 2; ++i) {
    cv::Mat image(128, 128, CV_8UC3);
    cv::randu(image, cv::Scalar::all(0), cv::Scalar::all(255));
    inputs.push_back({"img" + std::to_string(i), image});
  }
  // Plain rollout: row 0 of a product of row-stochastic matrices, so the grid is positive and
  // sums to 1 minus the cls token's own share.
  const std::vector<dfd::RelevancyGrid> grids = rollout.compute(inputs[0].image.data, 1);
  ck_assert_int_eq(grids[0].width, 4);
  ck_assert_uint_eq(grids[0].values.size(), 16);
  double sum = 0.0;
  for (const float v : grids[0].values) {
    ck_assert(v > 0.f);
    sum += v;
  }
  ck_assert_msg(sum > 0.0 && sum < 1.0, "rollout row sums to %f", sum);

  DeletionOptions deletion;
  deletion.steps = 4;
  deletion.random_orders = 2;
  const DeletionResult result = run_deletion_test(
      *engine, inputs, deletion,
      [&](const uint8_t *images, size_t count) { return rollout.compute(images, count); });
  ck_assert_int_eq(result.grid_width, 4);
  ck_assert_int_eq(result.steps, 4);
  ck_assert(result.spatially_grounded);
  ck_assert_uint_eq(result.curves.size(), 3);
  check_str(result.curves[0].order, "relevancy");
  check_str(result.curves[1].order, "attention-rollout");
  check_str(result.curves[2].order, "random");
  ck_assert_uint_eq(result.images.size(), 2);
  // Every curve starts at the unmasked logit and ends at the fully hidden image, whatever the
  // order; the first point is the engine's own logit for the input.
  const std::vector<dfd::Prediction> plain = engine->infer(inputs[0].image.data, 1, false);
  ck_assert_double_eq_tol(result.images[0].logit, plain[0].logit, 1e-4);
  for (const DeletionCurve &c : result.curves) {
    ck_assert_uint_eq(c.mean_logit.size(), 5);
    ck_assert_double_eq_tol(c.mean_logit.front(), result.curves[0].mean_logit.front(), 1e-4);
    ck_assert_double_eq_tol(c.mean_logit.back(), result.curves[0].mean_logit.back(), 1e-3);
    ck_assert(std::isfinite(c.logit_area));
  }
  ck_assert(result.relevancy_beats_random >= 0.0 && result.relevancy_beats_random <= 1.0);

  // Without rollout the comparison is relevancy against random, and the note says why.
  const DeletionResult plain_result = run_deletion_test(*engine, {inputs[0]}, deletion, {});
  ck_assert_uint_eq(plain_result.curves.size(), 2);
  ck_assert(plain_result.note.find("rollout") != std::string::npos);
  // Wrongly sized inputs are refused.
  bool thrown = false;
  try {
    run_deletion_test(*engine, {{"small", cv::Mat(64, 64, CV_8UC3)}}, deletion, {});
  } catch (const std::invalid_argument &) {
    thrown = true;
  }
  ck_assert(thrown);
}
END_TEST

// --write-calibrated's copy: the same tensors, bit for bit, under the new threshold and a
// training record that gained the calibration and kept the rest.
START_TEST(test_calibrated_copy_keeps_weights) {
  TempDir dir;
  const std::string model = small_model(dir / "m.safetensors");
  const dfd::ModelFile original = dfd::ModelFile::open(model);
  dfd::ModelConfig config = original.config();
  const json::Value record_before = config.training;
  config.threshold = 0.8125;
  if (!config.training.is_object()) config.training = json::Object{};
  config.training["calibration"]["scope"] = "every-source";
  dfd::write_model_file(dir / "c.safetensors", config, original);

  const dfd::ModelFile copy = dfd::ModelFile::open(dir / "c.safetensors");
  ck_assert_double_eq(copy.config().threshold, 0.8125);
  check_str(json::as_string(copy.config().training["calibration"]["scope"]), "every-source");
  if (record_before.is_object()) {
    for (const auto &[key, value] : json::as_object(record_before)) {
      ck_assert_msg(json::dump(copy.config().training[key]) == json::dump(value), "%s",
                    key.c_str());
    }
  }
  ck_assert_uint_eq(copy.file().tensors().size(), original.file().tensors().size());
  for (const dfd::TensorInfo &t : original.file().tensors()) {
    const std::vector<float> a = original.tensor_as_float(t.name);
    const std::vector<float> b = copy.tensor_as_float(t.name);
    ck_assert_msg(a == b, "tensor %s changed", t.name.c_str());
  }
}
END_TEST

// Token space: the scorer drops the tokens themselves, so removing none is the plain model and
// removing all leaves the cls token alone, whatever the order.
START_TEST(test_token_deletion_small_model) {
  TempDir dir;
  const std::string model = small_model(dir / "m.safetensors");
  dfd::EngineOptions options;
  options.threads = 1;
  const std::unique_ptr<dfd::Engine> engine = dfd::Engine::load(model, options);
  TokenRemoval removal(model, "cpu");
  cv::Mat image(128, 128, CV_8UC3);
  cv::randu(image, cv::Scalar::all(0), cv::Scalar::all(255));
  const dfd::Prediction explained = engine->infer(image.data, 1, true).front();

  const std::vector<double> logits = removal.logits_without(
      image.data, {{}, {5}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}});
  ck_assert_uint_eq(logits.size(), 3);
  ck_assert_double_eq_tol(logits[0], explained.logit, 1e-4);
  ck_assert_msg(std::fabs(logits[1] - logits[0]) > 1e-6, "removing a token changed nothing");
  bool thrown = false;
  try {
    removal.logits_without(image.data, {{16}});
  } catch (const std::out_of_range &) {
    thrown = true;
  }
  ck_assert(thrown);

  DeletionOptions deletion;
  deletion.steps = 4;
  deletion.random_orders = 2;
  deletion.space = DeletionSpace::Tokens;
  const auto scorer = [&](const uint8_t *im, const std::vector<std::vector<int>> &removed) {
    return removal.logits_without(im, removed);
  };
  const DeletionResult result = run_deletion_test(*engine, {{"img", image}}, deletion, {}, scorer);
  ck_assert(result.space == DeletionSpace::Tokens);
  ck_assert_uint_eq(result.curves.size(), 2);
  for (const DeletionCurve &c : result.curves) {
    ck_assert_double_eq_tol(c.mean_logit.front(), explained.logit, 1e-4);
    ck_assert_double_eq_tol(c.mean_logit.back(), logits[2], 1e-4);
  }

  // With a scorer whose logit falls by the relevancy of each removed token, the relevancy
  // order must fall fastest: this catches a reversed or misaligned order.
  const std::vector<float> &relevancy = explained.relevancy.values;
  const DeletionResult ideal =
      run_deletion_test(*engine, {{"img", image}}, deletion, {},
                        [&](const uint8_t *, const std::vector<std::vector<int>> &removed) {
                          std::vector<double> out;
                          for (const std::vector<int> &set : removed) {
                            double logit = explained.logit;
                            for (const int cell : set)
                              logit -= relevancy[static_cast<size_t>(cell)];
                            out.push_back(logit);
                          }
                          return out;
                        });
  ck_assert(ideal.curves[0].logit_area < ideal.curves[1].logit_area);
  ck_assert_double_eq(ideal.relevancy_beats_random, 1.0);

  thrown = false;
  try {
    run_deletion_test(*engine, {{"img", image}}, deletion, {});
  } catch (const std::invalid_argument &) {
    thrown = true;
  }
  ck_assert_msg(thrown, "token space without a scorer must be refused");
}
END_TEST

int main() {
  Suite *suite = suite_create("evaluation");
  TCase *metrics = tcase_create("metrics");
  tcase_add_test(metrics, test_auc_hand_computed);
  tcase_add_test(metrics, test_auc_ties_count_half);
  tcase_add_test(metrics, test_auc_matches_training_rank_statistic);
  tcase_add_test(metrics, test_auc_one_class_is_an_error);
  tcase_add_test(metrics, test_threshold_metrics_hand_computed);
  tcase_add_test(metrics, test_threshold_metrics_degenerate);
  tcase_add_test(metrics, test_method_table_shares_reals);
  suite_add_tcase(suite, metrics);

  TCase *video = tcase_create("video");
  tcase_add_test(video, test_video_score_first_identity_above_threshold);
  tcase_add_test(video, test_video_score_mean_of_means_otherwise);
  tcase_add_test(video, test_score_videos_groups_records);
  tcase_add_test(video, test_video_analysis_step);
  suite_add_tcase(suite, video);

  TCase *inputs = tcase_create("inputs");
  tcase_add_test(inputs, test_method_and_identity_names);
  tcase_add_test(inputs, test_labelled_folder_methods_and_split);
  tcase_add_test(inputs, test_group_by_folder_and_csv);
  suite_add_tcase(suite, inputs);

  TCase *report = tcase_create("report");
  tcase_add_test(report, test_report_schema);
  tcase_add_test(report, test_roc_png_written_at_size);
  tcase_add_test(report, test_calibrated_copy_keeps_weights);
  suite_add_tcase(suite, report);

  TCase *deletion = tcase_create("deletion");
  tcase_set_timeout(deletion, 300);
  tcase_add_test(deletion, test_deletion_order_on_synthetic_grid);
  tcase_add_test(deletion, test_deletion_areas);
  tcase_add_test(deletion, test_deletion_end_to_end_small_model);
  tcase_add_test(deletion, test_token_deletion_small_model);
  suite_add_tcase(suite, deletion);

  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_VERBOSE);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
