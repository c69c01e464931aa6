// Validation figures computed from per-face logits: plain C++, so they can be checked by hand.
#pragma once

#include <cstddef>
#include <vector>

namespace dfd::training {

struct Scored {
  float logit = 0.f;
  bool fake = false;
};

// Binary cross-entropy of one logit against its label, in the numerically stable form.
double bce_with_logit(double logit, bool fake);

// Area under the ROC curve (fake = positive), by the rank statistic with ties counted half:
// the probability that a random fake scores above a random real. NaN when a class is empty.
double roc_auc(const std::vector<Scored> &scored);

struct Figures {
  size_t real = 0, fake = 0;
  double loss = 0.0;      // mean BCE, unweighted
  double auc = 0.0;       // NaN when a class is missing
  double accuracy = 0.0;  // at `threshold` on the probability
};

Figures summarise(const std::vector<Scored> &scored, double threshold);

}  // namespace dfd::training
