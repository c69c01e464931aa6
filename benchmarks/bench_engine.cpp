// Engine throughput: faces/s for classify and for classify+explain at several batch sizes.
// Prints one JSON object (for the table script) or a human-readable table. Depends on the
// core library alone, so it builds on GPU machines without OpenCV or GStreamer.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/engine.h"
#include "core/json.h"
#include "core/model_error.h"

namespace {

struct Options {
  std::string model;
  std::string device = "cpu";
  std::string inputs;  // raw uint8 N x S x S x 3 face crops; random bytes otherwise
  std::vector<int> batches{1, 8, 32};
  double seconds = 3.0;  // measuring time per configuration
  int threads = 0;
  bool json = false;
};

void usage() {
  std::cerr << "usage: deepfake-bench-engine --model FILE [--device cpu|cuda|cuda:N]\n"
               "         [--batches 1,8,32] [--seconds S] [--threads N] [--inputs FACES.u8] "
               "[--json]\n"
               "Measures faces/s for classify and classify+explain. --inputs takes raw uint8\n"
               "model-input crops (N x size x size x 3, the model's colour order), so that a\n"
               "reference implementation can be fed the very same faces.\n";
}

std::vector<int> parse_list(const std::string &text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stoi(item));
  return out;
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
      opt.batches = parse_list(next());
    else if (arg == "--seconds")
      opt.seconds = std::stod(next());
    else if (arg == "--threads")
      opt.threads = std::stoi(next());
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
    engine = dfd::Engine::load(opt.model, {opt.device, opt.threads});
  } catch (const std::exception &e) {
    std::cerr << "deepfake-bench-engine: " << e.what() << "\n";
    return 2;
  }
  const int size = engine->config().image_size;
  const size_t face_bytes = static_cast<size_t>(size) * size * 3;
  std::vector<uint8_t> pool;
  if (!opt.inputs.empty()) {
    std::ifstream in(opt.inputs, std::ios::binary);
    pool.assign(std::istreambuf_iterator<char>(in), {});
    if (pool.empty() || pool.size() % face_bytes != 0) {
      std::cerr << "deepfake-bench-engine: " << opt.inputs << " is not a whole number of " << size
                << "x" << size << "x3 crops\n";
      return 2;
    }
  } else {
    std::mt19937 rng(1);
    pool.resize(face_bytes * 8);
    for (auto &b : pool) b = static_cast<uint8_t>(rng() & 0xff);
  }
  const size_t pool_faces = pool.size() / face_bytes;

  dfd::json::Value::Array rows;
  if (!opt.json) {
    std::printf("model %s (%s, %d px) on %s\n", engine->config().name.c_str(),
                dfd::architecture_name(engine->config().architecture), size, opt.device.c_str());
    std::printf("%6s %16s %16s %14s\n", "batch", "classify f/s", "explain f/s", "peak RSS MiB");
  }
  for (int batch : opt.batches) {
    const Measurement classify = measure(*engine, pool, pool_faces, batch, false, opt.seconds);
    const Measurement explain = measure(*engine, pool, pool_faces, batch, true, opt.seconds);
    const double rss = peak_rss_mib();
    if (!opt.json) {
      std::printf("%6d %16.1f %16.1f %14.0f\n", batch, classify.faces_per_second,
                  explain.faces_per_second, rss);
      std::fflush(stdout);
    }
    dfd::json::Value::Object row;
    row["batch"] = batch;
    row["classify_faces_per_second"] = classify.faces_per_second;
    row["explain_faces_per_second"] = explain.faces_per_second;
    row["classify_ms_per_batch"] = classify.ms_per_batch;
    row["explain_ms_per_batch"] = explain.ms_per_batch;
    row["peak_rss_mib"] = rss;
    rows.emplace_back(std::move(row));
  }
  if (opt.json) {
    dfd::json::Value::Object out;
    out["model"] = engine->config().name;
    out["architecture"] = dfd::architecture_name(engine->config().architecture);
    out["image_size"] = size;
    out["device"] = opt.device;
    out["results"] = std::move(rows);
    std::cout << dfd::json::dump(dfd::json::Value(std::move(out))) << "\n";
  }
  return 0;
}
