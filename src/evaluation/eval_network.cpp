#include "eval_network.h"

#include "core/engine.h"
#include "core/model_file.h"

namespace dfd::eval {

EvalNetwork load_eval_network(const std::string &model_path, const std::string &device) {
  check_device(device);
  const ModelFile file = ModelFile::open(model_path);
  EvalNetwork n;
  n.config = file.config();
  n.device = torch::Device(device);
  n.net = DeepfakeNet(n.config);
  load_weights(n.net, file);
  n.net->eval();
  n.net->to(n.device);
  return n;
}

}  // namespace dfd::eval
