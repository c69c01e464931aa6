#include "train_config.h"

#include <cmath>
#include <initializer_list>
#include <limits>
#include <utility>
#include <vector>

#include "atomic_file.h"
#include "core/model_error.h"

namespace dfd::training {

namespace {

std::string describe(const json::Value &value) {
  std::string text = json::dump(value);
  if (text.size() > 64) text = text.substr(0, 61) + "...";
  return text;
}

// One JSON object of the config, with the dotted path that names it in messages.
class Section {
 public:
  Section(const json::Value *object, std::string path, const std::string &label)
      : object_(object), path_(std::move(path)), label_(label) {}

  [[noreturn]] void fail(const std::string &key, const std::string &what) const {
    throw ConfigError(label_ + ": '" + name(key) + "': " + what);
  }

  bool present() const { return object_ != nullptr; }
  const json::Value *find(const std::string &key) const {
    return object_ ? json::find(*object_, key) : nullptr;
  }

  // Every key must be one of `allowed`: a misspelt key must not fall back to a default.
  void only(std::initializer_list<const char *> allowed) const {
    if (!object_) return;
    for (const auto &[key, value] : json::as_object(*object_)) {
      (void)value;
      bool known = false;
      std::string list;
      for (const char *name : allowed) {
        known = known || key == name;
        list += (list.empty() ? "" : ", ") + std::string(name);
      }
      if (!known) fail(key, "unknown key (expected one of: " + list + ")");
    }
  }

  Section section(const std::string &key, bool required = false) const {
    const json::Value *value = find(key);
    if (!value) {
      if (required) fail(key, "missing");
      return Section(nullptr, name(key), label_);
    }
    if (!value->is_object()) fail(key, "must be an object, got " + describe(*value));
    return Section(value, name(key), label_);
  }

  double number(const std::string &key, double fallback, double low, double high) const {
    const json::Value *value = find(key);
    if (!value) return fallback;
    if (!value->is_number() ||
        !(json::as_number(*value) >= low && json::as_number(*value) <= high)) {
      fail(key, "must be a number in [" + format(low) + ", " + format(high) + "], got " +
                    describe(*value));
    }
    return json::as_number(*value);
  }

  double required_number(const std::string &key, double low, double high) const {
    if (!find(key)) fail(key, "missing");
    return number(key, 0.0, low, high);
  }

  int integer(const std::string &key, int fallback, int low, int high) const {
    const json::Value *value = find(key);
    if (!value) return fallback;
    if (!value->is_number() || json::as_number(*value) != std::floor(json::as_number(*value)) ||
        json::as_number(*value) < low || json::as_number(*value) > high) {
      fail(key, "must be an integer in [" + std::to_string(low) + ", " + std::to_string(high) +
                    "], got " + describe(*value));
    }
    return static_cast<int>(json::as_number(*value));
  }

  int required_integer(const std::string &key, int low, int high) const {
    if (!find(key)) fail(key, "missing");
    return integer(key, 0, low, high);
  }

  bool boolean(const std::string &key, bool fallback) const {
    const json::Value *value = find(key);
    if (!value) return fallback;
    if (!value->is_boolean()) fail(key, "must be true or false, got " + describe(*value));
    return json::as_bool(*value);
  }

  std::string string(const std::string &key, const std::string &fallback) const {
    const json::Value *value = find(key);
    if (!value) return fallback;
    if (!value->is_string()) fail(key, "must be a string, got " + describe(*value));
    return json::as_string(*value);
  }

  // One of `names`; returns its index.
  template <typename Enum>
  Enum choice(const std::string &key, Enum fallback,
              std::initializer_list<std::pair<const char *, Enum>> names) const {
    const json::Value *value = find(key);
    if (!value) return fallback;
    std::string list;
    for (const auto &[text, item] : names) {
      if (value->is_string() && json::as_string(*value) == text) return item;
      list += (list.empty() ? "\"" : ", \"") + std::string(text) + "\"";
    }
    fail(key, "must be one of " + list + ", got " + describe(*value));
  }

  // [low, high] with low <= high, both within [min, max].
  template <typename T>
  std::array<T, 2> range(const std::string &key, std::array<T, 2> fallback, T min, T max) const {
    const json::Value *value = find(key);
    if (!value) return fallback;
    const bool integral = std::numeric_limits<T>::is_integer;
    const std::string kind = integral ? "integers" : "numbers";
    const std::string expected = "must be [low, high] " + kind + " in [" + format(min) + ", " +
                                 format(max) + "] with low <= high, got " + describe(*value);
    if (!value->is_array() || json::as_array(*value).size() != 2) fail(key, expected);
    std::array<T, 2> out{};
    for (size_t i = 0; i < 2; ++i) {
      const json::Value &item = json::as_array(*value)[i];
      if (!item.is_number() || json::as_number(item) < min || json::as_number(item) > max ||
          (integral && json::as_number(item) != std::floor(json::as_number(item)))) {
        fail(key, expected);
      }
      out[i] = static_cast<T>(json::as_number(item));
    }
    if (out[0] > out[1]) fail(key, expected);
    return out;
  }

  std::array<double, 3> triple(const std::string &key, std::array<double, 3> fallback, double min,
                               double max) const {
    const json::Value *value = find(key);
    if (!value) return fallback;
    const std::string expected =
        "must be 3 numbers in [" + format(min) + ", " + format(max) + "], got " + describe(*value);
    if (!value->is_array() || json::as_array(*value).size() != 3) fail(key, expected);
    std::array<double, 3> out{};
    for (size_t i = 0; i < 3; ++i) {
      const json::Value &item = json::as_array(*value)[i];
      if (!item.is_number() || json::as_number(item) < min || json::as_number(item) > max) {
        fail(key, expected);
      }
      out[i] = json::as_number(item);
    }
    return out;
  }

  double probability(const std::string &key, double fallback) const {
    return number(key, fallback, 0.0, 1.0);
  }

 private:
  std::string name(const std::string &key) const { return path_.empty() ? key : path_ + "." + key; }
  static std::string format(double x) {
    json::Value v(x);
    return json::dump(v);
  }

  const json::Value *object_;
  std::string path_;
  const std::string &label_;
};

constexpr double kHuge = 1e12;

ModelConfig parse_model(const Section &root, const json::Value &document,
                        const std::string &label) {
  const Section model = root.section("model", /*required=*/true);
  for (const char *key : {"format", "format_version", "training"}) {
    if (model.find(key)) model.fail(key, "is written by deepfake-train; leave it out");
  }
  // The model section is a model file's config less what the trainer fills in, so the model
  // file's own strict parser checks it.
  json::Value value = *document.find("model");
  value["format"] = "gst-deepfake-model";
  value["format_version"] = ModelConfig::kFormatVersion;
  if (!json::find(value, "source")) value["source"] = "trained by deepfake-train";
  if (!json::find(value, "backbone")) value["backbone"] = "efficientnet-b0";
  try {
    return parse_model_config(value, label + " (section 'model')");
  } catch (const ModelError &e) {
    throw ConfigError(e.what());
  }
}

std::vector<HullType> parse_hull_types(const Section &sbi,
                                       std::vector<HullType> fallback = {HullType::Face}) {
  const json::Value *value = sbi.find("hull_types");
  if (!value) return fallback;
  const std::string expected =
      "must be a non-empty array of \"face\", \"inner\", \"components\", \"extended\"";
  if (!value->is_array() || json::as_array(*value).empty()) {
    sbi.fail("hull_types", expected + ", got " + describe(*value));
  }
  std::vector<HullType> out;
  for (const json::Value &item : json::as_array(*value)) {
    bool found = false;
    for (HullType type :
         {HullType::Face, HullType::Inner, HullType::Components, HullType::Extended}) {
      if (item.is_string() && json::as_string(item) == hull_type_name(type)) {
        out.push_back(type);
        found = true;
      }
    }
    if (!found) sbi.fail("hull_types", expected + ", got " + describe(item));
  }
  return out;
}

std::vector<double> parse_blend_ratios(const Section &s, std::vector<double> fallback) {
  const json::Value *ratios = s.find("blend_ratios");
  if (!ratios) return fallback;
  std::vector<double> out;
  if (!ratios->is_array() || json::as_array(*ratios).empty()) {
    s.fail("blend_ratios", "must be a non-empty array of numbers in (0, 1]");
  }
  for (const json::Value &r : json::as_array(*ratios)) {
    if (!r.is_number() || !(json::as_number(r) > 0.0 && json::as_number(r) <= 1.0)) {
      s.fail("blend_ratios", "must be a non-empty array of numbers in (0, 1], got " + describe(r));
    }
    out.push_back(json::as_number(r));
  }
  return out;
}

SbiOptions parse_sbi(const Section &s) {
  s.only({"hull_types",
          "source_jitter_probability",
          "rgb_shift",
          "rgb_shift_probability",
          "hsv_shift",
          "brightness",
          "contrast",
          "downscale_factors",
          "sharpen_alpha",
          "sharpen_lightness",
          "translate_x",
          "translate_y",
          "scale",
          "elastic_alpha",
          "elastic_sigma",
          "mask_size",
          "blur_kernel",
          "blur_sigma",
          "dilate_probability",
          "blend_ratios"});
  SbiOptions o;
  o.hull_types = parse_hull_types(s);
  o.source_jitter_probability =
      s.probability("source_jitter_probability", o.source_jitter_probability);
  o.rgb_shift = s.number("rgb_shift", o.rgb_shift, 0.0, 255.0);
  o.rgb_shift_probability = s.probability("rgb_shift_probability", o.rgb_shift_probability);
  o.hsv_shift = s.triple("hsv_shift", o.hsv_shift, 0.0, 180.0);
  o.brightness = s.number("brightness", o.brightness, 0.0, 1.0);
  o.contrast = s.number("contrast", o.contrast, 0.0, 1.0);
  if (const json::Value *factors = s.find("downscale_factors")) {
    o.downscale_factors.clear();
    if (!factors->is_array()) {
      s.fail("downscale_factors", "must be an array of integers in [2, 16]");
    }
    for (const json::Value &f : json::as_array(*factors)) {
      if (!f.is_number() || json::as_number(f) != std::floor(json::as_number(f)) ||
          json::as_number(f) < 2 || json::as_number(f) > 16) {
        s.fail("downscale_factors", "must be an array of integers in [2, 16], got " + describe(f));
      }
      o.downscale_factors.push_back(static_cast<int>(json::as_number(f)));
    }
  }
  o.sharpen_alpha = s.range<double>("sharpen_alpha", o.sharpen_alpha, 0.0, 1.0);
  o.sharpen_lightness = s.range<double>("sharpen_lightness", o.sharpen_lightness, 0.0, 10.0);
  o.translate_x = s.number("translate_x", o.translate_x, 0.0, 0.5);
  o.translate_y = s.number("translate_y", o.translate_y, 0.0, 0.5);
  o.scale = s.range<double>("scale", o.scale, 0.1, 10.0);
  o.elastic_alpha = s.number("elastic_alpha", o.elastic_alpha, 0.0, 1000.0);
  o.elastic_sigma = s.number("elastic_sigma", o.elastic_sigma, 0.1, 100.0);
  o.mask_size = s.range<int>("mask_size", o.mask_size, 16, 2048);
  o.blur_kernel = s.range<int>("blur_kernel", o.blur_kernel, 1, 201);
  o.blur_sigma = s.range<int>("blur_sigma", o.blur_sigma, 1, 200);
  o.dilate_probability = s.probability("dilate_probability", o.dilate_probability);
  o.blend_ratios = parse_blend_ratios(s, o.blend_ratios);
  return o;
}

CrossSwapOptions parse_swap(const Section &s) {
  s.only({"hull_types", "colour_transfer_probability", "bottleneck_probability", "donor_candidates",
          "blend_ratios"});
  CrossSwapOptions o;
  o.hull_types = parse_hull_types(s, o.hull_types);
  o.colour_transfer_probability =
      s.probability("colour_transfer_probability", o.colour_transfer_probability);
  o.bottleneck_probability = s.probability("bottleneck_probability", o.bottleneck_probability);
  o.donor_candidates = s.integer("donor_candidates", o.donor_candidates, 1, 1000);
  o.blend_ratios = parse_blend_ratios(s, o.blend_ratios);
  return o;
}

LowResOptions parse_lowres(const Section &s) {
  s.only({"hull_types", "blend_ratios", "tone_shift"});
  LowResOptions o;
  o.hull_types = parse_hull_types(s, o.hull_types);
  o.blend_ratios = parse_blend_ratios(s, o.blend_ratios);
  o.tone_shift = s.number("tone_shift", o.tone_shift, 0.0, 0.5);
  return o;
}

BottleneckOptions parse_bottleneck(const Section &s) {
  s.only({"size", "max_fraction", "jpeg_probability", "jpeg_quality", "blur_probability",
          "blur_sigma", "sharpen_probability", "sharpen_alpha"});
  BottleneckOptions o;
  o.size = s.range<int>("size", o.size, 4, 1024);
  o.max_fraction = s.number("max_fraction", o.max_fraction, 0.05, 1.0);
  o.jpeg_probability = s.probability("jpeg_probability", o.jpeg_probability);
  o.jpeg_quality = s.range<int>("jpeg_quality", o.jpeg_quality, 1, 100);
  o.blur_probability = s.probability("blur_probability", o.blur_probability);
  o.blur_sigma = s.range<double>("blur_sigma", o.blur_sigma, 0.01, 20.0);
  o.sharpen_probability = s.probability("sharpen_probability", o.sharpen_probability);
  o.sharpen_alpha = s.range<double>("sharpen_alpha", o.sharpen_alpha, 0.0, 1.0);
  return o;
}

// An object of non-negative numbers by name, at least one of them positive.
std::map<std::string, double> parse_weights(const Section &s, const std::string &key) {
  std::map<std::string, double> out;
  const json::Value *value = s.find(key);
  if (!value) return out;
  const std::string expected = "must be an object of non-negative numbers, one at least positive";
  if (!value->is_object()) s.fail(key, expected + ", got " + describe(*value));
  double total = 0.0;
  for (const auto &[name, weight] : json::as_object(*value)) {
    if (!weight.is_number() ||
        !(json::as_number(weight) >= 0.0 && json::as_number(weight) <= kHuge)) {
      s.fail(key, expected + ", got " + describe(weight) + " for '" + name + "'");
    }
    out[name] = json::as_number(weight);
    total += json::as_number(weight);
  }
  if (!(total > 0.0)) s.fail(key, expected);
  return out;
}

AugmentOptions parse_augment(const Section &s) {
  s.only({"enabled", "jpeg_probability", "jpeg_quality", "noise_probability", "noise_variance",
          "flip_probability", "colour_probability", "brightness", "contrast", "pca_sigma",
          "hsv_shift", "gray_probability", "shift_scale_rotate_probability", "shift", "scale",
          "rotate"});
  AugmentOptions o;
  o.enabled = s.boolean("enabled", o.enabled);
  o.jpeg_probability = s.probability("jpeg_probability", o.jpeg_probability);
  o.jpeg_quality = s.range<int>("jpeg_quality", o.jpeg_quality, 1, 100);
  o.noise_probability = s.probability("noise_probability", o.noise_probability);
  o.noise_variance = s.range<double>("noise_variance", o.noise_variance, 0.0, 10000.0);
  o.flip_probability = s.probability("flip_probability", o.flip_probability);
  o.colour_probability = s.probability("colour_probability", o.colour_probability);
  o.brightness = s.number("brightness", o.brightness, 0.0, 1.0);
  o.contrast = s.number("contrast", o.contrast, 0.0, 1.0);
  o.pca_sigma = s.number("pca_sigma", o.pca_sigma, 0.0, 10.0);
  o.hsv_shift = s.triple("hsv_shift", o.hsv_shift, 0.0, 180.0);
  o.gray_probability = s.probability("gray_probability", o.gray_probability);
  o.shift_scale_rotate_probability =
      s.probability("shift_scale_rotate_probability", o.shift_scale_rotate_probability);
  o.shift = s.number("shift", o.shift, 0.0, 0.5);
  o.scale = s.number("scale", o.scale, 0.0, 0.9);
  o.rotate = s.number("rotate", o.rotate, 0.0, 180.0);
  return o;
}

}  // namespace

const char *fake_kind_name(FakeKind kind) {
  switch (kind) {
    case FakeKind::Paired:
      return "paired";
    case FakeKind::SelfBlend:
      return "self_blend";
    case FakeKind::CrossSwap:
      return "cross_swap";
    case FakeKind::LowResSwap:
      return "lowres_swap";
  }
  return "unknown";
}

TrainConfig parse_train_config(const json::Value &document, const std::string &label) {
  if (!document.is_object()) throw ConfigError(label + ": the config must be a JSON object");
  const Section root(&document, "", label);
  root.only({"description",
             "model",
             "init",
             "seed",
             "epochs",
             "batch_size",
             "eval_batch_size",
             "freeze_blocks",
             "freeze_inference",
             "loss",
             "optimizer",
             "schedule",
             "early_stopping",
             "grad_clip_norm",
             "bn_recalibration_batches",
             "data",
             "sbi",
             "swap",
             "lowres",
             "bottleneck",
             "augment",
             "calibration",
             "logging"});
  TrainConfig c;
  c.label = label;
  c.document = document;
  root.string("description", "");
  c.model = parse_model(root, document, label);

  const Section init = root.section("init");
  init.only({"weights", "partial"});
  c.init_weights = init.string("weights", "");
  c.init_partial = init.boolean("partial", false);

  // Whole numbers up to 2^53 survive JSON's doubles exactly.
  c.seed = static_cast<uint64_t>(root.integer("seed", 1, 0, std::numeric_limits<int>::max()));
  c.epochs = root.required_integer("epochs", 1, 100000);
  c.batch_size = root.required_integer("batch_size", 1, 4096);
  c.eval_batch_size = root.integer("eval_batch_size", 32, 1, 4096);
  c.freeze_blocks = root.integer("freeze_blocks", 0, 0, 16);
  c.freeze_inference = root.boolean("freeze_inference", false);
  c.grad_clip_norm = root.number("grad_clip_norm", 0.0, 0.0, kHuge);
  c.bn_recalibration_batches = root.integer("bn_recalibration_batches", 50, 0, 100000);

  const Section loss = root.section("loss");
  loss.only({"pos_weight"});
  if (const json::Value *w = loss.find("pos_weight")) {
    if (w->is_string() && json::as_string(*w) == "auto") {
      c.pos_weight_auto = true;
    } else {
      c.pos_weight_auto = false;
      c.pos_weight = loss.number("pos_weight", 1.0, 1e-6, 1e6);
    }
  }

  const Section opt = root.section("optimizer", /*required=*/true);
  OptimizerConfig &o = c.optimizer;
  o.kind = opt.choice<OptimizerKind>(
      "type", OptimizerKind::AdamW, {{"sgd", OptimizerKind::Sgd}, {"adamw", OptimizerKind::AdamW}});
  if (!opt.find("type")) opt.fail("type", "missing (\"sgd\" or \"adamw\")");
  if (o.kind == OptimizerKind::Sgd) {
    opt.only({"type", "lr", "momentum", "weight_decay", "decay_all"});
  } else {
    opt.only({"type", "lr", "betas", "eps", "weight_decay", "decay_all"});
  }
  o.lr = opt.required_number("lr", 1e-12, 10.0);
  o.momentum = opt.number("momentum", 0.0, 0.0, 0.999);
  o.weight_decay = opt.number("weight_decay", 0.0, 0.0, 10.0);
  o.betas = opt.range<double>("betas", o.betas, 0.0, 0.999999);
  o.eps = opt.number("eps", o.eps, 1e-16, 1.0);
  o.decay_all = opt.boolean("decay_all", o.kind == OptimizerKind::Sgd);

  const Section sched = root.section("schedule");
  ScheduleConfig &sc = c.schedule;
  sc.kind = sched.choice<ScheduleKind>("type", ScheduleKind::Constant,
                                       {{"constant", ScheduleKind::Constant},
                                        {"step", ScheduleKind::Step},
                                        {"cosine", ScheduleKind::Cosine}});
  if (sc.kind == ScheduleKind::Step) {
    sched.only({"type", "step_epochs", "gamma", "warmup_steps"});
  } else if (sc.kind == ScheduleKind::Cosine) {
    sched.only({"type", "warmup_steps", "min_lr"});
  } else {
    sched.only({"type", "warmup_steps"});
  }
  sc.step_epochs = sched.integer("step_epochs", sc.step_epochs, 1, 100000);
  sc.gamma = sched.number("gamma", sc.gamma, 0.0, 1.0);
  sc.warmup_steps = sched.integer("warmup_steps", 0, 0, 100000000);
  sc.min_lr = sched.number("min_lr", 0.0, 0.0, o.lr);

  const Section stop = root.section("early_stopping");
  stop.only({"monitor", "patience", "min_delta"});
  c.early_stopping.monitor = stop.choice<Monitor>("monitor", Monitor::ValLoss,
                                                  {{"val_loss", Monitor::ValLoss},
                                                   {"val_auc", Monitor::ValAuc},
                                                   {"val_auc_mean", Monitor::ValAucMean}});
  c.early_stopping.patience = stop.integer("patience", 5, 0, 100000);
  c.early_stopping.min_delta = stop.number("min_delta", 0.0, 0.0, 1.0);

  const Section data = root.section("data");
  data.only({"sampling", "sbi_fraction", "fake_kinds", "source_weights", "units_per_epoch",
             "fake_partner", "val_percent", "val_pseudo_fakes", "crop", "crop_margin",
             "crop_margin_jitter", "face_detector"});
  DataConfig &d = c.data;
  d.sampling = data.choice<Sampling>("sampling", Sampling::Pairs,
                                     {{"pairs", Sampling::Pairs}, {"images", Sampling::Images}});
  if (data.find("fake_kinds") && data.find("sbi_fraction")) {
    data.fail("sbi_fraction", "give either sbi_fraction or fake_kinds, not both");
  }
  d.sbi_fraction = data.probability("sbi_fraction", d.sampling == Sampling::Pairs ? 1.0 : 0.0);
  d.fake_kinds = {1.0 - d.sbi_fraction, d.sbi_fraction, 0.0, 0.0};
  if (data.find("fake_kinds")) {
    const std::map<std::string, double> kinds = parse_weights(data, "fake_kinds");
    d.fake_kinds = {0.0, 0.0, 0.0, 0.0};
    for (const auto &[name, weight] : kinds) {
      bool known = false;
      for (int k = 0; k < kFakeKindCount; ++k) {
        if (name == fake_kind_name(static_cast<FakeKind>(k))) {
          d.fake_kinds[static_cast<size_t>(k)] = weight;
          known = true;
        }
      }
      if (!known) {
        data.fail("fake_kinds", "unknown kind '" + name +
                                    "' (expected paired, self_blend, cross_swap, lowres_swap)");
      }
    }
    d.fake_kinds_given = true;
    // sbi_fraction stays the self-blended share, for validation's loss weighting.
    double total = 0.0;
    for (const double w : d.fake_kinds) total += w;
    d.sbi_fraction = d.fake_kinds[static_cast<size_t>(FakeKind::SelfBlend)] / total;
  }
  d.source_weights = parse_weights(data, "source_weights");
  d.units_per_epoch = data.integer("units_per_epoch", 0, 0, 100000000);
  if (d.units_per_epoch > 0 && d.source_weights.empty()) {
    data.fail("units_per_epoch", "needs source_weights (without them an epoch visits each real)");
  }
  d.fake_partner = data.choice<FakePartner>("fake_partner", FakePartner::Any,
                                            {{"any", FakePartner::Any},
                                             {"same-parent", FakePartner::SameParent},
                                             {"same-name", FakePartner::SameName}});
  d.face_detector = data.choice<DetectorKind>(
      "face_detector", DetectorKind::Hog,
      {{"hog", DetectorKind::Hog}, {"yunet", DetectorKind::Yunet}, {"haar", DetectorKind::Haar}});
  d.val_percent = data.integer("val_percent", 20, 0, 99);
  d.val_pseudo_fakes = data.integer("val_pseudo_fakes", 0, 0, 100000000);
  d.crop = data.choice<CropMode>("crop", CropMode::FaceBox,
                                 {{"face-box", CropMode::FaceBox}, {"image", CropMode::Image}});
  d.crop_margin = data.number("crop_margin", 0.0, 0.0, 2.0);
  d.crop_margin_jitter = data.number("crop_margin_jitter", 0.0, 0.0, 2.0);

  c.sbi = parse_sbi(root.section("sbi"));
  c.swap = parse_swap(root.section("swap"));
  c.lowres = parse_lowres(root.section("lowres"));
  c.bottleneck = parse_bottleneck(root.section("bottleneck"));
  c.augment = parse_augment(root.section("augment"));

  const Section calibration = root.section("calibration");
  calibration.only({"false_alarm_rate", "scope"});
  c.false_alarm_rate = calibration.number("false_alarm_rate", 0.0, 0.0, 0.5);
  c.calibration_scope = calibration.choice(
      "scope", CalibrationScope::Pooled,
      {{"pooled", CalibrationScope::Pooled}, {"every-source", CalibrationScope::EverySource}});

  const Section logging = root.section("logging");
  logging.only({"every_steps", "checkpoint_every_steps"});
  c.log_every_steps = logging.integer("every_steps", 50, 1, 100000000);
  c.checkpoint_every_steps = logging.integer("checkpoint_every_steps", 0, 0, 100000000);

  // Rules that tie keys together.
  if (d.sampling == Sampling::Pairs && c.batch_size % 2 != 0) {
    root.fail("batch_size",
              "must be even with data.sampling \"pairs\" (a batch holds pairs), "
              "got " +
                  std::to_string(c.batch_size));
  }
  if (d.sampling == Sampling::Images && d.sbi_fraction > 0.0) {
    data.fail("sbi_fraction",
              "must be 0 with data.sampling \"images\" (self-blended fakes are "
              "made in pairs with their real)");
  }
  if (d.sampling == Sampling::Images && (d.fake_kinds_given || !d.source_weights.empty())) {
    data.fail(d.fake_kinds_given ? "fake_kinds" : "source_weights",
              "applies to data.sampling \"pairs\" only");
  }
  return c;
}

TrainConfig parse_train_config_text(const std::string &text, const std::string &label) {
  json::Value document;
  try {
    document = json::parse(text);
  } catch (const json::ParseError &e) {
    throw ConfigError(label + ": not valid JSON: " + e.what());
  }
  return parse_train_config(document, label);
}

TrainConfig load_train_config(const std::string &path) {
  std::string text;
  try {
    text = read_whole_file(path);
  } catch (const std::runtime_error &e) {
    throw ConfigError(e.what());
  }
  return parse_train_config_text(text, path);
}

}  // namespace dfd::training
