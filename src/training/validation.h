// The held-out sets and their figures. Validation images are preprocessed once (exactly as at
// inference) and kept, so every epoch is scored on identical inputs; each figure is labelled
// with the split and the pair of sets it compares.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/json_strict.h"
#include "examples.h"
#include "metrics.h"
#include "train_config.h"

namespace dfd::training {

struct ValidationSet {
  // Real and Fake are files; the others are pseudo-fakes made from the validation reals.
  enum class Kind { Real, Fake, SelfBlend, CrossSwap, LowResSwap };
  std::vector<Example> examples;
  std::vector<Kind> kind;
  std::vector<std::string> source;  // source_name of the folder each came from
  size_t count(Kind k) const;
};

const char *validation_kind_name(ValidationSet::Kind kind);

// Every validation real and fake, plus a pseudo-fake of every kind in `pseudo_fakes` made
// from each validation real, or from `per_kind` reals spread evenly over them when that is
// positive and smaller. `progress(done, total)` is called now and then.
ValidationSet build_validation_set(const ExampleMaker &maker, const Dataset &data,
                                   const std::vector<FakeKind> &pseudo_fakes, int per_kind,
                                   const std::function<void(size_t, size_t)> &progress);

// One source's reals at a threshold.
struct SourceAlarms {
  std::string source;
  size_t reals = 0;
  size_t alarms = 0;  // reals at or above the threshold
  double rate() const { return reals ? static_cast<double>(alarms) / reals : 0.0; }
};

// The threshold that raises an alarm on at most `false_alarm_rate` of the real faces, and what
// it catches.
struct OperatingPoint {
  double false_alarm_rate_target = 0.0;
  CalibrationScope scope = CalibrationScope::Pooled;
  double threshold = 0.5;         // on the probability; a face at or above it is "fake"
  double false_alarm_rate = 0.0;  // measured on all the reals at that threshold
  size_t reals = 0;
  std::vector<std::pair<std::string, double>> true_positive_rate;  // per fake set, and "all"
  std::vector<SourceAlarms> per_source;  // empty when the reals' sources were not given
};

using NamedLogits = std::vector<std::pair<std::string, std::vector<float>>>;

// The lowest threshold (a real face's probability, nudged above it) at which at most
// floor(rate * n) of the reals are at or above it, the reals taken all together (Pooled) or
// each source's alone (EverySource: the highest of the per-source thresholds, so that every
// source keeps at most floor(rate * n_source) alarms). Each source's alarms and each fake
// set's catch rate are then read at it.
OperatingPoint choose_operating_point(const NamedLogits &reals_by_source, const NamedLogits &fakes,
                                      double false_alarm_rate, CalibrationScope scope);
// The same, pooled, over reals given without sources.
OperatingPoint choose_operating_point(const std::vector<float> &real_logits,
                                      const NamedLogits &fakes, double false_alarm_rate);

// What `threshold` does: alarms on all the reals and on each source's, and what it catches.
OperatingPoint measure_operating_point(double threshold, const NamedLogits &reals_by_source,
                                       const NamedLogits &fakes);

const char *calibration_scope_name(CalibrationScope scope);

struct ValidationReport {
  // Reals of a source against that source's fakes (the sources that have fakes).
  std::vector<std::pair<std::string, Figures>> per_source;
  // All reals against one kind of pseudo-fake.
  std::vector<std::pair<std::string, Figures>> per_pseudo_fake;
  Figures combined;  // all reals against every fake
  // What early stopping watches: the loss a balanced training batch would have, i.e. half the
  // mean real loss plus half the fakes' losses, each kind weighted as training mixes them.
  double monitor_loss = 0.0;
  double monitor_auc = 0.0;       // combined.auc
  double monitor_auc_mean = 0.0;  // mean of the per-source and per-pseudo-fake AUCs
  bool has_operating_point = false;
  OperatingPoint operating_point;

  json::Value to_json() const;
  std::vector<std::string> lines(double threshold) const;
};

// `false_alarm_rate` > 0 also chooses the operating point on the validation reals, pooled or
// on every source's.
ValidationReport score_validation(const ValidationSet &set, const std::vector<float> &logits,
                                  double threshold, const DataConfig &data, double false_alarm_rate,
                                  CalibrationScope scope = CalibrationScope::Pooled);

}  // namespace dfd::training
