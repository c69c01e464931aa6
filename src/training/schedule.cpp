#include "schedule.h"

#include <algorithm>
#include <cmath>

namespace dfd::training {

double learning_rate(const OptimizerConfig &optimizer, const ScheduleConfig &schedule, int64_t step,
                     int epoch, int64_t total_steps) {
  const double base = optimizer.lr;
  double lr = base;
  switch (schedule.kind) {
    case ScheduleKind::Constant:
      break;
    case ScheduleKind::Step:
      lr = base * std::pow(schedule.gamma, epoch / schedule.step_epochs);
      break;
    case ScheduleKind::Cosine: {
      const double span =
          static_cast<double>(std::max<int64_t>(total_steps - schedule.warmup_steps, 1));
      const double progress =
          std::clamp(static_cast<double>(step - schedule.warmup_steps) / span, 0.0, 1.0);
      lr = schedule.min_lr +
           (base - schedule.min_lr) * 0.5 * (1.0 + std::cos(3.141592653589793 * progress));
      break;
    }
  }
  if (step < schedule.warmup_steps) {
    lr *= static_cast<double>(step + 1) / schedule.warmup_steps;
  }
  return lr;
}

}  // namespace dfd::training
