// Binary classification figures for deepfake-eval, fake being the positive class: the ROC
// curve and its area, and the threshold figures the seed's results table reports. Plain C++,
// so the tests can check every number by hand.
#pragma once

#include <cstddef>
#include <vector>

#include "tools/classification_metrics.h"

namespace dfd::eval {

struct LabelledScore {
  double score = 0.0;  // higher means more likely fake (a probability or a logit)
  bool fake = false;
};

struct RocPoint {
  double fpr = 0.0;
  double tpr = 0.0;
  double threshold = 0.0;  // fake when score >= threshold; +inf for the (0, 0) corner
};

// The ROC curve from (0, 0) to (1, 1) with one point per distinct score, so tied scores form
// one diagonal step rather than an order-dependent staircase. Throws std::invalid_argument
// when either class is empty: the curve is undefined then.
std::vector<RocPoint> roc_curve(const std::vector<LabelledScore> &scores);

// Trapezoidal area under roc_curve(): with its diagonal tie steps this equals the
// Mann-Whitney statistic P(fake > real) + P(fake == real) / 2. Throws std::invalid_argument
// when either class is empty.
double roc_auc(const std::vector<LabelledScore> &scores);

// Every threshold figure; AUC is NaN (JSON null) when a class is missing, so a one-class set
// still reports its accuracy.
struct BinaryMetrics {
  size_t real = 0, fake = 0;
  double threshold = 0.0;
  ConfusionCounts confusion;
  double accuracy = 0.0;
  double precision = 0.0;  // TP / (TP + FP); 0 when nothing was called fake (scikit-learn)
  double recall = 0.0;     // TP / (TP + FN); 0 without fakes
  double f1 = 0.0;
  double auc = 0.0;  // NaN when a class is missing
};

// `scores` must be probabilities here: the threshold applies to them (predicted_fake()).
BinaryMetrics compute_metrics(const std::vector<LabelledScore> &scores, double threshold);

double precision(const ConfusionCounts &counts);
double recall(const ConfusionCounts &counts);

}  // namespace dfd::eval
