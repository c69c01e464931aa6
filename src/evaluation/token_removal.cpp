#include "token_removal.h"

#include <stdexcept>

#include "eval_network.h"

namespace dfd::eval {

struct TokenRemoval::Impl : EvalNetwork {};

TokenRemoval::TokenRemoval(const std::string &model_path, const std::string &device)
    : impl_(std::make_unique<Impl>(Impl{load_eval_network(model_path, device)})) {}

TokenRemoval::~TokenRemoval() = default;

std::vector<double> TokenRemoval::logits_without(const uint8_t *image,
                                                 const std::vector<std::vector<int>> &removed) {
  Impl &d = *impl_;
  c10::InferenceMode guard;
  const int64_t size = d.config.image_size;
  const torch::Tensor bytes =
      torch::from_blob(const_cast<uint8_t *>(image), {1, size, size, 3}, torch::kUInt8);
  const torch::Tensor tokens =
      d.net->embed(d.net->features(images_to_input(bytes, d.config, d.device)));
  const int64_t cells = tokens.size(1) - 1;
  std::vector<double> logits;
  logits.reserve(removed.size());
  for (const std::vector<int> &set : removed) {
    std::vector<bool> keep(static_cast<size_t>(cells), true);
    for (const int cell : set) {
      if (cell < 0 || cell >= cells) {
        throw std::out_of_range("token " + std::to_string(cell) + " outside the " +
                                std::to_string(cells) + " grid cells");
      }
      keep[static_cast<size_t>(cell)] = false;
    }
    std::vector<int64_t> kept{0};  // the cls token always stays
    for (int64_t c = 0; c < cells; ++c) {
      if (keep[static_cast<size_t>(c)]) kept.push_back(c + 1);
    }
    const torch::Tensor index = torch::tensor(kept, torch::kLong).to(d.device);
    const torch::Tensor logit = d.net->classify_tokens(tokens.index_select(1, index), nullptr);
    logits.push_back(logit.item<double>());
  }
  return logits;
}

}  // namespace dfd::eval
