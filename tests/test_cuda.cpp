// The engine and the batcher on a CUDA device, where the build and the machine have one (a
// build against a CUDA LibTorch, -Dlibtorch_dir): the golden models (tests/golden/) give the
// reference's numbers on the GPU too, the reduced precisions stay close to them, a device that
// is not there is refused, and the batcher serves a CUDA engine. Exits 77 (a skip, on
// run-tests' allow-list) where CUDA is not available. CK_FORK=no (LibTorch).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "core/batcher.h"
#include "core/engine.h"
#include "golden_model.h"
#include "imaging/preprocess.h"

// check.h defines macros (fail, ...) that clash with libstdc++ headers: include it last.
#include <check.h>

namespace {

std::string g_dir;

struct Golden {
  dfd::testing::GoldenOutputs expected;
  std::string model;
  std::vector<uint8_t> inputs;
};

Golden golden(const std::string &name) {
  Golden g;
  g.model = g_dir + "/" + name + ".safetensors";
  g.expected = dfd::testing::expand_golden_model(name, g.model);
  std::vector<dfd::ModelInput> inputs;
  for (const std::string &crop : g.expected.crops) {
    const cv::Mat image =
        cv::imread(dfd::testing::golden_dir() + "/crops/" + crop, cv::IMREAD_COLOR);
    ck_assert_msg(!image.empty(), "cannot read crop %s", crop.c_str());
    inputs.push_back(dfd::make_model_input(image, g.expected.config));
  }
  g.inputs = dfd::pack_model_inputs(inputs, g.expected.config.image_size);
  return g;
}

// Every crop's logit within `logit_tolerance` * max(|reference|, 0.5) and every relevancy cell
// within `grid_tolerance` of the reference grid's maximum.
void compare(const Golden &g, const std::vector<dfd::Prediction> &got, double logit_tolerance,
             double grid_tolerance, const char *how) {
  ck_assert_uint_eq(got.size(), g.expected.crops.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const double ref = g.expected.logits[i];
    std::printf("%s %s %s: logit %+.6f, reference %+.6f\n", g.expected.config.name.c_str(),
                g.expected.crops[i].c_str(), how, got[i].logit, ref);
    ck_assert_msg(std::fabs(got[i].logit - ref) <= logit_tolerance * std::max(std::fabs(ref), 0.5),
                  "%s %s: logit %.6f, reference %.6f", how, g.expected.crops[i].c_str(),
                  got[i].logit, ref);
    const std::vector<double> &grid = g.expected.relevancy[i];
    ck_assert_uint_eq(got[i].relevancy.values.size(), grid.size());
    double scale = 0, worst = 0;
    for (const double v : grid) scale = std::max(scale, std::fabs(v));
    for (size_t j = 0; j < grid.size(); ++j) {
      worst = std::max(worst, std::fabs(got[i].relevancy.values[j] - grid[j]) / scale);
    }
    ck_assert_msg(worst <= grid_tolerance, "%s %s: relevancy %.2g of the grid's max off", how,
                  g.expected.crops[i].c_str(), worst);
  }
}

}  // namespace

START_TEST(test_golden_on_cuda) {
  for (const char *name : {"lite0", "seed"}) {
    const Golden g = golden(name);
    dfd::EngineOptions options;
    options.device = "cuda";
    auto engine = dfd::Engine::load(g.model, options);
    ck_assert_str_eq(engine->device().c_str(), "cuda");
    const size_t count = g.expected.crops.size();
    // fp32 on the GPU: cuDNN may run convolutions in TF32 (10-bit mantissa), hence 2e-3, not
    // the CPU's 1e-4.
    compare(g, engine->infer(g.inputs.data(), count, true), 2e-3, 2e-3, "cuda fp32");
    for (const dfd::Precision precision : {dfd::Precision::BFloat16, dfd::Precision::Float16}) {
      options.precision = precision;
      auto reduced = dfd::Engine::load(g.model, options);
      // 16-bit products over 16 backbone blocks: a few percent.
      compare(g, reduced->infer(g.inputs.data(), count, true), 0.1, 0.1,
              dfd::precision_name(precision));
    }
  }
}
END_TEST

START_TEST(test_missing_device_refused) {
  try {
    dfd::check_device("cuda:63");
    ck_abort_msg("cuda:63 accepted");
  } catch (const std::runtime_error &e) {
    ck_assert_ptr_nonnull(std::strstr(e.what(), "visible"));
  }
}
END_TEST

START_TEST(test_batcher_on_cuda) {
  const Golden g = golden("lite0");
  dfd::EngineOptions options;
  options.device = "cuda";
  dfd::BatcherOptions batching;
  batching.batch_size = 3;
  batching.timeout = std::chrono::milliseconds(60000);
  auto batcher = dfd::Batcher::acquire("", g.model, options, batching);
  const size_t face_bytes = g.inputs.size() / g.expected.crops.size();
  // Three requests of one face fill one batch; a lone one could only run on the timeout.
  std::vector<std::future<std::vector<dfd::Prediction>>> futures;
  for (size_t i = 0; i < 3; ++i) {
    std::vector<uint8_t> face(g.inputs.begin() + static_cast<long>(i * face_bytes),
                              g.inputs.begin() + static_cast<long>((i + 1) * face_bytes));
    futures.push_back(batcher->submit(std::move(face), 1, true));
  }
  std::vector<dfd::Prediction> got;
  for (auto &f : futures) got.push_back(f.get().at(0));
  ck_assert_uint_eq(batcher->stats().batches, 1);
  ck_assert_uint_eq(batcher->stats().faces, 3);
  compare(g, got, 2e-3, 2e-3, "cuda batcher");
}
END_TEST

int main() {
  if (!dfd::cuda_available()) {
    std::printf(
        "SKIP: no CUDA device visible to this build's LibTorch (a CPU-only LibTorch, "
        "or no GPU): build with -Dlibtorch_dir=<a CUDA LibTorch> on a GPU machine\n");
    return 77;
  }
  char templ[] = "/tmp/dfd-test-cuda-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  g_dir = templ;
  Suite *suite = suite_create("cuda");
  TCase *tc = tcase_create("cuda");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_missing_device_refused);
  tcase_add_test(tc, test_golden_on_cuda);
  tcase_add_test(tc, test_batcher_on_cuda);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_VERBOSE);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  for (const char *name : {"lite0", "seed"})
    std::remove((g_dir + "/" + name + ".safetensors").c_str());
  rmdir(g_dir.c_str());
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
