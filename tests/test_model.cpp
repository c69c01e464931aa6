// The LibTorch network: layout, parameter counts, padding, relevancy arithmetic and the
// batched engine. Runs with CK_FORK=no (LibTorch's thread pool does not survive fork).
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <string>

#include "core/efficientnet_lite0.h"
#include "core/engine.h"
#include "core/model_error.h"
#include "core/model_file.h"
#include "core/model_layout.h"
#include "core/torch_model.h"
#include "random_model.h"

// check.h defines macros (fail, ...) that clash with libstdc++ headers: include it last.
#include <check.h>

namespace {

dfd::ModelConfig small_spatial_config() {
  return dfd::testing::small_spatial_config("test-spatial", "tests/test_model.cpp");
}

std::string temp_path(const std::string &name) {
  static std::string dir;
  if (dir.empty()) {
    char templ[] = "/tmp/dfd-test-model-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(templ));
    dir = templ;
  }
  return dir + "/" + name;
}

std::string save_random_model(const dfd::ModelConfig &config, const std::string &name) {
  const std::string path = temp_path(name);
  dfd::testing::save_random_model(config, path, 7);
  return path;
}

std::vector<uint8_t> random_faces(size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> bytes(count * 224 * 224 * 3);
  for (auto &b : bytes) b = static_cast<uint8_t>(rng() & 0xff);
  return bytes;
}

std::map<std::string, std::vector<int64_t>> layout_map(const dfd::ModelConfig &config) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto &t : dfd::expected_tensors(config)) out[t.name] = t.shape;
  return out;
}

}  // namespace

START_TEST(test_seed_parameter_count) {
  const dfd::ModelConfig seed = dfd::ModelConfig::seed_defaults();
  ck_assert_int_eq(dfd::parameter_count(seed), 8575403);
  dfd::DeepfakeNet net(seed);
  int64_t total = 0;
  for (const auto &p : net->parameters()) total += p.numel();
  ck_assert_int_eq(total, 8575403);
}
END_TEST

static dfd::ModelConfig lite0_spatial_config() {
  dfd::ModelConfig c = small_spatial_config();
  c.backbone = "efficientnet-lite0";
  c.color_order = dfd::ColorOrder::RGB;
  c.mean = {127.f, 127.f, 127.f};
  c.std = {128.f, 128.f, 128.f};
  return c;
}

START_TEST(test_layout_matches_module) {
  for (const dfd::ModelConfig &config :
       {dfd::ModelConfig::seed_defaults(), small_spatial_config(), lite0_spatial_config()}) {
    dfd::DeepfakeNet net(config);
    const auto expected = layout_map(config);
    std::map<std::string, std::vector<int64_t>> actual;
    for (auto &[name, tensor] : dfd::named_weights(net)) actual[name] = tensor.sizes().vec();
    ck_assert_uint_eq(actual.size(), expected.size());
    for (const auto &[name, shape] : expected) {
      const auto it = actual.find(name);
      ck_assert_msg(it != actual.end(), "module lacks %s", name.c_str());
      ck_assert_msg(it->second == shape, "shape differs for %s", name.c_str());
    }
  }
}
END_TEST

START_TEST(test_lite0_backbone_config) {
  const dfd::ModelConfig lite = lite0_spatial_config();
  const dfd::ModelConfig parsed =
      dfd::parse_model_config(dfd::model_config_to_json(lite), "lite0.safetensors");
  ck_assert_str_eq(parsed.backbone.c_str(), "efficientnet-lite0");
  dfd::DeepfakeNet net(parsed);
  net->eval();
  torch::NoGradGuard no_grad;
  ck_assert(net->features(torch::rand({1, 3, 224, 224})).sizes() ==
            torch::IntArrayRef({1, 1280, 7, 7}));
  dfd::ModelConfig seed = dfd::ModelConfig::seed_defaults();
  seed.backbone = "efficientnet-lite0";
  try {
    dfd::parse_model_config(dfd::model_config_to_json(seed), "seed-lite.safetensors");
    ck_abort_msg("a seed model with a Lite0 backbone was accepted");
  } catch (const dfd::ModelError &e) {
    ck_assert_ptr_nonnull(strstr(e.what(), "backbone"));
  }
}
END_TEST

START_TEST(test_shipped_model_input) {
  // A Lite0 backbone only works on the input its ImageNet weights were trained with
  // (models/backbones/README.md): RGB, (v - 127) / 128. The shipped file's config must say so,
  // whatever the model behind it.
  const char *root = std::getenv("DFD_SOURCE_ROOT");
  ck_assert_msg(root != nullptr, "DFD_SOURCE_ROOT is not set");
  const dfd::ModelFile file =
      dfd::ModelFile::open(std::string(root) + "/models/deepfake-spatial.safetensors");
  const dfd::ModelConfig &c = file.config();
  if (c.backbone != "efficientnet-lite0") return;
  namespace lite0 = dfd::efficientnet_lite0;
  ck_assert(c.color_order == dfd::ColorOrder::RGB);
  for (int k = 0; k < 3; ++k) {
    ck_assert_msg(c.mean[k] == lite0::kInputMean, "mean[%d] = %g", k, c.mean[k]);
    ck_assert_msg(c.std[k] == lite0::kInputStd, "std[%d] = %g", k, c.std[k]);
  }
}
END_TEST

START_TEST(test_same_padding_matches_spec) {
  // Spec section 1: (left, right) padding of the stride-2 convolutions for a 224 input.
  struct Case {
    int64_t size, kernel, left, right;
  };
  for (const Case c : {Case{224, 3, 0, 1}, Case{112, 3, 0, 1}, Case{56, 5, 1, 2}, Case{28, 3, 0, 1},
                       Case{14, 5, 1, 2}}) {
    const dfd::SamePadding p = dfd::static_same_padding(c.size, c.kernel, 2);
    ck_assert_int_eq(p.left, c.left);
    ck_assert_int_eq(p.right, c.right);
  }
  // Stride-1 convolutions pad symmetrically.
  ck_assert_int_eq(dfd::static_same_padding(56, 3, 1).left, 1);
  ck_assert_int_eq(dfd::static_same_padding(56, 5, 1).right, 2);
}
END_TEST

START_TEST(test_output_shapes) {
  torch::NoGradGuard no_grad;
  dfd::DeepfakeNet seed(dfd::ModelConfig::seed_defaults());
  seed->eval();
  const torch::Tensor x = torch::rand({2, 3, 224, 224});
  const torch::Tensor features = seed->features(x);
  ck_assert(features.sizes() == torch::IntArrayRef({2, 1280, 7, 7}));
  const torch::Tensor tokens = seed->embed(features);
  ck_assert(tokens.sizes() == torch::IntArrayRef({2, 1025, 49}));
  ck_assert(seed->classify_tokens(tokens, nullptr).sizes() == torch::IntArrayRef({2}));

  dfd::DeepfakeNet spatial(small_spatial_config());
  spatial->eval();
  ck_assert(spatial->embed(spatial->features(x)).sizes() == torch::IntArrayRef({2, 50, 64}));
}
END_TEST

// The full-matrix rule, written as the spec states it: R = I; R += cam @ R per block.
static std::vector<double> naive_rollout_row0(const std::vector<std::vector<double>> &cams, int t) {
  std::vector<double> r(static_cast<size_t>(t * t), 0.0);
  for (int i = 0; i < t; ++i) r[i * t + i] = 1.0;
  for (const auto &cam : cams) {
    std::vector<double> next = r;
    for (int i = 0; i < t; ++i)
      for (int j = 0; j < t; ++j)
        for (int k = 0; k < t; ++k) next[i * t + j] += cam[i * t + k] * r[k * t + j];
    r = next;
  }
  return {r.begin() + 1, r.begin() + t};
}

START_TEST(test_relevancy_hand_checked) {
  // One block, two heads, three tokens: cam = mean_h max(g*a, 0), R = I + cam, so
  // R[0, 1:] = cam[0, 1:]. Head 0 row 0: g*a = [.1*1, .5*2, .4*-1] -> [.1, 1, 0];
  // head 1 row 0: [.2*-1, .3*1, .5*3] -> [0, .3, 1.5]. Mean: [.05, .65, .75].
  const torch::Tensor a = torch::tensor({0.1, 0.5, 0.4, 0.3, 0.3, 0.4, 0.2, 0.2, 0.6,  //
                                         0.2, 0.3, 0.5, 0.1, 0.8, 0.1, 0.3, 0.3, 0.4},
                                        torch::kFloat64)
                              .view({1, 2, 3, 3});
  const torch::Tensor g = torch::tensor({1.0, 2.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,  //
                                         -1.0, 1.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0},
                                        torch::kFloat64)
                              .view({1, 2, 3, 3});
  const torch::Tensor row = dfd::relevancy_row0({a}, {g});
  ck_assert(row.sizes() == torch::IntArrayRef({1, 2}));
  ck_assert_double_eq_tol(row[0][0].item<double>(), 0.65, 1e-12);
  ck_assert_double_eq_tol(row[0][1].item<double>(), 0.75, 1e-12);
}
END_TEST

START_TEST(test_relevancy_matches_full_products) {
  // Four blocks with random maps: the row-0 recurrence must equal the spec's T x T products.
  torch::manual_seed(3);
  const int t = 6, heads = 3, blocks = 4;
  std::vector<torch::Tensor> attention, gradients;
  std::vector<std::vector<double>> cams;
  for (int b = 0; b < blocks; ++b) {
    attention.push_back(torch::rand({2, heads, t, t}, torch::kFloat64).softmax(-1));
    gradients.push_back(torch::randn({2, heads, t, t}, torch::kFloat64));
  }
  const torch::Tensor row = dfd::relevancy_row0(attention, gradients);
  for (int sample = 0; sample < 2; ++sample) {
    cams.clear();
    for (int b = 0; b < blocks; ++b) {
      const torch::Tensor cam =
          (gradients[b][sample] * attention[b][sample]).clamp_min(0).mean(0).contiguous();
      cams.emplace_back(cam.data_ptr<double>(), cam.data_ptr<double>() + t * t);
    }
    const std::vector<double> expected = naive_rollout_row0(cams, t);
    for (int j = 0; j < t - 1; ++j) {
      ck_assert_double_eq_tol(row[sample][j].item<double>(), expected[j], 1e-12);
    }
  }
}
END_TEST

START_TEST(test_engine_batch_matches_single) {
  const std::string path = save_random_model(small_spatial_config(), "spatial.safetensors");
  auto engine = dfd::Engine::load(path, {});
  const auto faces = random_faces(3, 11);
  const auto batch = engine->infer(faces.data(), 3, /*explain=*/true);
  const auto classify = engine->infer(faces.data(), 3, /*explain=*/false);
  ck_assert_uint_eq(batch.size(), 3);
  for (size_t i = 0; i < 3; ++i) {
    const auto single = engine->infer(faces.data() + i * 224 * 224 * 3, 1, true);
    ck_assert_float_eq_tol(single[0].logit, batch[i].logit,
                           1e-4f * (1 + std::fabs(batch[i].logit)));
    ck_assert_float_eq_tol(classify[i].logit, batch[i].logit,
                           1e-4f * (1 + std::fabs(batch[i].logit)));
    ck_assert_float_eq_tol(batch[i].probability, 1.f / (1.f + std::exp(-batch[i].logit)), 1e-6f);
    ck_assert_int_eq(batch[i].relevancy.width, 7);
    ck_assert_int_eq(batch[i].relevancy.height, 7);
    ck_assert_uint_eq(batch[i].relevancy.values.size(), 49);
    float max_abs = 0.f;
    for (float v : batch[i].relevancy.values) max_abs = std::max(max_abs, std::fabs(v));
    for (size_t j = 0; j < 49; ++j) {
      ck_assert_float_eq_tol(single[0].relevancy.values[j], batch[i].relevancy.values[j],
                             1e-4f * max_abs + 1e-7f);
      ck_assert(batch[i].relevancy.values[j] >= 0.f);  // sums of clamped products
    }
    ck_assert(classify[i].relevancy.values.empty());
  }
}
END_TEST

START_TEST(test_engine_reload_gives_same_output) {
  const std::string path = save_random_model(small_spatial_config(), "reload.safetensors");
  auto first = dfd::Engine::load(path, {});
  const auto faces = random_faces(2, 5);
  const auto a = first->infer(faces.data(), 2, false);
  // Round trip through the C++ writer and reader: bit-identical weights give the same logits.
  const std::string copy = temp_path("reload-copy.safetensors");
  {
    dfd::DeepfakeNet net(first->config());
    dfd::load_weights(net, dfd::ModelFile::open(path));
    dfd::save_weights(net, copy);
  }
  auto second = dfd::Engine::load(copy, {});
  const auto b = second->infer(faces.data(), 2, false);
  for (size_t i = 0; i < 2; ++i) ck_assert_float_eq(a[i].logit, b[i].logit);
  ck_assert_str_eq(second->config().name.c_str(), "test-spatial");
}
END_TEST

START_TEST(test_engine_errors_are_clear) {
  try {
    dfd::Engine::load("/nonexistent/model.safetensors", {});
    ck_abort_msg("missing model loaded");
  } catch (const dfd::ModelError &e) {
    ck_assert_ptr_nonnull(strstr(e.what(), "/nonexistent/model.safetensors"));
  }
  try {
    dfd::check_device("tpu");
    ck_abort_msg("bad device accepted");
  } catch (const std::invalid_argument &e) {
    ck_assert_ptr_nonnull(strstr(e.what(), "tpu"));
  }
  if (!at::detail::getCUDAHooks().hasCUDART()) {
    try {
      dfd::check_device("cuda:0");
      ck_abort_msg("CUDA accepted by a CPU-only LibTorch");
    } catch (const std::runtime_error &e) {
      ck_assert_ptr_nonnull(strstr(e.what(), "no CUDA support"));
    }
  }
}
END_TEST

int main() {
  Suite *suite = suite_create("model");
  TCase *layout = tcase_create("layout");
  tcase_add_test(layout, test_seed_parameter_count);
  tcase_add_test(layout, test_layout_matches_module);
  tcase_add_test(layout, test_same_padding_matches_spec);
  tcase_add_test(layout, test_lite0_backbone_config);
  tcase_add_test(layout, test_shipped_model_input);
  tcase_add_test(layout, test_output_shapes);
  suite_add_tcase(suite, layout);
  TCase *relevancy = tcase_create("relevancy");
  tcase_add_test(relevancy, test_relevancy_hand_checked);
  tcase_add_test(relevancy, test_relevancy_matches_full_products);
  suite_add_tcase(suite, relevancy);
  TCase *engine = tcase_create("engine");
  tcase_set_timeout(engine, 300);
  tcase_add_test(engine, test_engine_batch_matches_single);
  tcase_add_test(engine, test_engine_reload_gives_same_output);
  tcase_add_test(engine, test_engine_errors_are_clear);
  suite_add_tcase(suite, engine);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_VERBOSE);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
