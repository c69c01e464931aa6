// Deletion at the level the relevancy map explains: the transformer's input tokens. Pixel
// deletion (deletion_test.h) also tests the backbone, whose feature cells see far beyond their
// own 32 px square, so a token's evidence survives the masking of its square; removing the
// token itself from the transformer's input asks exactly whether the tokens the map ranks
// first are the ones the classification rests on. Removed tokens are dropped from the
// sequence, not replaced, so no made-up token value enters the test; the others keep their
// position embeddings.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dfd::eval {

class TokenRemoval {
 public:
  // Throws ModelError for unusable files and std::runtime_error for device problems.
  TokenRemoval(const std::string &model_path, const std::string &device);
  ~TokenRemoval();
  TokenRemoval(const TokenRemoval &) = delete;
  TokenRemoval &operator=(const TokenRemoval &) = delete;

  // The fake logit of one image (as Engine::infer takes it) with each set of tokens removed.
  // Tokens are numbered as the relevancy grid's cells (row-major, cls excluded). Throws
  // std::out_of_range for an index outside the grid.
  std::vector<double> logits_without(const uint8_t *image,
                                     const std::vector<std::vector<int>> &removed);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dfd::eval
