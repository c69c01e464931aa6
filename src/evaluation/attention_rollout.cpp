#include "attention_rollout.h"

#include "eval_network.h"

namespace dfd::eval {

struct AttentionRollout::Impl : EvalNetwork {};

AttentionRollout::AttentionRollout(const std::string &model_path, const std::string &device)
    : impl_(std::make_unique<Impl>(Impl{load_eval_network(model_path, device)})) {}

AttentionRollout::~AttentionRollout() = default;

std::vector<RelevancyGrid> AttentionRollout::compute(const uint8_t *images, size_t count) {
  std::vector<RelevancyGrid> out(count);
  if (count == 0) return out;
  Impl &d = *impl_;
  c10::InferenceMode guard;
  const int64_t size = d.config.image_size;
  const torch::Tensor bytes = torch::from_blob(
      const_cast<uint8_t *>(images), {static_cast<int64_t>(count), size, size, 3}, torch::kUInt8);
  std::vector<torch::Tensor> maps;
  d.net->classify_tokens(d.net->embed(d.net->features(images_to_input(bytes, d.config, d.device))),
                         &maps);
  // Only the cls row is wanted, so it is carried as a row vector through each block's matrix
  // and the T x T products are never formed: v <- v A_k for k = L down to 1 gives
  // e0^T A_L ... A_1, row 0 of the rollout.
  const int64_t tokens = maps.front().size(-1);
  torch::Tensor row =
      torch::zeros({static_cast<int64_t>(count), 1, tokens}, maps.front().options());
  row.select(2, 0).fill_(1.0);
  const torch::Tensor eye = torch::eye(tokens, maps.front().options());
  for (auto it = maps.rbegin(); it != maps.rend(); ++it) {
    torch::Tensor a = it->mean(1) + eye;  // (B, T, T)
    a = a / a.sum(-1, /*keepdim=*/true);  // rows sum to 1
    row = torch::bmm(row, a);
  }
  const torch::Tensor values =
      row.squeeze(1).slice(1, 1).to(torch::kCPU, torch::kFloat32).contiguous();
  const int grid_w = d.config.grid_width(), grid_h = d.config.grid_height();
  for (size_t i = 0; i < count; ++i) {
    const float *p = values.data_ptr<float>() + static_cast<int64_t>(i) * values.size(1);
    out[i].width = grid_w;
    out[i].height = grid_h;
    out[i].values.assign(p, p + static_cast<size_t>(grid_w) * grid_h);
  }
  return out;
}

}  // namespace dfd::eval
