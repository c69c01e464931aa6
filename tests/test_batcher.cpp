// The shared batching queue: grouping across threads, the partial-batch timeout, results equal
// to direct Engine::infer, the instance registry and shutdown with pending work. Runs with
// CK_FORK=no (LibTorch's thread pool does not survive fork).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <future>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/batcher.h"
#include "core/engine.h"
#include "core/model_error.h"
#include "core/torch_model.h"
#include "random_model.h"

// check.h defines macros (fail, ...) that clash with libstdc++ headers: include it last.
#include <check.h>

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kFaceBytes = 224 * 224 * 3;

// How much slower than a plain build this one runs (DFD_TEST_TIME_SCALE: 4 under the
// sanitizers, 50 under memcheck): waits for something to happen are multiplied by it.
double time_scale() {
  const char *text = std::getenv("DFD_TEST_TIME_SCALE");
  const double scale = text != nullptr ? std::atof(text) : 1.0;
  return scale >= 1.0 ? scale : 1.0;
}

std::string temp_path(const std::string &name) {
  static std::string dir;
  if (dir.empty()) {
    char templ[] = "/tmp/dfd-test-batcher-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(templ));
    dir = templ;
  }
  return dir + "/" + name;
}

// A random model (see random_model.h), saved once per name.
std::string model_path(const std::string &name = "spatial.safetensors") {
  const std::string path = temp_path(name);
  if (access(path.c_str(), R_OK) == 0) return path;
  dfd::testing::save_random_model(
      dfd::testing::small_spatial_config("test-batcher", "tests/test_batcher.cpp"), path, 7);
  return path;
}

std::vector<uint8_t> random_faces(size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> bytes(count * kFaceBytes);
  for (auto &b : bytes) b = static_cast<uint8_t>(rng() & 0xff);
  return bytes;
}

dfd::BatcherOptions batch_options(int batch_size, int timeout_ms) {
  dfd::BatcherOptions o;
  o.batch_size = batch_size;
  o.timeout = std::chrono::milliseconds(timeout_ms);
  return o;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

START_TEST(test_groups_requests_from_threads) {
  // A timeout far longer than the test: batches can only run because they are full.
  auto batcher = dfd::Batcher::acquire("", model_path(), {}, batch_options(4, 60000));
  const int threads = 4, per_thread = 2;
  std::vector<std::future<std::vector<dfd::Prediction>>> futures(threads * per_thread);
  std::mutex mutex;
  std::condition_variable go;
  bool started = false;
  std::vector<std::thread> producers;
  for (int t = 0; t < threads; ++t) {
    producers.emplace_back([&, t] {
      {
        std::unique_lock<std::mutex> lock(mutex);
        go.wait(lock, [&] { return started; });
      }
      for (int i = 0; i < per_thread; ++i) {
        futures[t * per_thread + i] =
            batcher->submit(random_faces(1, 100 + t * per_thread + i), 1, false);
      }
    });
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    started = true;
  }
  go.notify_all();
  for (auto &p : producers) p.join();
  for (auto &f : futures) {
    ck_assert(f.wait_for(std::chrono::seconds(static_cast<int64_t>(120 * time_scale()))) ==
              std::future_status::ready);
    ck_assert_uint_eq(f.get().size(), 1);
  }
  const dfd::BatcherStats stats = batcher->stats();
  ck_assert_uint_eq(stats.batches, 2);
  ck_assert_uint_eq(stats.faces, 8);
  ck_assert(stats.last_batch_ms > 0);
  ck_assert(stats.mean_ms_per_face > 0);
}
END_TEST

START_TEST(test_partial_batch_runs_after_timeout) {
  auto batcher = dfd::Batcher::acquire("", model_path(), {}, batch_options(8, 300));
  batcher->submit(random_faces(8, 1), 8, false).get();
  ck_assert_uint_eq(batcher->stats().batches, 1);
  const auto start = Clock::now();
  auto future = batcher->submit(random_faces(1, 2), 1, false);
  // Before its timeout the lone face is not run: no batch formed, the future still pending
  // (a loaded machine can only make this later, never earlier).
  ck_assert(future.wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout);
  ck_assert_uint_eq(batcher->stats().batches, 1);
  // Then the timeout alone runs it: nothing else will ever fill this batch.
  ck_assert(future.wait_for(std::chrono::seconds(static_cast<int64_t>(60 * time_scale()))) ==
            std::future_status::ready);
  const double waited = ms_since(start);
  ck_assert_uint_eq(future.get().size(), 1);
  ck_assert_msg(waited >= 295.0, "partial batch ran after %.0f ms, before its timeout", waited);
  const dfd::BatcherStats stats = batcher->stats();
  ck_assert_uint_eq(stats.batches, 2);
  ck_assert_uint_eq(stats.faces, 9);
}
END_TEST

START_TEST(test_results_equal_direct_inference) {
  const std::string path = model_path();
  auto engine = dfd::Engine::load(path, {});
  auto batcher = dfd::Batcher::acquire("", path, {}, batch_options(5, 60000));
  // Three requests (2 + 1 + 2 faces) fill one batch; only the middle one asks to explain,
  // and the whole batch is explained.
  const auto a = random_faces(2, 21), b = random_faces(1, 22), c = random_faces(2, 23);
  auto fa = batcher->submit(a, 2, false);
  auto fb = batcher->submit(b, 1, true);
  auto fc = batcher->submit(c, 2, false);
  const std::vector<std::vector<dfd::Prediction>> got = {fa.get(), fb.get(), fc.get()};
  const std::vector<const std::vector<uint8_t> *> inputs = {&a, &b, &c};
  ck_assert_uint_eq(batcher->stats().batches, 1);
  for (size_t r = 0; r < got.size(); ++r) {
    const size_t count = inputs[r]->size() / kFaceBytes;
    ck_assert_uint_eq(got[r].size(), count);
    const auto direct = engine->infer(inputs[r]->data(), count, true);
    for (size_t i = 0; i < count; ++i) {
      const float tol = 1e-4f * (1 + std::fabs(direct[i].logit));
      ck_assert_float_eq_tol(got[r][i].logit, direct[i].logit, tol);
      ck_assert_float_eq_tol(got[r][i].probability, direct[i].probability, 1e-5f);
      ck_assert_int_eq(got[r][i].relevancy.width, direct[i].relevancy.width);
      ck_assert_uint_eq(got[r][i].relevancy.values.size(), direct[i].relevancy.values.size());
      float max_abs = 0.f;
      for (float v : direct[i].relevancy.values) max_abs = std::max(max_abs, std::fabs(v));
      for (size_t j = 0; j < direct[i].relevancy.values.size(); ++j) {
        ck_assert_float_eq_tol(got[r][i].relevancy.values[j], direct[i].relevancy.values[j],
                               1e-4f * max_abs + 1e-7f);
      }
    }
  }
  // Without any request asking, nothing is explained.
  const auto plain = batcher->submit(random_faces(5, 24), 5, false).get();
  for (const auto &p : plain) ck_assert(p.relevancy.values.empty());
}
END_TEST

START_TEST(test_oversized_request_runs_alone) {
  auto batcher = dfd::Batcher::acquire("", model_path(), {}, batch_options(2, 60000));
  const auto faces = random_faces(5, 31);
  const auto got = batcher->submit(faces, 5, false).get();
  ck_assert_uint_eq(got.size(), 5);
  ck_assert_uint_eq(batcher->stats().batches, 1);
  ck_assert_uint_eq(batcher->stats().faces, 5);
}
END_TEST

START_TEST(test_shared_instances) {
  const std::string path = model_path();
  auto first = dfd::Batcher::acquire("shared-a", path, {}, batch_options(4, 50));
  auto again = dfd::Batcher::acquire("shared-a", path, {}, batch_options(16, 10));
  ck_assert_ptr_eq(first.get(), again.get());
  ck_assert_int_eq(again->options().batch_size, 4);  // the first opener's policy stays
  ck_assert_str_eq(first->model_path().c_str(), path.c_str());
  ck_assert_str_eq(first->config().name.c_str(), "test-batcher");

  auto other = dfd::Batcher::acquire("shared-b", path, {}, batch_options(4, 50));
  ck_assert_ptr_ne(first.get(), other.get());
  auto private_one = dfd::Batcher::acquire("", path, {}, batch_options(4, 50));
  auto private_two = dfd::Batcher::acquire("", path, {}, batch_options(4, 50));
  ck_assert_ptr_ne(private_one.get(), private_two.get());

  const std::string second_model = model_path("second.safetensors");
  try {
    dfd::Batcher::acquire("shared-a", second_model, {}, batch_options(4, 50));
    ck_abort_msg("an instance was shared across two models");
  } catch (const std::invalid_argument &e) {
    ck_assert_ptr_nonnull(std::strstr(e.what(), path.c_str()));
    ck_assert_ptr_nonnull(std::strstr(e.what(), second_model.c_str()));
  }
  dfd::EngineOptions cuda;
  cuda.device = "cuda";
  try {
    dfd::Batcher::acquire("shared-a", path, cuda, batch_options(4, 50));
    ck_abort_msg("an instance was shared across two devices");
  } catch (const std::invalid_argument &e) {
    ck_assert_ptr_nonnull(std::strstr(e.what(), "cuda"));
    ck_assert_ptr_nonnull(std::strstr(e.what(), "cpu"));
  }

  // Once every holder is gone the id is free for another model.
  first.reset();
  again.reset();
  auto reopened = dfd::Batcher::acquire("shared-a", second_model, {}, batch_options(4, 50));
  ck_assert_str_eq(reopened->model_path().c_str(), second_model.c_str());
}
END_TEST

START_TEST(test_destruction_completes_pending) {
  auto batcher = dfd::Batcher::acquire("", model_path(), {}, batch_options(8, 60000));
  std::vector<std::future<std::vector<dfd::Prediction>>> futures;
  futures.push_back(batcher->submit(random_faces(1, 41), 1, false));
  futures.push_back(batcher->submit(random_faces(2, 42), 2, true));
  futures.push_back(batcher->submit(random_faces(3, 43), 3, false));
  const auto start = Clock::now();
  batcher.reset();  // far before the 60 s timeout
  ck_assert_msg(ms_since(start) < 30000.0, "destruction waited for the batch timeout");
  for (size_t i = 0; i < futures.size(); ++i) {
    ck_assert(futures[i].wait_for(std::chrono::seconds(0)) == std::future_status::ready);
    ck_assert_uint_eq(futures[i].get().size(), i + 1);
  }
}
END_TEST

START_TEST(test_errors) {
  try {
    dfd::Batcher::acquire("missing", "/nonexistent/model.safetensors", {}, batch_options(4, 50));
    ck_abort_msg("a missing model loaded");
  } catch (const dfd::ModelError &e) {
    ck_assert_ptr_nonnull(std::strstr(e.what(), "/nonexistent/model.safetensors"));
  }
  auto batcher = dfd::Batcher::acquire("", model_path(), {}, batch_options(4, 50));
  try {
    batcher->submit(std::vector<uint8_t>(100), 1, false);
    ck_abort_msg("a short buffer was accepted");
  } catch (const std::invalid_argument &) {
  }
  auto empty = batcher->submit({}, 0, false);
  ck_assert(empty.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  ck_assert(empty.get().empty());
  ck_assert_uint_eq(batcher->stats().batches, 0);
}
END_TEST

int main() {
  Suite *suite = suite_create("batcher");
  TCase *tc = tcase_create("batcher");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, test_groups_requests_from_threads);
  tcase_add_test(tc, test_partial_batch_runs_after_timeout);
  tcase_add_test(tc, test_results_equal_direct_inference);
  tcase_add_test(tc, test_oversized_request_runs_alone);
  tcase_add_test(tc, test_shared_instances);
  tcase_add_test(tc, test_destruction_completes_pending);
  tcase_add_test(tc, test_errors);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_VERBOSE);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
