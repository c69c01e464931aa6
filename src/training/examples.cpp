#include "examples.h"

#include <algorithm>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <thread>
#include <utility>

#include "augment.h"
#include "face_swap.h"
#include "imaging/preprocess.h"
#include "random.h"
#include "self_blend.h"

namespace dfd::training {

namespace {

// Salts keep the streams drawn from one seed apart.
constexpr uint64_t kPlanSalt = 0x706c616e;        // "plan"
constexpr uint64_t kValidationSalt = 0x76616c73;  // "vals"
// Added to an undetected donor's pose distance, which lies in [0, 4] (normalised shapes).
constexpr double kUndetectedDonorPenalty = 4.0;

template <typename T>
void shuffle(std::vector<T> &items, Rng &rng) {
  for (size_t i = items.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(uniform_int(rng, 0, static_cast<int>(i) - 1));
    std::swap(items[i - 1], items[j]);
  }
}

std::vector<int> iota(size_t count) {
  std::vector<int> out(count);
  for (size_t i = 0; i < count; ++i) out[i] = static_cast<int>(i);
  return out;
}

}  // namespace

std::string parent_folder(const std::string &folder) {
  std::filesystem::path path = std::filesystem::path(folder).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();  // "a/b/" names the folder b too
  return path.parent_path().string();
}

std::array<double, kFakeKindCount> fake_kind_weights(const DataConfig &config) {
  if (config.fake_kinds_given) return config.fake_kinds;
  return {1.0 - config.sbi_fraction, config.sbi_fraction, 0.0, 0.0};
}

size_t units_per_epoch(const Dataset &data, const DataConfig &config) {
  if (config.sampling == Sampling::Images) return data.train_real.size() + data.train_fake.size();
  if (!config.source_weights.empty() && config.units_per_epoch > 0) {
    return static_cast<size_t>(config.units_per_epoch);
  }
  return data.train_real.size();
}

std::vector<Unit> plan_epoch(const Dataset &data, const DataConfig &config, uint64_t seed,
                             int epoch) {
  Rng rng = make_rng(derive_seed(seed, {kPlanSalt, static_cast<uint64_t>(epoch)}));
  std::vector<Unit> units;
  if (config.sampling == Sampling::Images) {
    for (int i : iota(data.train_real.size())) units.push_back(Unit{i, -1, FakeKind::Paired});
    for (int i : iota(data.train_fake.size())) units.push_back(Unit{-1, i, FakeKind::Paired});
    shuffle(units, rng);
    return units;
  }
  // A cycle hands out its members in a shuffled order and reshuffles when all were used, so
  // nothing is drawn twice before everything was drawn once.
  struct Cycle {
    std::vector<int> members, order;
    size_t next = 0;
    int draw(Rng &r) {
      if (next == order.size()) {
        order = members;
        shuffle(order, r);
        next = 0;
      }
      return order[next++];
    }
  };

  std::vector<int> reals;
  if (config.source_weights.empty()) {
    reals = iota(data.train_real.size());
    shuffle(reals, rng);
  } else {
    std::map<std::string, Cycle> by_source;
    for (int i : iota(data.train_real.size())) {
      by_source[source_name(data.train_real[static_cast<size_t>(i)].folder)].members.push_back(i);
    }
    std::vector<std::pair<Cycle *, double>> sources;
    double total = 0.0;
    for (auto &[name, cycle] : by_source) {
      const auto weight = config.source_weights.find(name);
      const double w = weight == config.source_weights.end() ? 0.0 : weight->second;
      if (w <= 0.0) continue;
      sources.emplace_back(&cycle, w);
      total += w;
    }
    if (sources.empty()) {
      throw std::runtime_error("data.source_weights gives no weight to any source of --real");
    }
    const size_t count = units_per_epoch(data, config);
    reals.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      double pick = uniform(rng, 0.0, total);
      size_t s = 0;
      while (s + 1 < sources.size() && pick >= sources[s].second) pick -= sources[s++].second;
      reals.push_back(sources[s].first->draw(rng));
    }
  }

  // The fakes a real may be paired with, by group.
  const auto group = [&](const std::string &folder) {
    return config.fake_partner == FakePartner::Any ? std::string() : source_name(folder);
  };
  std::map<std::string, Cycle> cycles;
  std::map<std::pair<std::string, std::string>, int> by_name;  // (source, file name) -> fake
  for (int i : iota(data.train_fake.size())) {
    const ImageEntry &fake = data.train_fake[static_cast<size_t>(i)];
    cycles[group(fake.folder)].members.push_back(i);
    by_name.emplace(std::make_pair(source_name(fake.folder), fake.name), i);
  }
  const std::array<double, kFakeKindCount> weights = fake_kind_weights(config);
  for (int real : reals) {
    const ImageEntry &entry = data.train_real[static_cast<size_t>(real)];
    const auto it = cycles.find(group(entry.folder));
    const bool can_pair = it != cycles.end();
    double total = 0.0;
    for (int k = 0; k < kFakeKindCount; ++k) {
      if (k != static_cast<int>(FakeKind::Paired) || can_pair)
        total += weights[static_cast<size_t>(k)];
    }
    // Reals with nothing to pair with, under a config of real fakes only, get their own
    // self-blended fake.
    FakeKind kind = FakeKind::SelfBlend;
    if (total > 0.0) {
      double pick = uniform(rng, 0.0, total);
      for (int k = 0; k < kFakeKindCount; ++k) {
        const double w = k == static_cast<int>(FakeKind::Paired) && !can_pair
                             ? 0.0
                             : weights[static_cast<size_t>(k)];
        if (w <= 0.0) continue;
        kind = static_cast<FakeKind>(k);
        if (pick < w) break;
        pick -= w;
      }
    }
    if (kind != FakeKind::Paired) {
      units.push_back(Unit{real, -1, kind});
      continue;
    }
    int fake = -1;
    if (config.fake_partner == FakePartner::SameName) {
      const auto named = by_name.find({source_name(entry.folder), entry.name});
      if (named != by_name.end()) fake = named->second;
    }
    if (fake < 0) fake = it->second.draw(rng);
    units.push_back(Unit{real, fake, FakeKind::Paired});
  }
  return units;
}

int units_per_batch(const TrainConfig &config) {
  return config.batch_size / examples_per_unit(config);
}

int examples_per_unit(const TrainConfig &config) {
  return config.data.sampling == Sampling::Pairs ? 2 : 1;
}

FaceShapes find_face_shapes(const Dataset &data, const TrainConfig &config,
                            const std::string &cache_path,
                            const std::function<void(size_t, size_t)> &progress) {
  std::vector<const ImageEntry *> needed;
  for (const auto *list : {&data.train_real, &data.val_real}) {
    for (const ImageEntry &e : *list) needed.push_back(&e);
  }
  if (config.data.crop == CropMode::FaceBox) {
    for (const auto *list : {&data.train_fake, &data.val_fake}) {
      for (const ImageEntry &e : *list) needed.push_back(&e);
    }
  }
  LandmarkCache cache(config.data.face_detector);
  if (!cache_path.empty()) cache.load(cache_path);
  FaceShapes shapes;
  struct Missing {
    const ImageEntry *entry;
    uintmax_t bytes;
  };
  std::vector<Missing> missing;
  for (const ImageEntry *entry : needed) {
    std::error_code error;
    const uintmax_t bytes = std::filesystem::file_size(entry->path, error);
    if (error) throw std::runtime_error(entry->path + ": cannot stat: " + error.message());
    if (const FaceShape *cached = cache.find(entry->path, bytes)) {
      shapes[entry->path] = *cached;
    } else {
      missing.push_back({entry, bytes});
    }
  }
  if (!missing.empty()) {
    // One landmarker per core (dlib's detectors keep scan state, so none is shared), each
    // taking every n-th image of a chunk; the cache is saved after each chunk, so an
    // interrupted first run keeps what it has landmarked.
    const size_t workers =
        std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), missing.size());
    std::vector<std::unique_ptr<Landmarker>> landmarkers;
    for (size_t w = 0; w < workers; ++w) {
      landmarkers.push_back(std::make_unique<Landmarker>(config.data.face_detector));
    }
    constexpr size_t kChunk = 500;
    std::vector<FaceShape> found(missing.size());
    for (size_t begin = 0; begin < missing.size(); begin += kChunk) {
      const size_t end = std::min(begin + kChunk, missing.size());
      std::vector<std::future<void>> jobs;
      for (size_t w = 0; w < workers; ++w) {
        jobs.push_back(std::async(std::launch::async, [&, w] {
          for (size_t i = begin + w; i < end; i += workers) {
            const cv::Mat image = cv::imread(missing[i].entry->path, cv::IMREAD_COLOR);
            if (image.empty()) {
              throw std::runtime_error(missing[i].entry->path + ": cannot decode the image");
            }
            found[i] = landmarkers[w]->find(image);
          }
        }));
      }
      for (auto &job : jobs) job.get();  // rethrows a worker's error
      for (size_t i = begin; i < end; ++i) {
        cache.put(missing[i].entry->path, missing[i].bytes, found[i]);
        shapes[missing[i].entry->path] = found[i];
      }
      if (!cache_path.empty()) cache.save(cache_path);
      if (progress) progress(needed.size() - missing.size() + end, needed.size());
    }
  }
  if (progress) progress(needed.size(), needed.size());
  return shapes;
}

ExampleMaker::ExampleMaker(const TrainConfig &config, const Dataset &data, const FaceShapes &shapes)
    : config_(config), data_(data), shapes_(shapes) {}

cv::Mat ExampleMaker::load(const ImageEntry &entry) const {
  cv::Mat image = cv::imread(entry.path, cv::IMREAD_COLOR);
  if (image.empty()) throw std::runtime_error(entry.path + ": cannot decode the image");
  return image;
}

const FaceShape &ExampleMaker::shape(const ImageEntry &entry) const {
  const auto it = shapes_.find(entry.path);
  if (it == shapes_.end()) throw std::logic_error(entry.path + ": no landmarks were computed");
  return it->second;
}

cv::Mat ExampleMaker::crop(const cv::Mat &image, const FaceShape &face, double margin) const {
  if (config_.data.crop == CropMode::Image) return image;
  // The element's crop (seed_square_box on the detector box) so training sees what inference
  // will; where no face was found the box is the whole image.
  const cv::Rect box = seed_square_box(face.box, image.size(), margin);
  if (box.empty()) return image;
  return image(box);
}

Example ExampleMaker::finish(const cv::Mat &bgr_square, bool fake) const {
  return Example{to_model_colour_order(bgr_square, config_.model.color_order), fake};
}

const ImageEntry &ExampleMaker::pick_donor(const ImageEntry &real,
                                           const std::vector<ImageEntry> &donors, Rng &rng) const {
  if (donors.size() < 2) throw std::runtime_error("a cross-identity swap needs two faces or more");
  const FaceShape &face = shape(real);
  const ImageEntry *best = nullptr;
  double best_distance = 0.0;
  for (int i = 0; i < std::max(1, config_.swap.donor_candidates); ++i) {
    const ImageEntry &candidate =
        donors[static_cast<size_t>(uniform_int(rng, 0, static_cast<int>(donors.size()) - 1))];
    if (candidate.path == real.path) continue;
    const FaceShape &other = shape(candidate);
    // Landmarks fitted to a face no detector found are guesses: a donor with them would
    // warp garbage. They are taken only when nothing better was drawn.
    const double distance =
        pose_distance(face.points, other.points) + (other.detected ? 0.0 : kUndetectedDonorPenalty);
    if (!best || distance < best_distance) {
      best = &candidate;
      best_distance = distance;
    }
  }
  // Every draw was the real itself (a pool of two): take the other one.
  if (!best) best = donors[0].path == real.path ? &donors[1] : &donors[0];
  return *best;
}

ExampleMaker::PseudoFake ExampleMaker::make_pseudo_fake(const ImageEntry &real, FakeKind kind,
                                                        const std::vector<ImageEntry> &donors,
                                                        Rng &rng) const {
  const cv::Mat image = load(real);
  const FaceShape &face = shape(real);
  switch (kind) {
    case FakeKind::SelfBlend: {
      SelfBlended b = self_blend(image, face.points, config_.sbi, rng);
      return {std::move(b.target), std::move(b.fake), std::move(b.mask)};
    }
    case FakeKind::CrossSwap: {
      const ImageEntry &donor = pick_donor(real, donors, rng);
      SwapResult swap = cross_identity_swap(image, face.points, load(donor), shape(donor).points,
                                            config_.swap, config_.bottleneck, config_.sbi, rng);
      return {image, std::move(swap.fake), std::move(swap.mask)};
    }
    case FakeKind::LowResSwap: {
      SwapResult swap = low_resolution_swap(image, face.points, config_.lowres, config_.bottleneck,
                                            config_.sbi, rng);
      return {image, std::move(swap.fake), std::move(swap.mask)};
    }
    case FakeKind::Paired:
      break;
  }
  throw std::logic_error("make_pseudo_fake: a paired fake is not made from the real");
}

std::vector<Example> ExampleMaker::training_unit(const Unit &unit, uint64_t seed) const {
  Rng rng = make_rng(seed);
  const int size = config_.model.image_size;
  const auto margin = [&] {
    return config_.data.crop_margin + uniform(rng, 0.0, config_.data.crop_margin_jitter);
  };
  const auto single = [&](const ImageEntry &entry) {
    const cv::Mat image = load(entry);
    const FaceShape *face = config_.data.crop == CropMode::FaceBox ? &shape(entry) : nullptr;
    const cv::Mat cropped = face ? crop(image, *face, margin()) : image;
    const AugmentParams params = sample_augment(config_.augment, rng);
    return finish(apply_augment(cropped, params, size), entry.fake);
  };
  if (config_.data.sampling == Sampling::Images) {
    const ImageEntry &entry = unit.real >= 0 ? data_.train_real[static_cast<size_t>(unit.real)]
                                             : data_.train_fake[static_cast<size_t>(unit.fake)];
    return {single(entry)};
  }
  const ImageEntry &real = data_.train_real[static_cast<size_t>(unit.real)];
  if (unit.kind == FakeKind::Paired) {
    Example a = single(real);
    Example b = single(data_.train_fake[static_cast<size_t>(unit.fake)]);
    return {std::move(a), std::move(b)};
  }
  // The pair shares everything but the manipulation: one crop and one set of augmentations
  // (and for self-blending the real half is the recipe's target, jittered half of the time),
  // so nothing but the manipulation tells them apart.
  const PseudoFake made = make_pseudo_fake(real, unit.kind, data_.train_real, rng);
  const FaceShape &face = shape(real);
  const double m = margin();
  const AugmentParams params = sample_augment(config_.augment, rng);
  Example a = finish(apply_augment(crop(made.target, face, m), params, size), false);
  Example b = finish(apply_augment(crop(made.fake, face, m), params, size), true);
  return {std::move(a), std::move(b)};
}

Example ExampleMaker::validation(const ImageEntry &entry) const {
  const cv::Mat image = load(entry);
  const cv::Mat cropped = config_.data.crop == CropMode::FaceBox
                              ? crop(image, shape(entry), config_.data.crop_margin)
                              : image;
  return Example{make_model_input(cropped, config_.model).image, entry.fake};
}

Example ExampleMaker::validation_self_blend(const ImageEntry &real) const {
  return validation_pseudo_fake(real, FakeKind::SelfBlend);
}

Example ExampleMaker::validation_pseudo_fake(const ImageEntry &real, FakeKind kind,
                                             cv::Mat *mask) const {
  // Seeded by the file name alone: the same pseudo-fakes every epoch, every run and every
  // training seed, so validation figures stay comparable. (Self-blends keep the seed they
  // had before the other kinds existed.)
  Rng rng =
      make_rng(kind == FakeKind::SelfBlend
                   ? derive_seed(kValidationSalt, {fnv1a(real.name)})
                   : derive_seed(kValidationSalt, {fnv1a(real.name), static_cast<uint64_t>(kind)}));
  const PseudoFake made = make_pseudo_fake(real, kind, data_.val_real, rng);
  const bool by_face = config_.data.crop == CropMode::FaceBox;
  const cv::Rect box =
      by_face ? seed_square_box(shape(real).box, made.fake.size(), config_.data.crop_margin)
              : cv::Rect();
  const cv::Rect area = box.empty() ? cv::Rect(0, 0, made.fake.cols, made.fake.rows) : box;
  const ModelInput input = make_model_input(made.fake(area), config_.model);
  if (mask) {
    // The mask goes through the same crop, resize and padding as the pixels.
    *mask = cv::Mat::zeros(input.image.size(), CV_32F);
    cv::Mat resized;
    cv::resize(made.mask(area), resized, input.content.size(), 0, 0, cv::INTER_AREA);
    resized.copyTo((*mask)(input.content));
  }
  return Example{input.image, true};
}

}  // namespace dfd::training
