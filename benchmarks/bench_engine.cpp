// Engine throughput: faces/s for classify and for classify+explain at several batch sizes.
// Prints one JSON object (for the table script) or a human-readable table. Depends on the
// core library alone, so it builds on GPU machines without OpenCV or GStreamer.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_inputs.h"
#include "core/engine.h"
#include "core/json_strict.h"
#include "core/model_error.h"

namespace {

struct Options {
  std::string model;
  std::string device = "cpu";
  std::string inputs;  // raw uint8 N x S x S x 3 face crops; random bytes otherwise
  std::vector<int> batches{1, 8, 32};
  double seconds = 3.0;  // measuring time per configuration
  int threads = 0;
  dfd::Precision precision = dfd::Precision::Float32;
  bool pinned = true;
  bool json = false;
};

void usage() {
  std::cerr << "usage: deepfake-bench-engine --model FILE [--device cpu|cuda|cuda:N]\n"
               "         [--batches 1,8,32] [--seconds S] [--threads N] [--inputs FACES.u8]\n"
               "         [--precision fp32|bf16|fp16] [--no-pinned] [--json]\n"
               "Measures faces/s for classify and classify+explain. --inputs takes raw uint8\n"
               "model-input crops (N x size x size x 3, the model's colour order), so that a\n"
               "reference implementation can be fed the very same faces. With a --precision\n"
               "other than fp32 it also prints how far probabilities and relevancy move from\n"
               "an fp32 engine's on the same faces.\n";
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

struct Measurement {
  double faces_per_second = 0;
  double ms_per_batch = 0;
  int iterations = 0;
};

Measurement measure(dfd::Engine &engine, const std::vector<uint8_t> &pool, size_t pool_faces,
                    int batch, bool explain, double seconds) {
  const size_t face_bytes = pool.size() / pool_faces;
  std::vector<uint8_t> input(face_bytes * batch);
  for (int i = 0; i < batch; ++i) {
    std::memcpy(input.data() + i * face_bytes, pool.data() + (i % pool_faces) * face_bytes,
                face_bytes);
  }
  engine.infer(input.data(), batch, explain);  // warm-up: allocations, lazy initialisation
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  int iterations = 0;
  double elapsed = 0;
  // At least 3 passes, so one slow outlier cannot make the figure.
  while (iterations < 3 || elapsed < seconds) {
    engine.infer(input.data(), batch, explain);
    ++iterations;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  }
  return {iterations * batch / elapsed, 1000.0 * elapsed / iterations, iterations};
}

struct Parity {
  double probability = 0;
  double relevancy = 0;
};

// The largest differences between `engine` and an fp32 engine on the same device and faces,
// relevancy taken as normalised maps would be (each grid divided by its maximum).
Parity compare_with_fp32(dfd::Engine &engine, const Options &opt, const std::vector<uint8_t> &pool,
                         size_t pool_faces) {
  dfd::EngineOptions options;
  options.device = opt.device;
  options.threads = opt.threads;
  const auto reference = dfd::Engine::load(opt.model, options);
  const std::vector<dfd::Prediction> a = engine.infer(pool.data(), pool_faces, true);
  const std::vector<dfd::Prediction> b = reference->infer(pool.data(), pool_faces, true);
  Parity out;
  const auto normalised = [](const std::vector<float> &v, size_t i) {
    const float top = *std::max_element(v.begin(), v.end());
    return top > 0 ? v[i] / top : v[i];
  };
  for (size_t f = 0; f < pool_faces; ++f) {
    out.probability = std::max(out.probability,
                               static_cast<double>(std::abs(a[f].probability - b[f].probability)));
    const std::vector<float> &ra = a[f].relevancy.values, &rb = b[f].relevancy.values;
    for (size_t i = 0; i < std::min(ra.size(), rb.size()); ++i) {
      out.relevancy = std::max(
          out.relevancy, static_cast<double>(std::abs(normalised(ra, i) - normalised(rb, i))));
    }
  }
  return out;
}

}  // namespace

int main(int argc, char **argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--model")
      opt.model = next();
    else if (arg == "--device")
      opt.device = next();
    else if (arg == "--inputs")
      opt.inputs = next();
    else if (arg == "--batches")
      opt.batches = dfd::bench::parse_int_list(next());
    else if (arg == "--seconds")
      opt.seconds = std::stod(next());
    else if (arg == "--threads")
      opt.threads = std::stoi(next());
    else if (arg == "--precision") {
      try {
        opt.precision = dfd::parse_precision(next());
      } catch (const std::invalid_argument &e) {
        std::cerr << "deepfake-bench-engine: " << e.what() << "\n";
        return 2;
      }
    } else if (arg == "--no-pinned")
      opt.pinned = false;
    else if (arg == "--json")
      opt.json = true;
    else {
      usage();
      return arg == "--help" ? 0 : 2;
    }
  }
  if (opt.model.empty()) opt.model = dfd::default_model_path();

  std::unique_ptr<dfd::Engine> engine;
  try {
    dfd::EngineOptions options;
    options.device = opt.device;
    options.threads = opt.threads;
    options.precision = opt.precision;
    options.pinned_memory = opt.pinned;
    engine = dfd::Engine::load(opt.model, options);
  } catch (const std::exception &e) {
    std::cerr << "deepfake-bench-engine: " << e.what() << "\n";
    return 2;
  }
  const int size = engine->config().image_size;
  const size_t face_bytes = static_cast<size_t>(size) * size * 3;
  std::vector<uint8_t> pool;
  try {
    pool = dfd::bench::load_face_pool(opt.inputs, size);
  } catch (const std::exception &e) {
    std::cerr << "deepfake-bench-engine: " << e.what() << "\n";
    return 2;
  }
  const size_t pool_faces = pool.size() / face_bytes;

  dfd::json::Array rows;
  if (!opt.json) {
    std::printf("model %s (%s, %d px) on %s\n", engine->config().name.c_str(),
                dfd::architecture_name(engine->config().architecture), size, opt.device.c_str());
    std::printf("%6s %16s %16s %14s\n", "batch", "classify f/s", "explain f/s", "peak RSS MiB");
  }
  for (int batch : opt.batches) {
    engine->reset_peak_device_memory();
    const Measurement classify = measure(*engine, pool, pool_faces, batch, false, opt.seconds);
    const Measurement explain = measure(*engine, pool, pool_faces, batch, true, opt.seconds);
    const double rss = peak_rss_mib();
    const int64_t device_peak = engine->peak_device_memory();
    if (!opt.json) {
      std::printf("%6d %16.1f %16.1f %14.0f", batch, classify.faces_per_second,
                  explain.faces_per_second, rss);
      if (device_peak >= 0) std::printf(" %10.0f MiB on the device", device_peak / 1048576.0);
      std::printf("\n");
      std::fflush(stdout);
    }
    dfd::json::Object row;
    row["batch"] = batch;
    row["classify_faces_per_second"] = classify.faces_per_second;
    row["explain_faces_per_second"] = explain.faces_per_second;
    row["classify_ms_per_batch"] = classify.ms_per_batch;
    row["explain_ms_per_batch"] = explain.ms_per_batch;
    row["peak_rss_mib"] = rss;
    if (device_peak >= 0) row["peak_device_mib"] = device_peak / 1048576.0;
    rows.emplace_back(std::move(row));
  }
  dfd::json::Object parity;
  if (opt.precision != dfd::Precision::Float32) {
    try {
      const Parity p = compare_with_fp32(*engine, opt, pool, pool_faces);
      parity["max_abs_probability_diff"] = p.probability;
      parity["max_abs_relevancy_diff"] = p.relevancy;
      parity["faces"] = static_cast<int>(pool_faces);
      if (!opt.json) {
        std::printf(
            "%s against fp32 on %zu faces: max |d probability| %.2e, max |d relevancy| "
            "%.2e\n",
            dfd::precision_name(opt.precision), pool_faces, p.probability, p.relevancy);
      }
    } catch (const std::exception &e) {
      std::cerr << "deepfake-bench-engine: parity check: " << e.what() << "\n";
      return 2;
    }
  }
  if (opt.json) {
    dfd::json::Object out;
    out["model"] = engine->config().name;
    out["architecture"] = dfd::architecture_name(engine->config().architecture);
    out["image_size"] = size;
    out["device"] = opt.device;
    out["precision"] = dfd::precision_name(opt.precision);
    out["pinned_memory"] = opt.pinned;
    out["results"] = std::move(rows);
    if (!parity.empty()) out["parity_vs_fp32"] = std::move(parity);
    std::cout << dfd::json::dump(dfd::json::Value(std::move(out))) << "\n";
  }
  return 0;
}
