#include "metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace dfd::eval {

std::vector<RocPoint> roc_curve(const std::vector<LabelledScore> &scores) {
  size_t fakes = 0;
  for (const LabelledScore &s : scores) fakes += s.fake ? 1 : 0;
  const size_t reals = scores.size() - fakes;
  if (fakes == 0 || reals == 0) {
    throw std::invalid_argument("ROC/AUC needs real and fake samples (got " +
                                std::to_string(reals) + " real, " + std::to_string(fakes) +
                                " fake)");
  }
  std::vector<LabelledScore> sorted = scores;
  std::sort(sorted.begin(), sorted.end(),
            [](const LabelledScore &a, const LabelledScore &b) { return a.score > b.score; });
  std::vector<RocPoint> curve{{0.0, 0.0, std::numeric_limits<double>::infinity()}};
  size_t tp = 0, fp = 0;
  for (size_t i = 0; i < sorted.size();) {
    const double value = sorted[i].score;
    for (; i < sorted.size() && sorted[i].score == value; ++i) {
      (sorted[i].fake ? tp : fp) += 1;
    }
    curve.push_back({static_cast<double>(fp) / static_cast<double>(reals),
                     static_cast<double>(tp) / static_cast<double>(fakes), value});
  }
  return curve;
}

double roc_auc(const std::vector<LabelledScore> &scores) {
  const std::vector<RocPoint> curve = roc_curve(scores);
  double area = 0.0;
  for (size_t i = 1; i < curve.size(); ++i) {
    area += (curve[i].fpr - curve[i - 1].fpr) * (curve[i].tpr + curve[i - 1].tpr) / 2.0;
  }
  return area;
}

double precision(const ConfusionCounts &c) {
  return c.tp + c.fp == 0 ? 0.0 : static_cast<double>(c.tp) / static_cast<double>(c.tp + c.fp);
}

double recall(const ConfusionCounts &c) {
  return c.tp + c.fn == 0 ? 0.0 : static_cast<double>(c.tp) / static_cast<double>(c.tp + c.fn);
}

BinaryMetrics compute_metrics(const std::vector<LabelledScore> &scores, double threshold) {
  BinaryMetrics m;
  m.threshold = threshold;
  for (const LabelledScore &s : scores) {
    (s.fake ? m.fake : m.real) += 1;
    m.confusion.add(classify(s.fake, predicted_fake(s.score, threshold)));
  }
  m.accuracy = m.confusion.accuracy();
  m.precision = precision(m.confusion);
  m.recall = recall(m.confusion);
  m.f1 = m.confusion.f1();
  m.auc = m.real > 0 && m.fake > 0 ? roc_auc(scores) : std::numeric_limits<double>::quiet_NaN();
  return m;
}

}  // namespace dfd::eval
