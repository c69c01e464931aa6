// Frame-level verdicts against ground truth, as the seed's explainer labels its sheets, and
// the accuracy and F1 its test script reports.
#pragma once

#include <cstddef>

namespace dfd {

enum class Outcome { TruePositive, FalsePositive, TrueNegative, FalseNegative };

// Fake is the positive class. The seed tests probability > 0.55 and < 0.55 (a tie falls
// through to "FN"); a float32 probability never equals the double 0.55, so >= is the same
// verdict there and has no hole at other thresholds.
bool predicted_fake(double probability, double threshold);
Outcome classify(bool truth_fake, bool prediction_fake);
const char *outcome_name(Outcome outcome);  // "TP", "FP", "TN", "FN"

struct ConfusionCounts {
  size_t tp = 0;
  size_t fp = 0;
  size_t tn = 0;
  size_t fn = 0;

  void add(Outcome outcome);
  size_t total() const { return tp + fp + tn + fn; }
  double accuracy() const;  // (TP + TN) / total; 0 when empty
  double f1() const;        // 2TP / (2TP + FP + FN); 0 when undefined, as scikit-learn
};

}  // namespace dfd
