// The held-out sets and their figures. Validation images are preprocessed once (exactly as at
// inference) and kept, so every epoch is scored on identical inputs; each figure is labelled
// with the split and the pair of sets it compares.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/json.h"
#include "examples.h"
#include "metrics.h"

namespace dfd::training {

struct ValidationSet {
  enum class Kind { Real, Fake, SelfBlend };
  std::vector<Example> examples;
  std::vector<Kind> kind;
  std::vector<std::string> folder;  // the folder each came from
  size_t count(Kind k) const;
};

// Every validation real and fake, plus (when `self_blend`) each validation real's own
// pseudo-fake. `progress(done, total)` is called now and then.
ValidationSet build_validation_set(const ExampleMaker &maker, const Dataset &data, bool self_blend,
                                   const std::function<void(size_t, size_t)> &progress);

struct ValidationReport {
  Figures real_vs_fake;  // validation reals against validation fakes
  Figures real_vs_sbi;   // validation reals against their self-blended fakes
  Figures combined;      // reals against every fake
  std::vector<std::pair<std::string, Figures>> per_real_folder;  // each folder vs the fakes
  // What early stopping watches: the loss a balanced training batch would have, i.e. half the
  // mean real loss plus half the fakes' loss, the fakes weighted as training mixes them.
  double monitor_loss = 0.0;
  double monitor_auc = 0.0;  // combined.auc

  json::Value to_json() const;
  std::vector<std::string> lines(double threshold) const;
};

ValidationReport score_validation(const ValidationSet &set, const std::vector<float> &logits,
                                  double threshold, double sbi_fraction);

}  // namespace dfd::training
