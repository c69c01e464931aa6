#include "classification_metrics.h"

namespace dfd {

bool predicted_fake(double probability, double threshold) {
  return probability >= threshold;
}

Outcome classify(bool truth_fake, bool prediction_fake) {
  if (prediction_fake) return truth_fake ? Outcome::TruePositive : Outcome::FalsePositive;
  return truth_fake ? Outcome::FalseNegative : Outcome::TrueNegative;
}

const char *outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::TruePositive:
      return "TP";
    case Outcome::FalsePositive:
      return "FP";
    case Outcome::TrueNegative:
      return "TN";
    case Outcome::FalseNegative:
      return "FN";
  }
  return "?";
}

void ConfusionCounts::add(Outcome outcome) {
  switch (outcome) {
    case Outcome::TruePositive:
      ++tp;
      break;
    case Outcome::FalsePositive:
      ++fp;
      break;
    case Outcome::TrueNegative:
      ++tn;
      break;
    case Outcome::FalseNegative:
      ++fn;
      break;
  }
}

double ConfusionCounts::accuracy() const {
  const size_t n = total();
  return n == 0 ? 0.0 : static_cast<double>(tp + tn) / static_cast<double>(n);
}

double ConfusionCounts::f1() const {
  const size_t denominator = 2 * tp + fp + fn;
  return denominator == 0 ? 0.0 : static_cast<double>(2 * tp) / static_cast<double>(denominator);
}

}  // namespace dfd
