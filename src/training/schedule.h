// The learning rate as a pure function of the position in the run, so a resumed run needs no
// scheduler state: the seed's StepLR (per epoch), cosine annealing (per step), or constant,
// each with an optional linear warm-up.
#pragma once

#include <cstdint>

#include "train_config.h"

namespace dfd::training {

// `step`: steps done before this one; `epoch`: 0-based; `total_steps`: the run's planned
// steps (epochs * steps per epoch), the end of the cosine.
double learning_rate(const OptimizerConfig &optimizer, const ScheduleConfig &schedule, int64_t step,
                     int epoch, int64_t total_steps);

}  // namespace dfd::training
