#include "training_run.h"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <future>
#include <opencv2/core/utility.hpp>
#include <optional>
#include <stdexcept>

#include "checkpoints.h"
#include "dataset.h"
#include "examples.h"
#include "progress.h"
#include "random.h"
#include "schedule.h"
#include "trainer.h"
#include "validation.h"

namespace dfd::training {

namespace {

constexpr uint64_t kExampleSalt = 0x6578616d;      // "exam"
constexpr uint64_t kStepSalt = 0x73746570;         // "step"
constexpr uint64_t kCalibrationSalt = 0x63616c69;  // "cali"

std::atomic<bool> g_stop_requested{false};

extern "C" void request_stop(int) {
  g_stop_requested = true;
}

// Turns SIGINT and SIGTERM into "checkpoint and stop" for the life of the run.
class StopSignals {
 public:
  StopSignals() {
    g_stop_requested = false;
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals &) = delete;
  StopSignals &operator=(const StopSignals &) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

std::string format(const char *pattern, double a) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, a);
  return text;
}

// The run's bookkeeping; saved with every checkpoint so --resume continues exactly.
struct RunState {
  int epoch = 0;              // the epoch in progress (0-based)
  int64_t step_in_epoch = 0;  // its steps done
  int64_t global_step = 0;
  double epoch_loss_sum = 0.0;  // for the epoch's running mean
  int64_t epoch_loss_count = 0;
  bool has_best = false;
  double best_value = 0.0;
  int best_epoch = 0;  // 1-based: the epoch whose validation it was
  int64_t best_step = 0;
  json::Value best_validation;
  int bad_epochs = 0;
  bool finished = false;
  double wall_seconds = 0.0;  // over every session of the run
  json::Value history = json::Array{};

  json::Value to_json() const {
    json::Value v;
    v["epoch"] = epoch;
    v["step_in_epoch"] = step_in_epoch;
    v["global_step"] = global_step;
    v["epoch_loss_sum"] = epoch_loss_sum;
    v["epoch_loss_count"] = epoch_loss_count;
    v["has_best"] = has_best;
    v["best_value"] = best_value;
    v["best_epoch"] = best_epoch;
    v["best_step"] = best_step;
    v["best_validation"] = best_validation;
    v["bad_epochs"] = bad_epochs;
    v["finished"] = finished;
    v["wall_seconds"] = wall_seconds;
    v["history"] = history;
    return v;
  }

  static RunState from_json(const json::Value &v, const std::string &label) {
    const auto get = [&](const char *key) -> const json::Value & {
      const json::Value *value = json::find(v, key);
      if (!value) throw std::runtime_error(label + ": run state has no '" + key + "'");
      return *value;
    };
    try {
      RunState s;
      s.epoch = static_cast<int>(json::as_number(get("epoch")));
      s.step_in_epoch = static_cast<int64_t>(json::as_number(get("step_in_epoch")));
      s.global_step = static_cast<int64_t>(json::as_number(get("global_step")));
      s.epoch_loss_sum = json::as_number(get("epoch_loss_sum"));
      s.epoch_loss_count = static_cast<int64_t>(json::as_number(get("epoch_loss_count")));
      s.has_best = json::as_bool(get("has_best"));
      s.best_value = json::as_number(get("best_value"));
      s.best_epoch = static_cast<int>(json::as_number(get("best_epoch")));
      s.best_step = static_cast<int64_t>(json::as_number(get("best_step")));
      s.best_validation = get("best_validation");
      s.bad_epochs = static_cast<int>(json::as_number(get("bad_epochs")));
      s.finished = json::as_bool(get("finished"));
      s.wall_seconds = json::as_number(get("wall_seconds"));
      s.history = get("history");
      return s;
    } catch (const std::runtime_error &e) {
      throw std::runtime_error(label + ": malformed run state: " + e.what());
    }
  }
};

json::Value data_json(const Dataset &data, int val_percent) {
  json::Value out;
  const auto folders = [](const std::vector<std::string> &dirs,
                          const std::vector<ImageEntry> &train,
                          const std::vector<ImageEntry> &val) {
    json::Array list;
    for (const std::string &dir : dirs) {
      size_t t = 0, v = 0;
      for (const ImageEntry &e : train) t += e.folder == dir ? 1 : 0;
      for (const ImageEntry &e : val) v += e.folder == dir ? 1 : 0;
      json::Value item;
      item["folder"] = dir;
      item["train"] = t;
      item["val"] = v;
      list.push_back(std::move(item));
    }
    return json::Value(std::move(list));
  };
  out["real"] = folders(data.real_folders, data.train_real, data.val_real);
  out["fake"] = folders(data.fake_folders, data.train_fake, data.val_fake);
  json::Value split;
  split["method"] = "fnv1a32(file basename) % 100 < val_percent is validation";
  split["val_percent"] = val_percent;
  out["split"] = std::move(split);
  return out;
}

std::string data_summary(const Dataset &data, int val_percent) {
  std::string text =
      "data (split: fnv1a32(basename) % 100 < " + std::to_string(val_percent) + " is validation):";
  const auto folders = [&](const char *kind, const std::vector<std::string> &dirs,
                           const std::vector<ImageEntry> &train,
                           const std::vector<ImageEntry> &val) {
    for (const std::string &dir : dirs) {
      size_t t = 0, v = 0;
      for (const ImageEntry &e : train) t += e.folder == dir ? 1 : 0;
      for (const ImageEntry &e : val) v += e.folder == dir ? 1 : 0;
      text += "\n  " + std::string(kind) + " " + dir + ": train " + std::to_string(t) + ", val " +
              std::to_string(v);
    }
  };
  folders("real", data.real_folders, data.train_real, data.val_real);
  folders("fake", data.fake_folders, data.train_fake, data.val_fake);
  return text;
}

}  // namespace

int run_training(const TrainConfig &config, const RunOptions &options) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point session_start = Clock::now();
  // The data pipeline runs beside LibTorch's threads; OpenCV's own pool would only compete.
  cv::setNumThreads(1);
  Progress progress(stderr, Progress::stderr_is_terminal(), config.log_every_steps);

  if (options.output.empty()) throw std::runtime_error("no output model path given");
  if (options.checkpoint_dir.empty()) throw std::runtime_error("no checkpoint folder given");
  const Dataset data = load_dataset(options.real_dirs, options.fake_dirs, config.data.val_percent);
  progress.line(data_summary(data, config.data.val_percent));
  if (config.data.sampling == Sampling::Images && data.train_fake.empty()) {
    throw std::runtime_error("data.sampling \"images\" needs fake images (--fake)");
  }
  if (config.data.sampling == Sampling::Pairs && config.data.sbi_fraction < 1.0 &&
      data.train_fake.empty()) {
    throw std::runtime_error("data.sbi_fraction " + format("%g", config.data.sbi_fraction) +
                             " mixes in real fakes, but no --fake folder has training images");
  }

  if (!config.data.source_weights.empty()) {
    // Weights name sources explicitly: a source left out or misspelt would silently change
    // the mix.
    for (const std::string &folder : data.real_folders) {
      if (!config.data.source_weights.count(source_name(folder))) {
        throw std::runtime_error(config.label + ": data.source_weights has no weight for source '" +
                                 source_name(folder) + "' (--real " + folder +
                                 "); give it one (0 leaves it out)");
      }
    }
    for (const auto &[name, weight] : config.data.source_weights) {
      bool found = false;
      for (const std::string &folder : data.real_folders)
        found = found || source_name(folder) == name;
      if (!found) {
        throw std::runtime_error(config.label + ": data.source_weights names '" + name +
                                 "', but no --real folder is that source");
      }
    }
  }

  CheckpointStore store(options.checkpoint_dir);
  const std::optional<CheckpointFiles> existing = store.latest();
  const bool averaging = !options.average.empty();
  if (existing && !options.resume && !averaging) {
    throw std::runtime_error(options.checkpoint_dir + " already holds a run (step " +
                             std::to_string(existing->step) +
                             "): pass --resume to continue it, or choose another folder");
  }
  if (!existing && options.resume) {
    throw std::runtime_error(options.checkpoint_dir + ": no checkpoint to resume from");
  }

  const std::string cache =
      options.landmark_cache.empty() ? store.dir() + "/landmarks.json" : options.landmark_cache;
  const Clock::time_point landmark_start = Clock::now();
  const FaceShapes shapes = find_face_shapes(data, config, cache, [&](size_t done, size_t total) {
    progress.line("landmarks: " + std::to_string(done) + "/" + std::to_string(total));
  });
  size_t detected = 0;
  for (const auto &[path, shape] : shapes) detected += shape.detected ? 1 : 0;
  progress.line(
      "landmarks: " + std::to_string(shapes.size()) + " images, " +
      detector_kind_name(config.data.face_detector) + " found a face in " +
      std::to_string(detected) + " (the rest use the whole image), " +
      format_duration(std::chrono::duration<double>(Clock::now() - landmark_start).count()) +
      ", cache " + cache);
  const ExampleMaker maker(config, data, shapes);

  const int per_batch = units_per_batch(config);
  const size_t units = units_per_epoch(data, config.data);
  const int64_t steps_per_epoch = static_cast<int64_t>(units) / per_batch;
  if (steps_per_epoch == 0) {
    throw std::runtime_error("the training split holds fewer examples than one batch of " +
                             std::to_string(config.batch_size));
  }
  const int64_t total_steps = steps_per_epoch * config.epochs;
  const double pos_weight =
      !config.pos_weight_auto ? config.pos_weight
      : config.data.sampling == Sampling::Pairs
          ? 1.0  // every batch holds as many fakes as reals
          : static_cast<double>(data.train_real.size()) / data.train_fake.size();

  // A resumed run takes every weight from its checkpoint; its starting point was recorded.
  TrainConfig effective = config;
  if (existing) effective.init_weights.clear();
  Trainer trainer(effective, options.device, pos_weight, options.threads, options.channels_last);
  std::string init_from = trainer.init_report().from;
  {
    const InitReport &init = trainer.init_report();
    std::string text = "model: " + std::string(architecture_name(config.model.architecture)) +
                       " at " + std::to_string(config.model.image_size) + " px, " +
                       std::to_string(trainer.parameter_count()) + " parameters (" +
                       std::to_string(trainer.trainable_parameter_count()) + " trained, " +
                       std::to_string(config.freeze_blocks) + " backbone blocks frozen)";
    if (!existing && !averaging) {
      text += "; init: " + init.from;
      if (init.from != "random") {
        text += " (" + std::to_string(init.loaded) + " tensors loaded, " +
                std::to_string(init.skipped) + " left random)";
      }
    }
    progress.line(text);
    progress.line("plan: " + std::to_string(config.epochs) + " epochs x " +
                  std::to_string(steps_per_epoch) + " steps of " +
                  std::to_string(config.batch_size) + " faces, pos_weight " +
                  format("%.4g", pos_weight) + ", device " + options.device);
  }

  const json::Value data_record = data_json(data, config.data.val_percent);
  const std::string config_text = json::dump(config.document);
  RunState st;
  if (existing) {
    trainer.load_model(existing->model);
    const json::Value scalars = trainer.load_state(existing->state);
    const json::Value *saved_config = json::find(scalars, "config");
    if (!saved_config || json::dump(*saved_config) != config_text) {
      throw std::runtime_error(existing->state +
                               ": the checkpoint was made with a different config; resume with "
                               "the same config file, or start a new run in another folder");
    }
    const json::Value *saved_data = json::find(scalars, "data");
    if (!saved_data || json::dump(*saved_data) != json::dump(data_record)) {
      throw std::runtime_error(existing->state +
                               ": the data folders or their contents differ from the "
                               "checkpoint's; resume with the same --real and --fake folders");
    }
    st = RunState::from_json(scalars, existing->state);
    const json::Value *saved_init = json::find(scalars, "init");
    init_from = saved_init && saved_init->is_string() ? json::as_string(*saved_init) : "unknown";
    progress.line("resume: step " + std::to_string(st.global_step) + " (epoch " +
                  std::to_string(st.epoch + 1) + ", step " + std::to_string(st.step_in_epoch) +
                  " of it) from " + existing->model);
    if (st.finished) {
      progress.line("the run had already finished; nothing to do");
      return 0;
    }
  }

  // Pairs validate every pseudo-fake the run trains on (self-blends always, as before the
  // other kinds existed), each made from every validation real with a seed fixed per file.
  std::vector<FakeKind> pseudo_fakes;
  if (config.data.sampling == Sampling::Pairs) {
    const std::array<double, kFakeKindCount> weights = fake_kind_weights(config.data);
    for (const FakeKind k : {FakeKind::SelfBlend, FakeKind::CrossSwap, FakeKind::LowResSwap}) {
      if (k == FakeKind::SelfBlend || weights[static_cast<size_t>(k)] > 0.0) {
        pseudo_fakes.push_back(k);
      }
    }
  }
  const Clock::time_point val_build_start = Clock::now();
  const bool profiling = options.profile_steps > 0;
  const ValidationSet val =
      profiling ? ValidationSet{}
                : build_validation_set(maker, data, pseudo_fakes, config.data.val_pseudo_fakes, {});
  if (!val.examples.empty()) {
    std::string counts;
    for (const auto kind :
         {ValidationSet::Kind::Real, ValidationSet::Kind::Fake, ValidationSet::Kind::SelfBlend,
          ValidationSet::Kind::CrossSwap, ValidationSet::Kind::LowResSwap}) {
      if (val.count(kind) == 0) continue;
      counts += (counts.empty() ? "" : ", ") + std::to_string(val.count(kind)) + " " +
                validation_kind_name(kind);
    }
    progress.line(
        "val: " + counts + " (pseudo-fakes fixed per file), prepared in " +
        format_duration(std::chrono::duration<double>(Clock::now() - val_build_start).count()));
  } else {
    progress.line("val: no validation split (data.val_percent 0): every epoch's model is kept");
  }

  const double session_base_seconds = st.wall_seconds;
  const auto elapsed = [&]() {
    return session_base_seconds +
           std::chrono::duration<double>(Clock::now() - session_start).count();
  };

  json::Value averaged;  // with --average: each file and its own training record
  const auto record = [&]() {
    json::Value r;
    r["tool"] = "deepfake-train";
    r["command"] = options.command_line;
    r["config_file"] = config.label;
    r["config"] = config.document;
    r["data"] = data_record;
    r["seed"] = static_cast<double>(config.seed);
    r["device"] = options.device;
    r["init"] = init_from;
    if (averaging) r["averaged"] = averaged;
    r["pos_weight"] = pos_weight;
    r["batch_size"] = config.batch_size;
    r["steps_per_epoch"] = steps_per_epoch;
    r["epochs_completed"] = st.epoch;
    r["steps"] = st.global_step;
    json::Value best;
    best["epoch"] = st.best_epoch;
    best["step"] = st.best_step;
    best["monitor"] = config.early_stopping.monitor == Monitor::ValLoss  ? "val_loss"
                      : config.early_stopping.monitor == Monitor::ValAuc ? "val_auc"
                                                                         : "val_auc_mean";
    best["value"] = st.best_value;
    r["best"] = std::move(best);
    r["validation"] = st.best_validation;
    r["validation_note"] =
        "figures on the held-out split (files never trained on), at the saved step";
    r["wall_time_s"] = std::round(elapsed());
    return r;
  };

  const auto save_checkpoint = [&]() {
    st.wall_seconds = elapsed();
    const CheckpointFiles files = store.files_for(st.global_step);
    trainer.save_model(files.model, record());
    json::Value scalars = st.to_json();
    scalars["config"] = config.document;
    scalars["data"] = data_record;
    scalars["init"] = init_from;
    trainer.save_state(files.state, scalars);
    store.commit(files);
  };

  // A calibrated run stores the threshold of its operating point, so the element's verdicts
  // and alerts keep the false-alarm rate the run was asked for.
  std::optional<double> best_threshold;
  const auto save_best = [&]() { trainer.save_model(options.output, record(), best_threshold); };

  // Batch `batch_index` of `plan`; every example's randomness comes from (base seed, epoch,
  // its index), so a batch is the same whichever thread builds it and whenever.
  std::atomic<int64_t> build_nanoseconds{0};  // summed over the threads that build batches
  const auto build_batch = [&](uint64_t base_seed, int epoch, const std::vector<Unit> *plan,
                               int64_t batch_index) {
    const Clock::time_point build_start = Clock::now();
    std::vector<Example> batch;
    batch.reserve(static_cast<size_t>(config.batch_size));
    for (int j = 0; j < per_batch; ++j) {
      const int64_t index = batch_index * per_batch + j;
      const uint64_t seed = derive_seed(
          base_seed, {kExampleSalt, static_cast<uint64_t>(epoch), static_cast<uint64_t>(index)});
      for (Example &e : maker.training_unit((*plan)[static_cast<size_t>(index)], seed)) {
        batch.push_back(std::move(e));
      }
    }
    build_nanoseconds +=
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - build_start).count();
    return batch;
  };

  // BatchNorm statistics from training batches of their own (not the ones trained on).
  const auto recalibrate = [&]() {
    const int calibration =
        static_cast<int>(std::min<int64_t>(config.bn_recalibration_batches, steps_per_epoch));
    if (calibration > 0) {
      const uint64_t base = derive_seed(config.seed, {kCalibrationSalt});
      const std::vector<Unit> plan = plan_epoch(data, config.data, base, st.epoch);
      trainer.recalibrate_batchnorm(calibration,
                                    [&](int i) { return build_batch(base, st.epoch, &plan, i); });
    }
  };
  const auto evaluate = [&]() {
    recalibrate();
    std::vector<float> logits;
    logits.reserve(val.examples.size());
    const size_t chunk = static_cast<size_t>(config.eval_batch_size);
    for (size_t i = 0; i < val.examples.size(); i += chunk) {
      const size_t end = std::min(i + chunk, val.examples.size());
      const std::vector<Example> batch(val.examples.begin() + static_cast<std::ptrdiff_t>(i),
                                       val.examples.begin() + static_cast<std::ptrdiff_t>(end));
      const std::vector<float> part = trainer.predict(batch);
      logits.insert(logits.end(), part.begin(), part.end());
    }
    return score_validation(val, logits, config.model.threshold, config.data,
                            config.false_alarm_rate, config.calibration_scope);
  };

  const auto monitor_value = [&](const ValidationReport &report) {
    switch (config.early_stopping.monitor) {
      case Monitor::ValLoss:
        return report.monitor_loss;
      case Monitor::ValAuc:
        return report.monitor_auc;
      case Monitor::ValAucMean:
        break;
    }
    return report.monitor_auc_mean;
  };

  if (averaging) {
    const std::vector<json::Value> records = trainer.load_average(options.average);
    json::Array sources;
    for (size_t i = 0; i < records.size(); ++i) {
      json::Value source;
      source["file"] = options.average[i];
      source["training"] = records[i];
      sources.push_back(std::move(source));
    }
    averaged = std::move(sources);
    init_from = options.average.size() == 1
                    ? options.average.front()
                    : "mean of " + std::to_string(options.average.size()) + " models";
    progress.line("weights: " + init_from + "; no training steps");
    st.has_best = true;
    if (val.examples.empty()) {
      recalibrate();
    } else {
      const ValidationReport report = evaluate();
      for (const std::string &line : report.lines(config.model.threshold)) {
        progress.line("  " + line);
      }
      st.best_value = monitor_value(report);
      st.best_validation = report.to_json();
      if (report.has_operating_point) best_threshold = report.operating_point.threshold;
    }
    save_best();
    progress.line("done: averaged model -> " + options.output);
    return 0;
  }

  if (options.validate_at_start && !existing && !val.examples.empty()) {
    const ValidationReport report = evaluate();
    progress.line("before training (step 0):");
    for (const std::string &line : report.lines(config.model.threshold)) progress.line("  " + line);
  }
  StopSignals signals;
  double step_seconds_average = -1.0;  // exponential moving average
  while (st.epoch < config.epochs) {
    const std::vector<Unit> plan = plan_epoch(data, config.data, config.seed, st.epoch);
    const auto launch = [&](int64_t batch_index) {
      return std::async(options.prefetch ? std::launch::async : std::launch::deferred, build_batch,
                        config.seed, st.epoch, &plan, batch_index);
    };
    const Clock::time_point epoch_start = Clock::now();
    const int64_t epoch_first_step = st.step_in_epoch;
    // The batches being built ahead, in step order: up to data_threads of them, each on its
    // own thread, so example making overlaps the steps (and the other batches).
    const int64_t ahead = options.prefetch ? std::max(1, options.data_threads) : 1;
    std::deque<std::future<std::vector<Example>>> upcoming;
    int64_t next_to_launch = st.step_in_epoch;
    const auto top_up = [&] {
      while (static_cast<int64_t>(upcoming.size()) < ahead && next_to_launch < steps_per_epoch) {
        upcoming.push_back(launch(next_to_launch++));
      }
    };
    top_up();
    build_nanoseconds = 0;
    trainer.take_step_times();
    double waited_seconds = 0.0;
    bool interrupted = false;
    bool step_limit = false;
    while (st.step_in_epoch < steps_per_epoch) {
      const Clock::time_point step_start = Clock::now();
      std::vector<Example> batch = upcoming.front().get();
      upcoming.pop_front();
      waited_seconds += std::chrono::duration<double>(Clock::now() - step_start).count();
      top_up();
      const double lr =
          learning_rate(config.optimizer, config.schedule, st.global_step, st.epoch, total_steps);
      const double loss = trainer.step(
          batch, lr, derive_seed(config.seed, {kStepSalt, static_cast<uint64_t>(st.global_step)}));
      if (!std::isfinite(loss)) {
        throw std::runtime_error("the training loss became " + format("%g", loss) + " at step " +
                                 std::to_string(st.global_step + 1) +
                                 ": lower optimizer.lr or set grad_clip_norm");
      }
      st.epoch_loss_sum += loss;
      ++st.epoch_loss_count;
      ++st.step_in_epoch;
      ++st.global_step;

      const double seconds = std::chrono::duration<double>(Clock::now() - step_start).count();
      step_seconds_average =
          step_seconds_average < 0 ? seconds : 0.9 * step_seconds_average + 0.1 * seconds;
      const int64_t run_end =
          options.max_steps > 0 ? std::min(total_steps, options.max_steps) : total_steps;
      StepStatus status;
      status.epoch = st.epoch;
      status.epochs = config.epochs;
      status.step_in_epoch = st.step_in_epoch;
      status.steps_per_epoch = steps_per_epoch;
      status.global_step = st.global_step;
      status.total_steps = run_end;
      status.loss = st.epoch_loss_sum / static_cast<double>(st.epoch_loss_count);
      status.lr = lr;
      status.faces_per_second = config.batch_size / step_seconds_average;
      status.eta_epoch_seconds =
          step_seconds_average * static_cast<double>(steps_per_epoch - st.step_in_epoch);
      status.eta_run_seconds = step_seconds_average *
                               static_cast<double>(std::max<int64_t>(run_end - st.global_step, 0));
      progress.step(status);

      if (config.checkpoint_every_steps > 0 &&
          st.global_step % config.checkpoint_every_steps == 0 &&
          st.step_in_epoch < steps_per_epoch) {
        save_checkpoint();
      }
      if (g_stop_requested) {
        interrupted = true;
        break;
      }
      if ((options.max_steps > 0 && st.global_step >= options.max_steps) ||
          (profiling && st.step_in_epoch - epoch_first_step >= options.profile_steps)) {
        step_limit = true;
        break;
      }
    }
    for (auto &pending : upcoming) pending.wait();  // nothing in flight may outlive `plan`
    if (interrupted) {
      save_checkpoint();
      progress.line("interrupted: checkpoint saved at step " + std::to_string(st.global_step) +
                    " in " + store.dir() + "; rerun the same command with --resume to continue");
      return 130;
    }

    const bool epoch_done = st.step_in_epoch == steps_per_epoch;
    const double train_loss = st.epoch_loss_count > 0
                                  ? st.epoch_loss_sum / static_cast<double>(st.epoch_loss_count)
                                  : 0.0;
    const double epoch_seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
    const int64_t steps_this_session = st.step_in_epoch - epoch_first_step;
    char head[256];
    std::snprintf(head, sizeof head,
                  "epoch %d/%d%s train: loss %.4f (mean of %lld steps), %.1f faces/s, %s",
                  st.epoch + 1, config.epochs, epoch_done ? "" : " (partial)", train_loss,
                  static_cast<long long>(st.epoch_loss_count),
                  epoch_seconds > 0 ? steps_this_session * config.batch_size / epoch_seconds : 0.0,
                  format_duration(epoch_seconds).c_str());
    progress.line(head);
    if (steps_this_session > 0) {
      const StepTimes times = trainer.take_step_times();
      const double n = static_cast<double>(steps_this_session);
      char profile[320];
      std::snprintf(
          profile, sizeof profile,
          "  per step: making the batch %.3f s (%s), waiting for it %.3f s, forward "
          "%.3f s, backward %.3f s, optimiser %.3f s",
          static_cast<double>(build_nanoseconds.load()) * 1e-9 / n,
          options.prefetch
              ? (std::to_string(ahead) + " batch(es) built ahead on other threads").c_str()
              : "on the training thread",
          waited_seconds / n, times.forward / n, times.backward / n, times.optimizer / n);
      progress.line(profile);
    }
    if (profiling) return 0;  // nothing validated, nothing saved

    json::Value entry;
    entry["epoch"] = st.epoch + 1;
    entry["complete"] = epoch_done;
    entry["steps"] = st.global_step;
    entry["train_loss"] = train_loss;
    if (!val.examples.empty()) {
      const Clock::time_point val_start = Clock::now();
      const ValidationReport report = evaluate();
      for (const std::string &line : report.lines(config.model.threshold)) {
        progress.line("  " + line);
      }
      progress.line(
          "  val time " +
          format_duration(std::chrono::duration<double>(Clock::now() - val_start).count()));
      const bool by_loss = config.early_stopping.monitor == Monitor::ValLoss;
      const double value = monitor_value(report);
      const double delta = config.early_stopping.min_delta;
      const bool improved =
          !st.has_best || (by_loss ? value < st.best_value - delta : value > st.best_value + delta);
      entry["validation"] = report.to_json();
      if (improved) {
        st.has_best = true;
        st.best_value = value;
        st.best_epoch = st.epoch + 1;
        st.best_step = st.global_step;
        st.best_validation = report.to_json();
        st.bad_epochs = 0;
        if (report.has_operating_point) best_threshold = report.operating_point.threshold;
        save_best();
        progress.line("  best so far (" + std::string(by_loss ? "val loss " : "val auc ") +
                      format("%.4f", value) + "): written to " + options.output);
      } else if (epoch_done) {
        ++st.bad_epochs;
        progress.line("  no improvement for " + std::to_string(st.bad_epochs) + " epoch(s) (best " +
                      format("%.4f", st.best_value) + " at epoch " + std::to_string(st.best_epoch) +
                      ")");
      }
    } else {
      st.has_best = true;
      st.best_epoch = st.epoch + 1;
      st.best_step = st.global_step;
      save_best();
    }
    json::as_array(st.history).push_back(std::move(entry));

    if (epoch_done) {
      ++st.epoch;
      st.step_in_epoch = 0;
      st.epoch_loss_sum = 0.0;
      st.epoch_loss_count = 0;
    }
    const int patience = config.early_stopping.patience;
    if (patience > 0 && st.bad_epochs >= patience) {
      st.finished = true;
      progress.line("early stop: no validation improvement in " + std::to_string(patience) +
                    " epochs");
    }
    if (st.epoch >= config.epochs) st.finished = true;
    save_checkpoint();
    if (st.finished) break;
    if (step_limit) {
      progress.line("stopped at --max-steps " + std::to_string(options.max_steps) +
                    "; --resume continues the run");
      break;
    }
  }
  progress.line("done: " + std::to_string(st.global_step) + " steps in " +
                format_duration(elapsed()) + "; best epoch " + std::to_string(st.best_epoch) +
                " -> " + options.output);
  return 0;
}

}  // namespace dfd::training
