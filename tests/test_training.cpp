// deepfake-train's parts: the file-name split, the config parser, self-blended pseudo-fakes,
// augmentation, validation metrics, the learning-rate schedule, and the trainer itself (a few
// real steps on a tiny model, and a resumed run that matches an uninterrupted one exactly).
// LibTorch is used here, so the suite runs with CK_FORK=no (see build notes).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/efficientnet_lite0.h"
#include "core/model_error.h"
#include "core/model_file.h"
#include "core/safetensors.h"
#include "imaging/preprocess.h"
#include "training/augment.h"
#include "training/dataset.h"
#include "training/examples.h"
#include "training/landmarks.h"
#include "training/metrics.h"
#include "training/schedule.h"
#include "training/self_blend.h"
#include "training/train_config.h"
#include "training/trainer.h"
#include "training/training_run.h"

// check.h defines macros (fail, ...) that clash with libstdc++ headers: include it last.
#include <check.h>

namespace fs = std::filesystem;
using namespace dfd::training;

namespace {

const char *kFaces[] = {"real-photos-100.jpg", "real-photos-137.jpg", "real-photos-156.jpg"};

std::string data_path(const std::string &file) {
  const char *dir = std::getenv("DFD_TEST_DATA");
  ck_assert_msg(dir != nullptr, "DFD_TEST_DATA is not set");
  return std::string(dir) + "/faces/" + file;
}

cv::Mat load_face(const char *file) {
  cv::Mat image = cv::imread(data_path(file), cv::IMREAD_COLOR);
  ck_assert_msg(!image.empty(), "cannot read %s", file);
  return image;
}

// A temporary folder removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/dfd-test-training-XXXXXX";
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
  const std::string &path() const { return path_; }
  std::string operator/(const std::string &name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void touch(const std::string &path) {
  std::ofstream out(path);
  out << "x";
}

// The shape predictor takes a second to load; one per process (the suite does not fork).
Landmarker &landmarker() {
  static Landmarker instance;
  return instance;
}

TrainConfig parse(const std::string &text) {
  return parse_train_config_text(text, "test.json");
}

const char *kModel = R"("model": {"name": "tiny", "architecture": "spatial",
    "input": {"size": 64, "color_order": "BGR", "mean": [0, 0, 0], "std": [1, 1, 1],
              "resize": "isotropic-pad"},
    "transformer": {"dim": 32, "depth": 1, "heads": 2, "dim_head": 16, "mlp_dim": 64,
                    "dropout": 0.0, "emb_dropout": 0.0},
    "threshold": 0.5})";

std::string minimal_config(const std::string &extra = "") {
  return std::string("{") + kModel +
         R"(, "epochs": 1, "batch_size": 4, "optimizer": {"type": "adamw", "lr": 0.001})" + extra +
         "}";
}

// Fails unless parsing `text` throws ConfigError mentioning every one of `needles`.
void expect_config_error(const std::string &text, std::initializer_list<const char *> needles) {
  try {
    parse(text);
  } catch (const ConfigError &e) {
    const std::string message = e.what();
    for (const char *needle : needles) {
      ck_assert_msg(message.find(needle) != std::string::npos, "error '%s' does not mention '%s'",
                    message.c_str(), needle);
    }
    ck_assert_msg(message.find("test.json") != std::string::npos, "error '%s' names no file",
                  message.c_str());
    return;
  }
  ck_abort_msg("config was accepted: %s", text.c_str());
}

// The convex hull of all landmarks, dilated by `margin` pixels.
cv::Mat face_region(cv::Size size, const std::vector<cv::Point2f> &points, int margin) {
  Rng rng(0);
  cv::Mat region = landmark_region(size, points, HullType::Face, rng);
  if (margin > 0) {
    const cv::Mat kernel =
        cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * margin + 1, 2 * margin + 1));
    cv::dilate(region, region, kernel);
  }
  return region;
}

}  // namespace

// ---- Split -------------------------------------------------------------------------------

START_TEST(test_fnv1a_reference_values) {
  // Published FNV-1a 32-bit test vectors: the split must never depend on the platform.
  ck_assert_uint_eq(fnv1a(""), 0x811c9dc5u);
  ck_assert_uint_eq(fnv1a("a"), 0xe40c292cu);
  ck_assert_uint_eq(fnv1a("foobar"), 0xbf9cf968u);
  ck_assert(is_validation_name("a", 100));
  ck_assert(!is_validation_name("a", 0));
  ck_assert_int_eq(is_validation_name("foobar", 20), fnv1a("foobar") % 100 < 20);
}
END_TEST

START_TEST(test_split_deterministic_and_disjoint) {
  TempDir dir;
  fs::create_directories(dir / "real/sub");
  fs::create_directories(dir / "fake");
  fs::create_directories(dir / "other");
  for (int i = 0; i < 300; ++i) {
    const std::string name = "face-" + std::to_string(i) + ".jpg";
    touch(dir / ("real/" + (i % 3 == 0 ? "sub/" + name : name)));
    touch(dir / ("fake/" + name));
  }
  // Created in the opposite order: listing order must not matter.
  for (int i = 299; i >= 0; --i) touch(dir / ("other/face-" + std::to_string(i) + ".jpg"));
  touch(dir / "real/notes.txt");  // not an image

  const Dataset a = load_dataset({dir / "real"}, {dir / "fake"}, 20);
  const Dataset b = load_dataset({dir / "real"}, {dir / "fake"}, 20);
  ck_assert_uint_eq(a.train_real.size() + a.val_real.size(), 300);
  ck_assert_uint_eq(a.train_fake.size() + a.val_fake.size(), 300);
  ck_assert_uint_eq(a.val_real.size(), b.val_real.size());
  for (size_t i = 0; i < a.val_real.size(); ++i) {
    ck_assert_str_eq(a.val_real[i].path.c_str(), b.val_real[i].path.c_str());
  }
  // About val_percent of the files, and no file on both sides.
  ck_assert_msg(a.val_real.size() > 30 && a.val_real.size() < 90, "val holds %zu of 300",
                a.val_real.size());
  std::set<std::string> train_paths, val_names;
  for (const ImageEntry &e : a.train_real) train_paths.insert(e.path);
  for (const ImageEntry &e : a.val_real) {
    ck_assert(train_paths.count(e.path) == 0);
    ck_assert(is_validation_name(e.name, 20));
    val_names.insert(e.name);
  }
  for (const ImageEntry &e : a.train_real) ck_assert(!is_validation_name(e.name, 20));
  // The name decides, not the folder: the same names are held out among the fakes.
  std::set<std::string> val_fake_names;
  for (const ImageEntry &e : a.val_fake) val_fake_names.insert(e.name);
  ck_assert(val_names == val_fake_names);
  const std::vector<ImageEntry> other = scan_image_folder(dir / "other", false, 20);
  std::set<std::string> other_val;
  for (const ImageEntry &e : other) {
    if (e.validation) other_val.insert(e.name);
  }
  ck_assert(other_val == val_names);
}
END_TEST

START_TEST(test_split_errors) {
  TempDir dir;
  fs::create_directories(dir / "empty");
  bool threw = false;
  try {
    scan_image_folder(dir / "empty", false, 20);
  } catch (const std::runtime_error &e) {
    threw = std::string(e.what()).find("no images") != std::string::npos;
  }
  ck_assert(threw);
  threw = false;
  try {
    scan_image_folder(dir / "missing", false, 20);
  } catch (const std::runtime_error &e) {
    threw = std::string(e.what()).find("missing") != std::string::npos;
  }
  ck_assert(threw);
}
END_TEST

START_TEST(test_epoch_plan) {
  Dataset data;
  const auto entry = [](const std::string &folder, int i, bool fake) {
    ImageEntry e;
    e.folder = folder;
    e.name = std::to_string(i) + ".jpg";
    e.path = folder + "/" + e.name;
    e.fake = fake;
    return e;
  };
  for (int i = 0; i < 40; ++i) data.train_real.push_back(entry("d/yonsei/real", i, false));
  for (int i = 0; i < 60; ++i) data.train_real.push_back(entry("d/photos", i, false));
  for (int i = 0; i < 15; ++i) data.train_fake.push_back(entry("d/yonsei/fake/", i, true));
  // Compared as std::string: ck_assert_str_eq would read the temporary after it is destroyed.
  ck_assert(parent_folder("d/yonsei/fake/") == "d/yonsei");
  ck_assert(parent_folder("d/yonsei/real") == "d/yonsei");

  DataConfig config;
  config.sampling = Sampling::Pairs;
  config.sbi_fraction = 0.25;
  config.fake_partner = FakePartner::SameParent;
  const std::vector<Unit> a = plan_epoch(data, config, 5, 0);
  const std::vector<Unit> b = plan_epoch(data, config, 5, 0);
  const std::vector<Unit> c = plan_epoch(data, config, 5, 1);
  ck_assert_uint_eq(a.size(), 100);
  std::set<int> reals;
  int with_fake = 0, same_as_b = 0, same_as_c = 0;
  std::vector<int> uses(15, 0);
  for (size_t i = 0; i < a.size(); ++i) {
    reals.insert(a[i].real);
    same_as_b += a[i].real == b[i].real && a[i].fake == b[i].fake ? 1 : 0;
    same_as_c += a[i].real == c[i].real ? 1 : 0;
    if (a[i].kind == FakeKind::SelfBlend) {
      ck_assert_int_eq(a[i].fake, -1);
      continue;
    }
    // Only the yonsei reals (indices 0-39) share a parent with the fakes.
    ck_assert_msg(a[i].real < 40, "a photos real was paired with a yonsei fake");
    ++uses[static_cast<size_t>(a[i].fake)];
    ++with_fake;
  }
  ck_assert_uint_eq(reals.size(), 100);  // every training real once
  ck_assert_int_eq(same_as_b, 100);      // the same plan for the same (seed, epoch)
  ck_assert(same_as_c < 50);             // another order the next epoch
  ck_assert_msg(with_fake > 20 && with_fake < 40, "%d of 40 yonsei reals got a real fake",
                with_fake);
  // Without replacement: no fake is used twice before every fake was used once.
  for (int n : uses) ck_assert(n >= with_fake / 15 && n <= with_fake / 15 + 1);

  config.fake_partner = FakePartner::Any;
  int photos_with_fake = 0;
  for (const Unit &u : plan_epoch(data, config, 5, 0))
    photos_with_fake += u.kind == FakeKind::Paired && u.real >= 40;
  ck_assert(photos_with_fake > 0);

  config.sampling = Sampling::Images;
  config.sbi_fraction = 0.0;
  const std::vector<Unit> images = plan_epoch(data, config, 5, 0);
  ck_assert_uint_eq(images.size(), 115);
  int fakes = 0;
  for (const Unit &u : images) fakes += u.fake >= 0 ? 1 : 0;
  ck_assert_int_eq(fakes, 15);
}
END_TEST

// ---- Config ------------------------------------------------------------------------------

START_TEST(test_config_minimal_and_defaults) {
  const TrainConfig c = parse(minimal_config());
  ck_assert_int_eq(c.model.image_size, 64);
  ck_assert(c.model.architecture == dfd::Architecture::Spatial);
  ck_assert(c.optimizer.kind == OptimizerKind::AdamW);
  ck_assert(c.schedule.kind == ScheduleKind::Constant);
  ck_assert(c.data.sampling == Sampling::Pairs);
  ck_assert(c.data.crop == CropMode::FaceBox);
  ck_assert_int_eq(c.data.val_percent, 20);
  ck_assert(c.pos_weight_auto);
  ck_assert_int_eq(c.early_stopping.patience, 5);
  ck_assert_uint_eq(c.sbi.blend_ratios.size(), 6);
  ck_assert(!c.optimizer.decay_all);
  ck_assert(c.data.fake_partner == FakePartner::Any);

  const TrainConfig sgd = parse(std::string("{") + kModel +
                                R"(, "epochs": 3, "batch_size": 16,
      "optimizer": {"type": "sgd", "lr": 0.01, "weight_decay": 1e-7},
      "schedule": {"type": "step", "step_epochs": 15, "gamma": 0.1},
      "loss": {"pos_weight": 2.5}, "freeze_blocks": 13,
      "data": {"sampling": "images", "crop": "image"}})");
  ck_assert(sgd.optimizer.kind == OptimizerKind::Sgd);
  ck_assert(sgd.optimizer.decay_all);
  ck_assert(!sgd.pos_weight_auto);
  ck_assert(std::fabs(sgd.pos_weight - 2.5) < 1e-12);
  ck_assert_int_eq(sgd.freeze_blocks, 13);
  ck_assert(std::fabs(sgd.data.sbi_fraction) < 1e-12);
}
END_TEST

START_TEST(test_config_errors) {
  expect_config_error("{", {"not valid JSON"});
  expect_config_error("[]", {"JSON object"});
  expect_config_error(minimal_config(R"(, "epoch": 3)"), {"'epoch'", "unknown key"});
  expect_config_error(std::string("{") + kModel +
                          R"(, "batch_size": 4, "optimizer": {"type": "adamw", "lr": 0.001}})",
                      {"'epochs'", "missing"});
  expect_config_error(R"({"epochs": 1, "batch_size": 4, "optimizer": {"type": "sgd", "lr": 1}})",
                      {"'model'", "missing"});
  expect_config_error(minimal_config(R"(, "seed": "one")"), {"'seed'", "integer"});
  expect_config_error(minimal_config(R"(, "freeze_blocks": 17)"), {"'freeze_blocks'", "[0, 16]"});
  expect_config_error(minimal_config(R"(, "data": {"val_percent": 100})"), {"'data.val_percent'"});
  expect_config_error(minimal_config(R"(, "data": {"sampling": "triples"})"),
                      {"'data.sampling'", "\"pairs\""});
  expect_config_error(minimal_config(R"(, "data": {"sampling": "images", "sbi_fraction": 0.5})"),
                      {"'data.sbi_fraction'", "images"});
  expect_config_error(minimal_config(R"(, "data": {"fake_partner": "sibling"})"),
                      {"'data.fake_partner'", "\"same-parent\""});
  expect_config_error(minimal_config(R"(, "sbi": {"hull_types": ["face", "ears"]})"),
                      {"'sbi.hull_types'", "\"ears\""});
  expect_config_error(minimal_config(R"(, "sbi": {"blur_kernel": [25, 5]})"),
                      {"'sbi.blur_kernel'", "low <= high"});
  expect_config_error(minimal_config(R"(, "sbi": {"blend_ratios": [0.5, 0]})"),
                      {"'sbi.blend_ratios'"});
  expect_config_error(minimal_config(R"(, "augment": {"jpeg_probability": 1.5})"),
                      {"'augment.jpeg_probability'", "[0, 1]"});
  expect_config_error(minimal_config(R"(, "augment": {"flip": 0.5})"),
                      {"'augment.flip'", "unknown key"});
  expect_config_error(minimal_config(R"(, "schedule": {"type": "cosine", "step_epochs": 3})"),
                      {"'schedule.step_epochs'", "unknown key"});
  expect_config_error(minimal_config(R"(, "loss": {"pos_weight": "balanced"})"),
                      {"'loss.pos_weight'"});
  expect_config_error(minimal_config(R"(, "early_stopping": {"monitor": "train_loss"})"),
                      {"'early_stopping.monitor'", "\"val_loss\""});
  // The model section is checked by the model file's own parser.
  std::string model = kModel;
  model.replace(model.find("\"size\": 64"), 10, "\"size\": 100");
  expect_config_error(
      std::string("{") + model +
          R"(, "epochs": 1, "batch_size": 4, "optimizer": {"type": "adamw", "lr": 0.001}})",
      {"input.size", "multiple of 32"});
  expect_config_error(
      std::string("{") + kModel +
          R"(, "epochs": 1, "batch_size": 5, "optimizer": {"type": "adamw", "lr": 0.001}})",
      {"'batch_size'", "even"});
  expect_config_error(
      std::string("{") + kModel +
          R"(, "epochs": 1, "batch_size": 4, "optimizer": {"type": "adam", "lr": 0.001}})",
      {"'optimizer.type'", "\"sgd\""});
  expect_config_error(
      std::string("{") + kModel +
          R"(, "epochs": 1, "batch_size": 4, "optimizer": {"type": "sgd", "lr": 0.01, "betas": [0.9, 0.99]}})",
      {"'optimizer.betas'", "unknown key"});
  expect_config_error(std::string("{") + kModel +
                          R"(, "epochs": 1, "batch_size": 4, "optimizer": {"type": "sgd"}})",
                      {"'optimizer.lr'", "missing"});
}
END_TEST

START_TEST(test_shipped_configs_parse) {
  const char *root = std::getenv("DFD_SOURCE_ROOT");
  ck_assert_msg(root != nullptr, "DFD_SOURCE_ROOT is not set");
  size_t count = 0;
  for (const auto &entry : fs::directory_iterator(std::string(root) + "/models/configs")) {
    if (entry.path().extension() != ".json") continue;
    const TrainConfig c = load_train_config(entry.path().string());
    ck_assert(c.epochs > 0);
    if (c.model.backbone == "efficientnet-lite0") {
      // The ImageNet Lite0 weights these configs start from were trained on this input.
      namespace lite0 = dfd::efficientnet_lite0;
      ck_assert_msg(c.model.color_order == dfd::ColorOrder::RGB, "%s: Lite0 takes RGB",
                    entry.path().c_str());
      for (int k = 0; k < 3; ++k) {
        ck_assert_msg(c.model.mean[k] == lite0::kInputMean && c.model.std[k] == lite0::kInputStd,
                      "%s: Lite0 takes (v - 127) / 128", entry.path().c_str());
      }
    }
    ++count;
  }
  ck_assert_msg(count >= 2, "expected seed.json and spatial-sbi.json, found %zu configs", count);
  const TrainConfig seed = load_train_config(std::string(root) + "/models/configs/seed.json");
  ck_assert(seed.model.architecture == dfd::Architecture::Seed);
  ck_assert(seed.optimizer.kind == OptimizerKind::Sgd);
  ck_assert(std::fabs(seed.optimizer.lr - 0.01) < 1e-12);
  ck_assert(std::fabs(seed.optimizer.momentum) < 1e-12);
  ck_assert(std::fabs(seed.optimizer.weight_decay - 1e-7) < 1e-18);
  ck_assert(seed.schedule.kind == ScheduleKind::Step);
  ck_assert_int_eq(seed.schedule.step_epochs, 15);
  ck_assert_int_eq(seed.batch_size, 16);
  ck_assert_int_eq(seed.epochs, 100);
  ck_assert_int_eq(seed.early_stopping.patience, 5);
  ck_assert_int_eq(seed.freeze_blocks, 13);
  ck_assert(seed.pos_weight_auto);
}
END_TEST

// ---- Self-blended images -----------------------------------------------------------------

START_TEST(test_sbi_mask_inside_face) {
  SbiOptions options;
  options.hull_types = {HullType::Face, HullType::Inner, HullType::Components};
  for (const char *file : kFaces) {
    const cv::Mat image = load_face(file);
    const FaceShape shape = landmarker().find(image);
    ck_assert_uint_eq(shape.points.size(), 68);
    const int side = std::max(image.cols, image.rows);
    // The deformation moves the region by at most ~3% (affine) plus a pixel or two (elastic);
    // the second blur spreads it by at most half its largest kernel at the 192 px working
    // size, about 6.5% of the side. 15% covers both with room.
    const cv::Mat allowed = face_region(image.size(), shape.points, side * 15 / 100);
    const cv::Mat hull = face_region(image.size(), shape.points, 0);
    for (uint64_t seed = 1; seed <= 8; ++seed) {
      Rng rng = make_rng(seed);
      const SelfBlended blended = self_blend(image, shape.points, options, rng);
      cv::Mat touched = blended.mask > 0.0f;
      ck_assert_msg(cv::countNonZero(touched) > 0, "%s seed %d: empty mask", file,
                    static_cast<int>(seed));
      cv::Mat outside;
      cv::bitwise_and(touched, ~allowed, outside);
      ck_assert_msg(cv::countNonZero(outside) == 0, "%s seed %d: %d mask pixels outside the face",
                    file, static_cast<int>(seed), cv::countNonZero(outside));
      // Most of the blend weight lies on the landmark hull itself (small component regions
      // spread the most, relative to their size, through the blur).
      cv::Mat hull_f;
      hull.convertTo(hull_f, CV_32F, 1.0 / 255.0);
      const double inside = cv::sum(blended.mask.mul(hull_f))[0];
      const double total = cv::sum(blended.mask)[0];
      ck_assert_msg(inside > 0.5 * total, "%s seed %d: only %.2f of the mask on the face", file,
                    static_cast<int>(seed), inside / total);
    }
  }
}
END_TEST

START_TEST(test_sbi_changes_only_masked_pixels) {
  const cv::Mat image = load_face("real-photos-100.jpg");
  const FaceShape shape = landmarker().find(image);
  SbiOptions options;
  options.hull_types = {HullType::Face, HullType::Inner, HullType::Components, HullType::Extended};
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    Rng rng = make_rng(seed);
    const SelfBlended b = self_blend(image, shape.points, options, rng);
    cv::Mat differs;
    cv::Mat diff;
    cv::absdiff(b.fake, b.target, diff);
    cv::cvtColor(diff, differs, cv::COLOR_BGR2GRAY);
    differs = differs > 0;
    cv::Mat masked = b.mask > 0.0f;
    cv::Mat unmasked_changes;
    cv::bitwise_and(differs, ~masked, unmasked_changes);
    ck_assert_msg(cv::countNonZero(unmasked_changes) == 0,
                  "seed %d: %d pixels changed outside the mask", static_cast<int>(seed),
                  cv::countNonZero(unmasked_changes));
    ck_assert_msg(cv::countNonZero(differs) > 100, "seed %d: the fake barely differs",
                  static_cast<int>(seed));
    if (b.source_jittered) {
      // The target is then the input itself: outside the mask the fake is the input.
      cv::absdiff(b.fake, image, diff);
      cv::cvtColor(diff, differs, cv::COLOR_BGR2GRAY);
      cv::bitwise_and(differs > 0, ~masked, unmasked_changes);
      ck_assert_int_eq(cv::countNonZero(unmasked_changes), 0);
    }
  }
  // With the source always the jittered copy, the target is always the untouched input.
  options.source_jitter_probability = 1.0;
  Rng rng = make_rng(99);
  const SelfBlended b = self_blend(image, shape.points, options, rng);
  ck_assert(b.source_jittered);
  ck_assert_int_eq(cv::norm(b.target, image, cv::NORM_INF), 0);
}
END_TEST

START_TEST(test_sbi_same_seed_same_output) {
  const cv::Mat image = load_face("real-photos-137.jpg");
  const FaceShape shape = landmarker().find(image);
  SbiOptions options;
  options.hull_types = {HullType::Face, HullType::Components};
  options.dilate_probability = 0.5;
  Rng a = make_rng(7), b = make_rng(7), c = make_rng(8);
  const SelfBlended x = self_blend(image, shape.points, options, a);
  const SelfBlended y = self_blend(image, shape.points, options, b);
  const SelfBlended z = self_blend(image, shape.points, options, c);
  ck_assert_int_eq(cv::norm(x.fake, y.fake, cv::NORM_INF), 0);
  ck_assert_int_eq(cv::norm(x.mask, y.mask, cv::NORM_INF), 0);
  ck_assert_msg(cv::norm(x.fake, z.fake, cv::NORM_INF) > 0, "another seed gave the same fake");
}
END_TEST

START_TEST(test_landmark_cache_roundtrip) {
  TempDir dir;
  const cv::Mat image = load_face("real-photos-156.jpg");
  const FaceShape shape = landmarker().find(image);
  ck_assert(shape.detected);
  LandmarkCache cache;
  cache.put("a.jpg", 1234, shape);
  cache.save(dir / "cache.json");
  LandmarkCache loaded;
  loaded.load(dir / "cache.json");
  const FaceShape *back = loaded.find("a.jpg", 1234);
  ck_assert(back != nullptr);
  ck_assert(loaded.find("a.jpg", 1235) == nullptr);  // the file changed: landmark again
  ck_assert(back->box == shape.box);
  for (size_t i = 0; i < 68; ++i) {
    // Exactly: a cached run must blend exactly as the run that filled the cache.
    ck_assert(back->points[i] == shape.points[i]);
  }
  // A damaged entry (here: its points cut off) is an error naming the file, not a silent miss.
  std::string text;
  {
    std::ifstream in(dir / "cache.json");
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  text.replace(text.find("\"points\""), 8, "\"pointz\"");
  std::ofstream(dir / "bad.json") << text;
  LandmarkCache bad;
  bool threw = false;
  try {
    bad.load(dir / "bad.json");
  } catch (const std::runtime_error &e) {
    threw = std::string(e.what()).find("bad.json") != std::string::npos;
  }
  ck_assert(threw);
}
END_TEST

// ---- Augmentation ------------------------------------------------------------------------

START_TEST(test_augment_default_is_inference_preprocessing) {
  const cv::Mat image = load_face("real-photos-100.jpg");
  const AugmentParams none;
  const cv::Mat out = apply_augment(image, none, 96);
  const dfd::ModelInput expected = dfd::letterbox(image, 96);
  ck_assert_int_eq(out.rows, 96);
  ck_assert_int_eq(cv::norm(out, expected.image, cv::NORM_INF), 0);
}
END_TEST

START_TEST(test_augment_shared_params_same_change) {
  const cv::Mat image = load_face("real-photos-137.jpg");
  AugmentOptions options;
  options.jpeg_probability = options.noise_probability = options.colour_probability = 1.0;
  options.shift_scale_rotate_probability = 1.0;
  Rng rng = make_rng(3);
  const AugmentParams p = sample_augment(options, rng);
  ck_assert(p.jpeg && p.noise && p.shift_scale_rotate);
  const cv::Mat a = apply_augment(image, p, 64);
  const cv::Mat b = apply_augment(image.clone(), p, 64);
  ck_assert_int_eq(cv::norm(a, b, cv::NORM_INF), 0);
  ck_assert(cv::norm(a, dfd::letterbox(image, 64).image, cv::NORM_INF) > 0);
}
END_TEST

// ---- Metrics and schedule ----------------------------------------------------------------

START_TEST(test_auc_and_figures_by_hand) {
  // Fakes 0.4 and 0.8 against reals 0.1 and 0.5: 3 of the 4 pairs ranked right.
  std::vector<Scored> s{{0.1f, false}, {0.4f, true}, {0.5f, false}, {0.8f, true}};
  ck_assert(std::fabs(roc_auc(s) - 0.75) < 1e-12);
  // A tie between a real and a fake counts half.
  std::vector<Scored> tie{{1.0f, false}, {1.0f, true}};
  ck_assert(std::fabs(roc_auc(tie) - 0.5) < 1e-12);
  ck_assert(std::isnan(roc_auc({{1.0f, true}})));
  // Logits 0 -> p 0.5 (>= 0.5 is fake), BCE log 2.
  const Figures f = summarise({{0.0f, true}, {-2.0f, false}, {2.0f, false}}, 0.5);
  ck_assert_uint_eq(f.real, 2);
  ck_assert_uint_eq(f.fake, 1);
  ck_assert(std::fabs(f.accuracy - 2.0 / 3.0) < 1e-12);
  const double expected =
      (std::log(2.0) + std::log1p(std::exp(-2.0)) + 2.0 + std::log1p(std::exp(-2.0))) / 3.0;
  ck_assert(std::fabs(f.loss - expected) < 1e-9);
  ck_assert(std::fabs(bce_with_logit(30.0, true)) < 1e-12);
}
END_TEST

START_TEST(test_learning_rate_schedules) {
  OptimizerConfig o;
  o.lr = 0.01;
  ScheduleConfig s;
  s.kind = ScheduleKind::Step;
  s.step_epochs = 15;
  s.gamma = 0.1;
  ck_assert(std::fabs(learning_rate(o, s, 0, 0, 1000) - 0.01) < 1e-15);
  ck_assert(std::fabs(learning_rate(o, s, 500, 14, 1000) - 0.01) < 1e-15);
  ck_assert(std::fabs(learning_rate(o, s, 500, 15, 1000) - 0.001) < 1e-15);
  ck_assert(std::fabs(learning_rate(o, s, 900, 30, 1000) - 0.0001) < 1e-15);
  s.kind = ScheduleKind::Cosine;
  s.warmup_steps = 100;
  s.min_lr = 0.0;
  ck_assert(std::fabs(learning_rate(o, s, 0, 0, 1100) - 0.0001) < 1e-15);   // 1/100 of the way
  ck_assert(std::fabs(learning_rate(o, s, 99, 0, 1100) - 0.01) < 1e-15);    // warmed up
  ck_assert(std::fabs(learning_rate(o, s, 600, 0, 1100) - 0.005) < 1e-12);  // half way
  ck_assert(std::fabs(learning_rate(o, s, 1100, 0, 1100)) < 1e-15);         // the end
}
END_TEST

// ---- Trainer -----------------------------------------------------------------------------

START_TEST(test_trainer_lowers_loss_on_fixed_batch) {
  TrainConfig config = parse(minimal_config(R"(, "freeze_blocks": 6)"));
  // Three reals and their own self-blended fakes, at 64 px.
  std::vector<Example> batch;
  SbiOptions sbi;
  for (const char *file : kFaces) {
    const cv::Mat image = load_face(file);
    const FaceShape shape = landmarker().find(image);
    Rng rng = make_rng(11);
    const SelfBlended b = self_blend(image, shape.points, sbi, rng);
    batch.push_back({dfd::letterbox(b.target, 64).image, false});
    batch.push_back({dfd::letterbox(b.fake, 64).image, true});
  }
  Trainer trainer(config, "cpu", 1.0);
  ck_assert(trainer.trainable_parameter_count() < trainer.parameter_count());
  std::vector<double> losses;
  for (int step = 0; step < 12; ++step) losses.push_back(trainer.step(batch, 1e-3, 100 + step));
  const double first = losses.front();
  const double last = trainer.step(batch, 1e-3, 200);
  std::fprintf(stderr, "trainer: loss %.4f -> %.4f after 12 steps\n", first, last);
  ck_assert_msg(last < 0.7 * first, "loss did not fall: %.4f -> %.4f", first, last);
  // Inference mode agrees with training once BatchNorm statistics are recalibrated: the
  // running averages alone still hold mostly their initial values after 13 steps.
  trainer.recalibrate_batchnorm(4, [&](int) { return batch; });
  const std::vector<float> logits = trainer.predict(batch);
  ck_assert_uint_eq(logits.size(), batch.size());
  double eval_loss = 0.0;
  for (size_t i = 0; i < batch.size(); ++i) {
    ck_assert(std::isfinite(logits[i]));
    eval_loss += bce_with_logit(logits[i], batch[i].fake) / static_cast<double>(batch.size());
  }
  std::fprintf(stderr, "trainer: inference-mode loss %.4f after recalibration\n", eval_loss);
  ck_assert_msg(eval_loss < 0.7 * first, "inference-mode loss %.4f, first training loss %.4f",
                eval_loss, first);
}
END_TEST

// freeze_inference: the frozen stem and blocks keep their weights and their BatchNorm
// statistics through training and recalibration, while the rest trains; without it (the
// seed's way) frozen blocks keep their weights but their statistics drift. Channels-last
// trains the same numbers up to float rounding.
START_TEST(test_frozen_prefix_runs_as_at_inference) {
  std::vector<Example> batch;
  for (const char *file : kFaces) {
    const cv::Mat image = load_face(file);
    batch.push_back({dfd::letterbox(image, 64).image, false});
    cv::Mat flipped;
    cv::flip(image, flipped, 1);
    batch.push_back({dfd::letterbox(flipped, 64).image, true});
  }
  TempDir dir;
  const auto train = [&](const std::string &extra, bool channels_last, const std::string &name,
                         std::vector<double> *losses) {
    const TrainConfig config = parse(minimal_config(R"(, "freeze_blocks": 4)" + extra));
    Trainer trainer(config, "cpu", 1.0, 0, channels_last);
    trainer.save_model(dir / (name + "-before.safetensors"), dfd::json::Value());
    for (int step = 0; step < 3; ++step) losses->push_back(trainer.step(batch, 1e-2, 7 + step));
    trainer.recalibrate_batchnorm(2, [&](int) { return batch; });
    trainer.save_model(dir / (name + "-after.safetensors"), dfd::json::Value());
  };
  const auto changed = [&](const std::string &name, const std::string &tensor) {
    const auto before =
        dfd::ModelFile::open(dir / (name + "-before.safetensors")).tensor_as_float(tensor);
    const auto after =
        dfd::ModelFile::open(dir / (name + "-after.safetensors")).tensor_as_float(tensor);
    return before != after;
  };
  std::vector<double> inference_losses, seed_losses, nhwc_losses;
  train(R"(, "freeze_inference": true)", false, "inference", &inference_losses);
  train("", false, "seed", &seed_losses);
  train(R"(, "freeze_inference": true)", true, "nhwc", &nhwc_losses);
  for (const char *frozen : {"efficient_net._conv_stem.weight", "efficient_net._bn0.running_mean",
                             "efficient_net._blocks.3._bn1.running_var",
                             "efficient_net._blocks.3._depthwise_conv.weight"}) {
    ck_assert_msg(!changed("inference", frozen), "%s changed", frozen);
  }
  ck_assert(changed("inference", "efficient_net._blocks.4._depthwise_conv.weight"));
  ck_assert(changed("inference", "efficient_net._blocks.4._bn1.running_var"));
  ck_assert(!changed("seed", "efficient_net._blocks.3._depthwise_conv.weight"));
  ck_assert(changed("seed", "efficient_net._blocks.3._bn1.running_var"));
  for (size_t i = 0; i < inference_losses.size(); ++i) {
    ck_assert_msg(std::fabs(inference_losses[i] - nhwc_losses[i]) < 1e-4,
                  "step %zu: loss %.6f NCHW, %.6f channels-last", i, inference_losses[i],
                  nhwc_losses[i]);
  }
}
END_TEST

// Checkpoint averaging: every tensor of the result is the mean of the files' (checked against
// the files themselves), and a model fed another input is refused rather than averaged.
START_TEST(test_average_is_mean_of_files) {
  TempDir dir;
  const std::vector<std::string> names = {"a", "b", "c"};
  for (size_t i = 0; i < names.size(); ++i) {
    TrainConfig config = parse(minimal_config(", \"seed\": " + std::to_string(21 + i)));
    dfd::json::Value record;
    record["run"] = names[i];
    Trainer(config, "cpu", 1.0).save_model(dir / (names[i] + ".safetensors"), record);
  }
  const TrainConfig config = parse(minimal_config());
  Trainer trainer(config, "cpu", 1.0);
  const std::vector<dfd::json::Value> records =
      trainer.load_average({dir / "a.safetensors", dir / "b.safetensors", dir / "c.safetensors"});
  ck_assert_uint_eq(records.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {  // each file's lineage, in order
    const dfd::json::Value *run = dfd::json::find(records[i], "run");
    ck_assert(run != nullptr && dfd::json::as_string(*run) == names[i]);
  }
  trainer.save_model(dir / "mean.safetensors", dfd::json::Value());

  std::vector<dfd::ModelFile> inputs;
  for (const std::string &name : names) {
    inputs.push_back(dfd::ModelFile::open(dir / (name + ".safetensors")));
  }
  const dfd::ModelFile mean = dfd::ModelFile::open(dir / "mean.safetensors");
  size_t compared = 0, differing_inputs = 0;
  for (const dfd::TensorInfo &t : mean.file().tensors()) {
    const std::vector<float> got = mean.tensor_as_float(t.name);
    std::vector<std::vector<float>> parts;
    for (const dfd::ModelFile &input : inputs) parts.push_back(input.tensor_as_float(t.name));
    differing_inputs += parts[0] != parts[1] ? 1 : 0;
    for (size_t k = 0; k < got.size(); ++k) {
      const double expected = (static_cast<double>(parts[0][k]) + parts[1][k] + parts[2][k]) / 3.0;
      ck_assert_msg(std::fabs(got[k] - expected) <= 1e-6 * (1.0 + std::fabs(expected)),
                    "%s[%zu]: %.9g, mean of the files %.9g", t.name.c_str(), k, got[k], expected);
    }
    ++compared;
  }
  ck_assert(compared > 100);
  ck_assert(differing_inputs > 100);  // the seeds gave different weights to average

  std::string patched = std::string(kModel);
  patched.replace(patched.find(R"("mean": [0, 0, 0])"), 17, R"("mean": [9, 9, 9])");
  Trainer(parse(std::string("{") + patched + R"(, "epochs": 1, "batch_size": 4,
      "optimizer": {"type": "adamw", "lr": 0.001}})"),
          "cpu", 1.0)
      .save_model(dir / "other-mean.safetensors", dfd::json::Value());
  Trainer refusing(config, "cpu", 1.0);
  bool refused = false;
  try {
    refusing.load_average({dir / "a.safetensors", dir / "other-mean.safetensors"});
  } catch (const dfd::ModelError &e) {
    const std::string message = e.what();
    refused = message.find("other-mean.safetensors") != std::string::npos &&
              message.find("mean or std") != std::string::npos;
  }
  ck_assert_msg(refused, "a model with another input normalisation was averaged");
}
END_TEST

// An interrupted run resumed from its checkpoint ends with the same weights, bit for bit, as
// one that never stopped.
START_TEST(test_resume_is_exact) {
  TempDir dir;
  fs::create_directories(dir / "real");
  // Names chosen so that both splits get images (the split is by name).
  int train = 0, val = 0;
  for (int i = 0; train < 6 || val < 2; ++i) {
    const std::string name = "face-" + std::to_string(i) + ".jpg";
    const bool is_val = is_validation_name(name, 20);
    if ((is_val && val >= 2) || (!is_val && train >= 6)) continue;
    (is_val ? val : train) += 1;
    fs::copy_file(data_path(kFaces[i % 3]), dir / ("real/" + name));
  }
  const std::string config_path = dir / "config.json";
  std::ofstream(config_path) << std::string("{") + kModel + R"(, "epochs": 3, "batch_size": 4,
      "optimizer": {"type": "adamw", "lr": 0.001}, "freeze_blocks": 10,
      "data": {"crop_margin_jitter": 0.1}, "sbi": {"hull_types": ["face", "components"]},
      "schedule": {"type": "cosine", "warmup_steps": 1}, "logging": {"every_steps": 1}})";
  const TrainConfig config = load_train_config(config_path);

  const auto run = [&](const std::string &name, int64_t max_steps, bool resume) {
    RunOptions o;
    o.real_dirs = {dir / "real"};
    o.output = dir / (name + ".safetensors");
    o.checkpoint_dir = dir / (name + ".checkpoints");
    o.landmark_cache = dir / "landmarks.json";
    o.max_steps = max_steps;
    o.resume = resume;
    o.prefetch = resume;  // one run builds batches on the side, the other inline: same result
    ck_assert_int_eq(run_training(config, o), 0);
  };
  run("straight", 4, false);
  run("resumed", 3, false);
  run("resumed", 4, true);

  const auto last_model = [&](const std::string &name) {
    return dfd::SafetensorsFile::read(dir / (name + ".checkpoints/step-000000004.safetensors"));
  };
  const dfd::SafetensorsFile a = last_model("straight");
  const dfd::SafetensorsFile b = last_model("resumed");
  ck_assert_uint_eq(a.tensors().size(), b.tensors().size());
  size_t compared = 0;
  for (const dfd::TensorInfo &t : a.tensors()) {
    const dfd::TensorInfo *u = b.find(t.name);
    ck_assert(u != nullptr);
    const size_t bytes = t.data_end - t.data_begin;
    ck_assert_uint_eq(bytes, u->data_end - u->data_begin);
    ck_assert_msg(std::memcmp(a.data(t), b.data(*u), bytes) == 0, "tensor %s differs",
                  t.name.c_str());
    ++compared;
  }
  ck_assert(compared > 100);
  // The best model carries its training record.
  ck_assert(fs::exists(dir / "straight.safetensors"));
  // A second fresh run into a used folder is refused rather than mixed in.
  RunOptions again;
  again.real_dirs = {dir / "real"};
  again.output = dir / "straight.safetensors";
  again.checkpoint_dir = dir / "straight.checkpoints";
  bool refused = false;
  try {
    run_training(config, again);
  } catch (const std::runtime_error &e) {
    refused = std::string(e.what()).find("--resume") != std::string::npos;
  }
  ck_assert(refused);
}
END_TEST

int main() {
  Suite *suite = suite_create("training");
  TCase *split = tcase_create("split");
  tcase_add_test(split, test_fnv1a_reference_values);
  tcase_add_test(split, test_split_deterministic_and_disjoint);
  tcase_add_test(split, test_split_errors);
  tcase_add_test(split, test_epoch_plan);
  suite_add_tcase(suite, split);
  TCase *config = tcase_create("config");
  tcase_add_test(config, test_config_minimal_and_defaults);
  tcase_add_test(config, test_config_errors);
  tcase_add_test(config, test_shipped_configs_parse);
  suite_add_tcase(suite, config);
  TCase *sbi = tcase_create("self-blend");
  tcase_set_timeout(sbi, 120);
  tcase_add_test(sbi, test_sbi_mask_inside_face);
  tcase_add_test(sbi, test_sbi_changes_only_masked_pixels);
  tcase_add_test(sbi, test_sbi_same_seed_same_output);
  tcase_add_test(sbi, test_landmark_cache_roundtrip);
  suite_add_tcase(suite, sbi);
  TCase *augment = tcase_create("augment");
  tcase_add_test(augment, test_augment_default_is_inference_preprocessing);
  tcase_add_test(augment, test_augment_shared_params_same_change);
  suite_add_tcase(suite, augment);
  TCase *metrics = tcase_create("metrics");
  tcase_add_test(metrics, test_auc_and_figures_by_hand);
  tcase_add_test(metrics, test_learning_rate_schedules);
  suite_add_tcase(suite, metrics);
  TCase *trainer = tcase_create("trainer");
  tcase_set_timeout(trainer, 300);
  tcase_add_test(trainer, test_trainer_lowers_loss_on_fixed_batch);
  tcase_add_test(trainer, test_frozen_prefix_runs_as_at_inference);
  tcase_add_test(trainer, test_resume_is_exact);
  tcase_add_test(trainer, test_average_is_mean_of_files);
  suite_add_tcase(suite, trainer);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_VERBOSE);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
