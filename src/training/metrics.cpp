#include "metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dfd::training {

double bce_with_logit(double logit, bool fake) {
  const double y = fake ? 1.0 : 0.0;
  return std::max(logit, 0.0) - logit * y + std::log1p(std::exp(-std::fabs(logit)));
}

double roc_auc(const std::vector<Scored> &scored) {
  std::vector<Scored> sorted = scored;
  std::sort(sorted.begin(), sorted.end(),
            [](const Scored &a, const Scored &b) { return a.logit < b.logit; });
  double rank_sum = 0.0;  // sum of the fakes' (1-based, tie-averaged) ranks
  size_t fakes = 0;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    size_t tied_fakes = 0;
    while (j < sorted.size() && sorted[j].logit == sorted[i].logit) {
      tied_fakes += sorted[j].fake ? 1 : 0;
      ++j;
    }
    const double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    rank_sum += average_rank * static_cast<double>(tied_fakes);
    fakes += tied_fakes;
    i = j;
  }
  const size_t reals = sorted.size() - fakes;
  if (fakes == 0 || reals == 0) return std::numeric_limits<double>::quiet_NaN();
  const double f = static_cast<double>(fakes);
  return (rank_sum - f * (f + 1.0) / 2.0) / (f * static_cast<double>(reals));
}

Figures summarise(const std::vector<Scored> &scored, double threshold) {
  Figures out;
  size_t correct = 0;
  for (const Scored &s : scored) {
    (s.fake ? out.fake : out.real) += 1;
    out.loss += bce_with_logit(s.logit, s.fake);
    const double probability = 1.0 / (1.0 + std::exp(-static_cast<double>(s.logit)));
    correct += ((probability >= threshold) == s.fake) ? 1 : 0;
  }
  if (!scored.empty()) {
    out.loss /= static_cast<double>(scored.size());
    out.accuracy = static_cast<double>(correct) / static_cast<double>(scored.size());
  }
  out.auc = roc_auc(scored);
  return out;
}

}  // namespace dfd::training
