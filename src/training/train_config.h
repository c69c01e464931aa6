// The training config file: the architecture to build (the model file's own config fields)
// and every hyper-parameter of a run. Parsing is strict, as for model files: an unknown or
// misspelt key is an error, never silently a default. Keys are documented in
// models/configs/README.md.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

#include "analysis/face_detector.h"
#include "augment.h"
#include "core/json_strict.h"
#include "core/model_config.h"
#include "face_swap.h"
#include "self_blend.h"

namespace dfd::training {

// Every message names the file and the key at fault.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Sampling {
  Pairs,   // one pass over the training reals, each with a fake: its own SBI or a real fake
  Images,  // one pass over every training image, real and fake (the seed)
};
enum class CropMode { FaceBox, Image };
// Which real a real fake is paired with. The folders of one source share a parent (yonsei/real,
// yonsei/fake); pairing within it keeps "which dataset does this look like" from predicting
// the label when the reals come from more sources than the fakes.
// "same-name" goes further for sources whose fakes were made from their reals (DFDC's
// real/X.jpg and fake/X.jpg): the fake made from this very real, else one of the same source.
enum class FakePartner { Any, SameParent, SameName };
// What a real is paired with: a real fake from a --fake folder, or a pseudo-fake made from the
// real itself (self-blended, cross-identity swap, low-resolution swap).
enum class FakeKind { Paired, SelfBlend, CrossSwap, LowResSwap };
constexpr int kFakeKindCount = 4;
const char *fake_kind_name(FakeKind kind);
enum class OptimizerKind { Sgd, AdamW };
enum class ScheduleKind { Constant, Step, Cosine };
// ValAucMean: the mean of the per-set AUCs (each source's reals against its own fakes, all
// reals against each pseudo-fake kind), which unlike the combined AUC is not lifted by how
// unlike one source's reals look from another source's fakes.
enum class Monitor { ValLoss, ValAuc, ValAucMean };

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::AdamW;
  double lr = 3e-4;
  double momentum = 0.0;  // SGD
  double weight_decay = 0.0;
  std::array<double, 2> betas{0.9, 0.999};  // AdamW
  double eps = 1e-8;                        // AdamW
  // false: biases, norms, the cls token and the position embedding are not decayed.
  bool decay_all = true;
};

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::Constant;
  int step_epochs = 15;  // step: lr *= gamma every step_epochs epochs
  double gamma = 0.1;
  int warmup_steps = 0;  // linear from 0 (any schedule)
  double min_lr = 0.0;   // cosine floor
};

struct EarlyStoppingConfig {
  Monitor monitor = Monitor::ValLoss;
  int patience = 5;  // epochs without improvement; 0 disables
  double min_delta = 0.0;
};

struct DataConfig {
  Sampling sampling = Sampling::Pairs;
  double sbi_fraction = 1.0;  // pairs: share of pairs whose fake is the real's own SBI
  // Pairs: how often each kind of fake partners a real, by FakeKind (normalised over the kinds
  // a real can have: "paired" only where its source has fakes). Without "fake_kinds" in the
  // config: paired 1 - sbi_fraction, self-blend sbi_fraction.
  std::array<double, kFakeKindCount> fake_kinds{0.0, 1.0, 0.0, 0.0};
  bool fake_kinds_given = false;
  // Pairs: the share of an epoch's reals drawn from each source (by source_name of the
  // folder); empty: every training real once per epoch. With weights, an epoch holds
  // units_per_epoch pairs (0: as many as there are training reals).
  std::map<std::string, double> source_weights;
  int units_per_epoch = 0;
  FakePartner fake_partner = FakePartner::Any;
  // The detector whose box crops training and validation faces: the element's.
  DetectorKind face_detector = DetectorKind::Hog;
  int val_percent = 20;
  // Pseudo-fakes of each kind made for validation: from every validation real (0), or from
  // at most this many, spread evenly over them.
  int val_pseudo_fakes = 0;
  CropMode crop = CropMode::FaceBox;
  double crop_margin = 0.0;         // seed_square_box margin at validation and inference
  double crop_margin_jitter = 0.0;  // training adds a margin uniform in [0, this]
};

enum class CalibrationScope { Pooled, EverySource };

struct TrainConfig {
  std::string label;     // the file it came from, for messages
  json::Value document;  // the file's JSON as read: recorded in the model, compared on resume
  ModelConfig model;
  std::string init_weights;   // empty: random initialisation
  bool init_partial = false;  // load only tensors whose name and shape match
  uint64_t seed = 1;
  int epochs = 1;
  int batch_size = 16;
  int eval_batch_size = 32;
  int freeze_blocks = 0;
  // The frozen stem and blocks run as at inference while training (no autograd record,
  // BatchNorm statistics fixed and left out of recalibration), not merely without gradients.
  bool freeze_inference = false;
  bool pos_weight_auto = true;  // n_real / n_fake of one training epoch, as the seed
  double pos_weight = 1.0;
  double grad_clip_norm = 0.0;        // 0: off
  int bn_recalibration_batches = 50;  // training batches averaged into BN statistics; 0: off
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  EarlyStoppingConfig early_stopping;
  DataConfig data;
  SbiOptions sbi;
  CrossSwapOptions swap;
  LowResOptions lowres;
  BottleneckOptions bottleneck;
  AugmentOptions augment;
  // > 0: the saved model's threshold is the one that flags this share of the validation reals
  // (its operating point is recorded beside the figures); 0 keeps model.threshold.
  double false_alarm_rate = 0.0;
  // Which reals the rate is held on: all of them pooled, or each source's on its own (the
  // threshold is then the highest of the per-source ones, so that a large source whose reals
  // look real cannot hide a source whose reals the model finds harder).
  CalibrationScope calibration_scope = CalibrationScope::Pooled;
  int log_every_steps = 50;
  int checkpoint_every_steps = 0;  // 0: only at epoch ends
};

// Throw ConfigError.
TrainConfig parse_train_config(const json::Value &document, const std::string &label);
TrainConfig parse_train_config_text(const std::string &text, const std::string &label);
TrainConfig load_train_config(const std::string &path);

}  // namespace dfd::training
