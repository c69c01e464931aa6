// Puts a face's relevancy, computed on the model's input square, back onto the face's
// detection box in the frame: the input was a letterboxed copy of a square crop around the box,
// so the map is undone through both steps.
#pragma once

#include "analysis/face_analyzer.h"
#include "core/engine.h"
#include "core/model_config.h"

namespace dfd {

// The model-input relevancy grid of `face`, mapped onto its detection box as a grid of at
// most `max_side` cells a side (keeping the box's aspect), values in [0, 1].
RelevancyGrid box_relevancy(const RelevancyGrid &model_grid, const ModelConfig &config,
                            const SubmittedFace &face, int max_side = 64);

}  // namespace dfd
