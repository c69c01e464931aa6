// How many live streams one engine serves in real time: N producer threads, each a 25 fps
// stream with 1-4 faces per frame, submit their frames' faces to one shared Batcher (the
// path deepfakedetect instances with the same shared-instance id take) and never wait for
// the answer, as a live source does not. Per stream count it prints the added latency of each
// frame (its scheduled capture time to its results), the faces/s served and the frames whose
// results never came or came as an error. A count "holds" when every frame got its results,
// and p99 latency is within the deadline.
// Depends on the core library alone, so it builds on GPU machines without GStreamer.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_inputs.h"
#include "core/batcher.h"
#include "core/engine.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string model;
  std::string device = "cpu";
  std::string inputs;  // raw uint8 N x S x S x 3 face crops; random bytes otherwise
  std::vector<int> streams{1, 2, 4, 8, 16};
  double seconds = 10.0;  // measured time per stream count, after the warm-up
  double warmup = 2.0;
  double fps = 25.0;
  int min_faces = 1;
  int max_faces = 4;
  int batch_size = 32;
  int batch_timeout_ms = 20;
  double deadline_ms = 200.0;
  bool explain = true;
  int threads = 0;
  dfd::Precision precision = dfd::Precision::Float32;
  bool stop_at_first_miss = false;
};

void usage() {
  std::cerr << "usage: deepfake-bench-streams [--model FILE] [--device cpu|cuda|cuda:N]\n"
               "         [--streams 1,2,4,8,16] [--seconds S] [--warmup S] [--fps F]\n"
               "         [--faces MIN-MAX] [--batch-size N] [--batch-timeout MS] [--deadline MS]\n"
               "         [--no-explain] [--precision fp32|bf16|fp16] [--threads N]\n"
               "         [--inputs FACES.u8] [--stop-at-first-miss]\n"
               "N live streams at F fps with MIN-MAX faces per frame (uniform, seeded per stream)\n"
               "share one batcher and engine. Per N: added latency per frame (scheduled capture\n"
               "to results) p50/p95/p99/max, faces/s offered and served, mean batch size, frames\n"
               "without results; N holds real time when none is missing and p99 <= the deadline.\n"
               "Prints the largest N that holds.\n";
}

double percentile(std::vector<double> sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t index = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

// One frame's fate, written by the batcher's thread through on_done.
struct FrameRecord {
  Clock::time_point scheduled;
  Clock::time_point done;
  int faces = 0;
  bool measured = false;  // scheduled after the warm-up
  std::future<std::vector<dfd::Prediction>> result;
};

struct RunResult {
  int streams = 0;
  size_t frames = 0;
  size_t missing = 0;  // no results by the end of the drain, or an error instead of results
  double offered_faces_per_second = 0;
  double served_faces_per_second = 0;
  double mean_batch = 0;
  double p50 = 0, p95 = 0, p99 = 0, max = 0;
  bool holds = false;
};

RunResult run_streams(dfd::Batcher &batcher, const std::vector<uint8_t> &pool, size_t face_bytes,
                      int stream_count, const Options &opt) {
  const auto period =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / opt.fps));
  const auto frames_per_stream = static_cast<size_t>((opt.warmup + opt.seconds) * opt.fps);
  const size_t warmup_frames = static_cast<size_t>(opt.warmup * opt.fps);
  const size_t pool_faces = pool.size() / face_bytes;

  std::vector<std::vector<FrameRecord>> records(stream_count);
  for (auto &r : records) r.resize(frames_per_stream);
  std::mutex done_mutex;
  std::condition_variable done_cv;
  std::atomic<size_t> outstanding{0};

  const dfd::BatcherStats before = batcher.stats();
  // Streams start out of phase, as independent cameras do.
  const Clock::time_point start = Clock::now() + std::chrono::milliseconds(50);
  std::vector<std::thread> producers;
  for (int s = 0; s < stream_count; ++s) {
    producers.emplace_back([&, s] {
      std::mt19937 rng(static_cast<unsigned>(1000 + s));
      std::uniform_int_distribution<int> faces_per_frame(opt.min_faces, opt.max_faces);
      const auto phase = period * s / stream_count;
      for (size_t k = 0; k < frames_per_stream; ++k) {
        FrameRecord &record = records[s][k];
        record.scheduled = start + phase + period * static_cast<long>(k);
        record.faces = faces_per_frame(rng);
        record.measured = k >= warmup_frames;
        std::vector<uint8_t> faces(face_bytes * record.faces);
        for (int f = 0; f < record.faces; ++f) {
          const size_t source =
              (k * 7 + static_cast<size_t>(f) + static_cast<size_t>(s)) % pool_faces;
          std::copy_n(pool.begin() + static_cast<long>(source * face_bytes), face_bytes,
                      faces.begin() + static_cast<long>(f * face_bytes));
        }
        std::this_thread::sleep_until(record.scheduled);
        outstanding.fetch_add(1);
        try {
          record.result = batcher.submit(std::move(faces), record.faces, opt.explain, [&, s, k] {
            records[s][k].done = Clock::now();
            std::lock_guard<std::mutex> lock(done_mutex);
            outstanding.fetch_sub(1);
            done_cv.notify_all();
          });
        } catch (const std::exception &) {
          // Counted as missing: its result stays invalid.
          std::lock_guard<std::mutex> lock(done_mutex);
          outstanding.fetch_sub(1);
          done_cv.notify_all();
        }
      }
    });
  }
  for (auto &p : producers) p.join();
  const Clock::time_point cutoff = Clock::now() + std::chrono::seconds(30);
  std::unique_lock<std::mutex> lock(done_mutex);
  done_cv.wait_until(lock, cutoff, [&] { return outstanding.load() == 0; });
  // Results that came after the cutoff count as missing, but the batcher still holds
  // callbacks into `records`: wait for all of them before anything here goes away.
  done_cv.wait(lock, [&] { return outstanding.load() == 0; });
  lock.unlock();
  const dfd::BatcherStats after = batcher.stats();

  RunResult result;
  result.streams = stream_count;
  std::vector<double> latencies;
  size_t measured_faces = 0;
  Clock::time_point first = Clock::time_point::max(), last_done = Clock::time_point::min();
  for (auto &stream : records) {
    for (auto &record : stream) {
      bool answered = record.result.valid() && record.done <= cutoff;
      if (answered) {
        try {
          answered = record.result.get().size() == static_cast<size_t>(record.faces);
        } catch (const std::exception &) {
          answered = false;
        }
      }
      if (!record.measured) continue;
      ++result.frames;
      measured_faces += static_cast<size_t>(record.faces);
      first = std::min(first, record.scheduled);
      if (!answered) {
        ++result.missing;
        continue;
      }
      last_done = std::max(last_done, record.done);
      latencies.push_back(
          std::chrono::duration<double, std::milli>(record.done - record.scheduled).count());
    }
  }
  std::sort(latencies.begin(), latencies.end());
  result.p50 = percentile(latencies, 0.50);
  result.p95 = percentile(latencies, 0.95);
  result.p99 = percentile(latencies, 0.99);
  result.max = latencies.empty() ? 0 : latencies.back();
  result.offered_faces_per_second = static_cast<double>(measured_faces) / opt.seconds;
  const double served_span =
      last_done > first ? std::chrono::duration<double>(last_done - first).count() : 0;
  result.served_faces_per_second =
      served_span > 0 ? static_cast<double>(measured_faces) / served_span : 0;
  const uint64_t batches = after.batches - before.batches;
  result.mean_batch =
      batches ? static_cast<double>(after.faces - before.faces) / static_cast<double>(batches) : 0;
  // A backlog that grows pushes more than 1% of the frames past the deadline within seconds,
  // so p99 also tells whether the served rate keeps up with the offered one.
  result.holds = result.missing == 0 && result.frames > 0 && result.p99 <= opt.deadline_ms;
  return result;
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
    try {
      if (arg == "--model")
        opt.model = next();
      else if (arg == "--device")
        opt.device = next();
      else if (arg == "--inputs")
        opt.inputs = next();
      else if (arg == "--streams")
        opt.streams = dfd::bench::parse_int_list(next());
      else if (arg == "--seconds")
        opt.seconds = std::stod(next());
      else if (arg == "--warmup")
        opt.warmup = std::stod(next());
      else if (arg == "--fps")
        opt.fps = std::stod(next());
      else if (arg == "--faces") {
        const std::string range = next();
        const size_t dash = range.find('-');
        opt.min_faces = std::stoi(range.substr(0, dash));
        opt.max_faces =
            dash == std::string::npos ? opt.min_faces : std::stoi(range.substr(dash + 1));
      } else if (arg == "--batch-size")
        opt.batch_size = std::stoi(next());
      else if (arg == "--batch-timeout")
        opt.batch_timeout_ms = std::stoi(next());
      else if (arg == "--deadline")
        opt.deadline_ms = std::stod(next());
      else if (arg == "--no-explain")
        opt.explain = false;
      else if (arg == "--threads")
        opt.threads = std::stoi(next());
      else if (arg == "--precision")
        opt.precision = dfd::parse_precision(next());
      else if (arg == "--stop-at-first-miss")
        opt.stop_at_first_miss = true;
      else {
        usage();
        return arg == "--help" ? 0 : 2;
      }
    } catch (const std::exception &e) {
      std::cerr << "deepfake-bench-streams: bad value for " << arg << ": " << e.what() << "\n";
      return 2;
    }
  }
  if (opt.model.empty()) opt.model = dfd::default_model_path();
  if (opt.min_faces < 1 || opt.max_faces < opt.min_faces || opt.fps <= 0 || opt.seconds <= 0 ||
      opt.batch_size < 1 || opt.streams.empty()) {
    std::cerr << "deepfake-bench-streams: need 1 <= MIN <= MAX faces, fps, seconds and batch size "
                 "above 0, and at least one stream count\n";
    return 2;
  }

  std::shared_ptr<dfd::Batcher> batcher;
  try {
    dfd::EngineOptions engine_options;
    engine_options.device = opt.device;
    engine_options.threads = opt.threads;
    engine_options.precision = opt.precision;
    dfd::BatcherOptions batcher_options;
    batcher_options.batch_size = opt.batch_size;
    batcher_options.timeout = std::chrono::milliseconds(opt.batch_timeout_ms);
    batcher = dfd::Batcher::acquire("", opt.model, engine_options, batcher_options);
  } catch (const std::exception &e) {
    std::cerr << "deepfake-bench-streams: " << e.what() << "\n";
    return 2;
  }
  const int size = batcher->config().image_size;
  const size_t face_bytes = static_cast<size_t>(size) * size * 3;
  std::vector<uint8_t> pool;
  try {
    pool = dfd::bench::load_face_pool(opt.inputs, size);
  } catch (const std::exception &e) {
    std::cerr << "deepfake-bench-streams: " << e.what() << "\n";
    return 2;
  }

  std::printf(
      "model %s on %s, %s, batch-size %d, batch timeout %d ms; %g fps streams with %d-%d "
      "faces per frame; %g s measured after %g s of warm-up; deadline %g ms\n",
      batcher->config().name.c_str(), opt.device.c_str(),
      opt.explain ? "classify+explain" : "classify", opt.batch_size, opt.batch_timeout_ms, opt.fps,
      opt.min_faces, opt.max_faces, opt.seconds, opt.warmup, opt.deadline_ms);
  std::printf("%7s %8s %13s %12s %10s %8s %8s %8s %8s %8s %6s\n", "streams", "frames",
              "offered f/s", "served f/s", "mean batch", "p50 ms", "p95 ms", "p99 ms", "max ms",
              "missing", "holds");
  int largest = 0;
  for (int n : opt.streams) {
    const RunResult r = run_streams(*batcher, pool, face_bytes, n, opt);
    std::printf("%7d %8zu %13.1f %12.1f %10.1f %8.1f %8.1f %8.1f %8.1f %8zu %6s\n", r.streams,
                r.frames, r.offered_faces_per_second, r.served_faces_per_second, r.mean_batch,
                r.p50, r.p95, r.p99, r.max, r.missing, r.holds ? "yes" : "no");
    std::fflush(stdout);
    if (r.holds)
      largest = std::max(largest, n);
    else if (opt.stop_at_first_miss)
      break;
  }
  std::printf("largest stream count that holds real time: %d\n", largest);
  return 0;
}
