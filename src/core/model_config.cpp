#include "model_config.h"

#include <cmath>
#include <initializer_list>
#include <limits>

#include "model_error.h"

namespace dfd {

namespace {

constexpr const char *kFormatName = "gst-deepfake-model";
constexpr const char *kBackbone = "efficientnet-b0";
constexpr const char *kLiteBackbone = "efficientnet-lite0";
constexpr const char *kResize = "isotropic-pad";

int integer_sqrt(int value) {
  int root = static_cast<int>(std::sqrt(static_cast<double>(value)));
  while (root > 0 && root * root > value) --root;
  while ((root + 1) * (root + 1) <= value) ++root;
  return root;
}

bool is_perfect_square(int value) {
  const int root = integer_sqrt(value);
  return root * root == value;
}

std::string describe(const json::Value &value) {
  std::string text = json::dump(value);
  // The value came from a file; keep messages readable whatever it holds.
  if (text.size() > 64) text = text.substr(0, 61) + "...";
  return text;
}

class ConfigReader {
 public:
  explicit ConfigReader(const std::string &label) : label_(label) {}

  [[noreturn]] void fail(const std::string &field, const std::string &what) const {
    throw ModelError(label_ + ": config field '" + field + "': " + what);
  }
  [[noreturn]] void fail_config(const std::string &what) const {
    throw ModelError(label_ + ": config " + what);
  }

  // Rejects keys outside `allowed`: a misspelt optional field must not be silently ignored.
  void check_keys(const json::Value &object, const std::string &prefix,
                  std::initializer_list<const char *> allowed) const {
    for (const auto &[key, value] : json::as_object(object)) {
      (void)value;
      bool known = false;
      std::string list;
      for (const char *name : allowed) {
        known = known || key == name;
        list += (list.empty() ? "" : ", ") + std::string(name);
      }
      if (!known) fail(prefix + key, "unknown field (expected one of: " + list + ")");
    }
  }

  const json::Value &require(const json::Value &object, const std::string &prefix,
                             const std::string &key) const {
    const json::Value *value = json::find(object, key);
    if (!value) fail(prefix + key, "missing");
    return *value;
  }

  const json::Value &require_object(const json::Value &object, const std::string &key) const {
    const json::Value &value = require(object, "", key);
    if (!value.is_object()) fail(key, "must be an object, got " + describe(value));
    return value;
  }

  std::string string_field(const json::Value &object, const std::string &prefix,
                           const std::string &key) const {
    const json::Value &value = require(object, prefix, key);
    if (!value.is_string()) fail(prefix + key, "must be a string, got " + describe(value));
    return json::as_string(value);
  }

  int int_field(const json::Value &object, const std::string &prefix, const std::string &key,
                int low, int high) const {
    const json::Value &value = require(object, prefix, key);
    const std::string range = "[" + std::to_string(low) + ", " + std::to_string(high) + "]";
    if (!value.is_number() || json::as_number(value) != std::floor(json::as_number(value)) ||
        json::as_number(value) < low || json::as_number(value) > high) {
      fail(prefix + key, "must be an integer in " + range + ", got " + describe(value));
    }
    return static_cast<int>(json::as_number(value));
  }

  double number_field(const json::Value &object, const std::string &prefix,
                      const std::string &key) const {
    const json::Value &value = require(object, prefix, key);
    if (!value.is_number()) fail(prefix + key, "must be a number, got " + describe(value));
    return json::as_number(value);
  }

  // Reads three finite float32 values; `positive` additionally requires each to be > 0 (a
  // divisor), checked after narrowing so a tiny double cannot become a zero float.
  std::array<float, 3> channel_triple(const json::Value &object, const std::string &prefix,
                                      const std::string &key, bool positive) const {
    const json::Value &value = require(object, prefix, key);
    if (!value.is_array() || json::as_array(value).size() != 3) {
      fail(prefix + key, "must be an array of 3 numbers, got " + describe(value));
    }
    std::array<float, 3> out{};
    for (size_t i = 0; i < 3; ++i) {
      const json::Value &item = json::as_array(value)[i];
      const std::string field = prefix + key + "[" + std::to_string(i) + "]";
      if (!item.is_number()) fail(field, "must be a number, got " + describe(item));
      const float x = static_cast<float>(json::as_number(item));
      if (!std::isfinite(x)) {
        fail(field, "must be a finite float32 value, got " + describe(item));
      }
      if (positive && !(x > 0.f)) fail(field, "must be greater than 0, got " + describe(item));
      out[i] = x;
    }
    return out;
  }

 private:
  const std::string &label_;
};

}  // namespace

int ModelConfig::token_count() const {
  if (architecture == Architecture::Seed) return seed_tokens + 1;
  return feature_size() * feature_size() + 1;
}

// The seed's R[0, 1:] has one value per Conv1d channel, laid out as a square by convention
// (spec section 4); the spatial model's has one per backbone feature cell.
int ModelConfig::grid_width() const {
  if (architecture == Architecture::Seed) return integer_sqrt(seed_tokens);
  return feature_size();
}

int ModelConfig::grid_height() const {
  return grid_width();
}

ModelConfig ModelConfig::seed_defaults() {
  ModelConfig config;
  config.architecture = Architecture::Seed;
  config.backbone = kBackbone;
  config.image_size = 224;
  config.color_order = ColorOrder::BGR;
  config.mean = {0.f, 0.f, 0.f};
  config.std = {1.f, 1.f, 1.f};
  config.seed_tokens = 1024;
  config.transformer = TransformerConfig{};
  config.transformer.dim = 49;
  config.transformer.depth = 6;
  config.transformer.heads = 8;
  config.transformer.dim_head = 64;
  config.transformer.mlp_dim = 2048;
  config.transformer.head_hidden = 2048;
  config.transformer.dropout = 0.15;
  config.transformer.emb_dropout = 0.15;
  config.threshold = 0.55;
  config.name = "seed-evit10";
  config.source = "";
  config.training = nullptr;
  return config;
}

const char *architecture_name(Architecture architecture) {
  switch (architecture) {
    case Architecture::Seed:
      return "seed";
    case Architecture::Spatial:
      return "spatial";
  }
  return "unknown";
}

ModelConfig parse_model_config(const json::Value &value, const std::string &label) {
  const ConfigReader reader(label);
  if (!value.is_object()) reader.fail_config("is not a JSON object");
  reader.check_keys(value, "",
                    {"format", "format_version", "name", "architecture", "backbone", "input",
                     "transformer", "threshold", "source", "training"});
  ModelConfig config;

  if (reader.string_field(value, "", "format") != kFormatName) {
    reader.fail("format", "must be \"" + std::string(kFormatName) + "\", got " +
                              describe(*value.find("format")));
  }
  const json::Value &version = reader.require(value, "", "format_version");
  if (!version.is_number() || json::as_number(version) != ModelConfig::kFormatVersion) {
    reader.fail("format_version", "unsupported version " + describe(version) +
                                      " (this build reads version " +
                                      std::to_string(ModelConfig::kFormatVersion) + ")");
  }
  config.name = reader.string_field(value, "", "name");
  if (config.name.empty()) reader.fail("name", "must not be empty");

  const std::string architecture = reader.string_field(value, "", "architecture");
  if (architecture == "seed") {
    config.architecture = Architecture::Seed;
  } else if (architecture == "spatial") {
    config.architecture = Architecture::Spatial;
  } else {
    reader.fail("architecture",
                "must be \"seed\" or \"spatial\", got " + describe(*value.find("architecture")));
  }
  config.backbone = reader.string_field(value, "", "backbone");
  if (config.backbone == kLiteBackbone) {
    // The seed's layout is tied to its own checkpoint's B0; Lite0 serves the spatial models.
    if (config.architecture != Architecture::Spatial) {
      reader.fail("backbone", "\"" + std::string(kLiteBackbone) +
                                  "\" is available for the spatial architecture only");
    }
  } else if (config.backbone != kBackbone) {
    reader.fail("backbone", "unsupported backbone " + describe(*value.find("backbone")) +
                                " (this build supports \"" + kBackbone + "\" and \"" +
                                kLiteBackbone + "\")");
  }

  const json::Value &input = reader.require_object(value, "input");
  reader.check_keys(input, "input.", {"size", "color_order", "mean", "std", "resize"});
  const json::Value &size = reader.require(input, "input.", "size");
  if (!size.is_number() || json::as_number(size) != std::floor(json::as_number(size)) ||
      json::as_number(size) < 32 || json::as_number(size) > 1024 ||
      static_cast<int>(json::as_number(size)) % 32 != 0) {
    reader.fail("input.size", "must be a multiple of 32 in [32, 1024], got " + describe(size));
  }
  config.image_size = static_cast<int>(json::as_number(size));
  const std::string color_order = reader.string_field(input, "input.", "color_order");
  if (color_order == "BGR") {
    config.color_order = ColorOrder::BGR;
  } else if (color_order == "RGB") {
    config.color_order = ColorOrder::RGB;
  } else {
    reader.fail("input.color_order",
                "must be \"BGR\" or \"RGB\", got " + describe(*input.find("color_order")));
  }
  config.mean = reader.channel_triple(input, "input.", "mean", false);
  config.std = reader.channel_triple(input, "input.", "std", true);
  if (reader.string_field(input, "input.", "resize") != kResize) {
    reader.fail("input.resize",
                "must be \"" + std::string(kResize) + "\", got " + describe(*input.find("resize")));
  }

  const bool seed = config.architecture == Architecture::Seed;
  const json::Value &transformer = reader.require_object(value, "transformer");
  reader.check_keys(transformer, "transformer.",
                    {"dim", "depth", "heads", "dim_head", "mlp_dim", "head_hidden", "tokens",
                     "dropout", "emb_dropout"});
  const std::string t = "transformer.";
  TransformerConfig &tc = config.transformer;
  tc.dim = reader.int_field(transformer, t, "dim", 1, 4096);
  tc.depth = reader.int_field(transformer, t, "depth", 1, 48);
  tc.heads = reader.int_field(transformer, t, "heads", 1, 64);
  tc.dim_head = reader.int_field(transformer, t, "dim_head", 1, 1024);
  tc.mlp_dim = reader.int_field(transformer, t, "mlp_dim", 1, 65536);
  // Spatial models have no mlp_head and take their token count from the image size, so these
  // two are optional there (and checked when given).
  if (seed || json::find(transformer, "head_hidden")) {
    tc.head_hidden = reader.int_field(transformer, t, "head_hidden", 1, 65536);
  }
  if (seed || json::find(transformer, "tokens")) {
    config.seed_tokens = reader.int_field(transformer, t, "tokens", 1, 65536);
  }
  for (const char *key : {"dropout", "emb_dropout"}) {
    const double rate = reader.number_field(transformer, t, key);
    if (!(rate >= 0.0 && rate < 1.0)) {
      reader.fail(t + key, "must be in [0, 1), got " + describe(*transformer.find(key)));
    }
    (std::string(key) == "dropout" ? tc.dropout : tc.emb_dropout) = rate;
  }
  if (seed) {
    const int cells = config.feature_size() * config.feature_size();
    if (tc.dim != cells) {
      reader.fail("transformer.dim",
                  "must be " + std::to_string(cells) + " for the seed architecture at input size " +
                      std::to_string(config.image_size) +
                      ": each seed token holds one value per backbone feature cell (" +
                      std::to_string(config.feature_size()) + "x" +
                      std::to_string(config.feature_size()) + "), got " + std::to_string(tc.dim));
    }
    if (!is_perfect_square(config.seed_tokens)) {
      reader.fail("transformer.tokens",
                  "must be a perfect square: the relevancy map R[0, 1:] has one value per token "
                  "and is shown as a square grid, got " +
                      std::to_string(config.seed_tokens));
    }
  }

  const json::Value &threshold = reader.require(value, "", "threshold");
  if (!threshold.is_number() ||
      !(json::as_number(threshold) > 0.0 && json::as_number(threshold) < 1.0)) {
    reader.fail("threshold", "must be a number in (0, 1), got " + describe(threshold));
  }
  config.threshold = json::as_number(threshold);
  config.source = reader.string_field(value, "", "source");
  const json::Value *training = json::find(value, "training");
  config.training = training ? *training : json::Value();
  return config;
}

ModelConfig parse_model_config_text(const std::string &text, const std::string &label) {
  json::Value value;
  try {
    value = json::parse(text);
  } catch (const json::ParseError &e) {
    throw ModelError(label + ": config is not valid JSON: " + e.what());
  }
  return parse_model_config(value, label);
}

json::Value model_config_to_json(const ModelConfig &config) {
  const bool seed = config.architecture == Architecture::Seed;
  json::Value input;
  input["size"] = config.image_size;
  input["color_order"] = config.color_order == ColorOrder::BGR ? "BGR" : "RGB";
  json::Array mean;
  json::Array deviation;
  for (size_t i = 0; i < 3; ++i) {
    mean.emplace_back(static_cast<double>(config.mean[i]));
    deviation.emplace_back(static_cast<double>(config.std[i]));
  }
  input["mean"] = std::move(mean);
  input["std"] = std::move(deviation);
  input["resize"] = kResize;

  const TransformerConfig &tc = config.transformer;
  json::Value transformer;
  transformer["dim"] = tc.dim;
  transformer["depth"] = tc.depth;
  transformer["heads"] = tc.heads;
  transformer["dim_head"] = tc.dim_head;
  transformer["mlp_dim"] = tc.mlp_dim;
  if (seed) {
    transformer["head_hidden"] = tc.head_hidden;
    transformer["tokens"] = config.seed_tokens;
  }
  transformer["dropout"] = tc.dropout;
  transformer["emb_dropout"] = tc.emb_dropout;

  json::Value out;
  out["format"] = kFormatName;
  out["format_version"] = ModelConfig::kFormatVersion;
  out["name"] = config.name;
  out["architecture"] = architecture_name(config.architecture);
  out["backbone"] = config.backbone;
  out["input"] = std::move(input);
  out["transformer"] = std::move(transformer);
  out["threshold"] = config.threshold;
  out["source"] = config.source;
  if (!config.training.is_null()) out["training"] = config.training;
  return out;
}

}  // namespace dfd
