// Plain attention rollout (Abnar and Zuidema, 2020): how much the cls token draws on each
// input token through the layers, from the attention maps alone, without gradients. The
// deletion test compares it with the engine's gradient-weighted relevancy, so it needs the
// attention maps that Engine does not expose; this class keeps its own copy of the network
// (through core/torch_model.h) rather than widening Engine's interface for one tool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/engine.h"

namespace dfd::eval {

class AttentionRollout {
 public:
  // Throws ModelError for unusable files and std::runtime_error for device problems.
  AttentionRollout(const std::string &model_path, const std::string &device);
  ~AttentionRollout();
  AttentionRollout(const AttentionRollout &) = delete;
  AttentionRollout &operator=(const AttentionRollout &) = delete;

  // `images` as Engine::infer takes them. Per block, A = mean over heads of the softmax map,
  // plus the identity for the residual path, rows renormalised to sum to 1; R = A_1 ... A_L
  // applied to the cls row. Returns R[0, 1:] shaped as the engine's relevancy grid.
  std::vector<RelevancyGrid> compute(const uint8_t *images, size_t count);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dfd::eval
