#include "examples.h"

#include <filesystem>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <stdexcept>
#include <utility>

#include "augment.h"
#include "imaging/preprocess.h"
#include "random.h"
#include "self_blend.h"

namespace dfd::training {

namespace {

// Salts keep the streams drawn from one seed apart.
constexpr uint64_t kPlanSalt = 0x706c616e;        // "plan"
constexpr uint64_t kValidationSalt = 0x76616c73;  // "vals"

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

std::vector<Unit> plan_epoch(const Dataset &data, const DataConfig &config, uint64_t seed,
                             int epoch) {
  Rng rng = make_rng(derive_seed(seed, {kPlanSalt, static_cast<uint64_t>(epoch)}));
  std::vector<Unit> units;
  if (config.sampling == Sampling::Images) {
    for (int i : iota(data.train_real.size())) units.push_back(Unit{i, -1, false});
    for (int i : iota(data.train_fake.size())) units.push_back(Unit{-1, i, false});
    shuffle(units, rng);
    return units;
  }
  std::vector<int> reals = iota(data.train_real.size());
  shuffle(reals, rng);
  // The fakes a real may be paired with, by group; each group is drawn without replacement
  // from its own reshuffled cycle.
  const auto group = [&](const std::string &folder) {
    return config.fake_partner == FakePartner::Any ? std::string() : parent_folder(folder);
  };
  struct Cycle {
    std::vector<int> members, order;
    size_t next = 0;
  };
  std::map<std::string, Cycle> cycles;
  for (int i : iota(data.train_fake.size())) {
    cycles[group(data.train_fake[static_cast<size_t>(i)].folder)].members.push_back(i);
  }
  for (int real : reals) {
    const auto it = cycles.find(group(data.train_real[static_cast<size_t>(real)].folder));
    // Reals with no fake to pair with always get their own self-blended fake.
    if (it == cycles.end() || chance(rng, config.sbi_fraction)) {
      units.push_back(Unit{real, -1, true});
      continue;
    }
    Cycle &cycle = it->second;
    if (cycle.next == cycle.order.size()) {
      cycle.order = cycle.members;
      shuffle(cycle.order, rng);
      cycle.next = 0;
    }
    units.push_back(Unit{real, cycle.order[cycle.next++], false});
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
  LandmarkCache cache;
  if (!cache_path.empty()) cache.load(cache_path);
  std::unique_ptr<Landmarker> landmarker;  // loaded only when something is missing
  FaceShapes shapes;
  size_t added = 0;
  for (size_t i = 0; i < needed.size(); ++i) {
    const ImageEntry &entry = *needed[i];
    std::error_code error;
    const uintmax_t bytes = std::filesystem::file_size(entry.path, error);
    if (error) throw std::runtime_error(entry.path + ": cannot stat: " + error.message());
    if (const FaceShape *cached = cache.find(entry.path, bytes)) {
      shapes[entry.path] = *cached;
      continue;
    }
    if (!landmarker) landmarker = std::make_unique<Landmarker>();
    const cv::Mat image = cv::imread(entry.path, cv::IMREAD_COLOR);
    if (image.empty()) throw std::runtime_error(entry.path + ": cannot decode the image");
    FaceShape shape = landmarker->find(image);
    cache.put(entry.path, bytes, shape);
    shapes[entry.path] = std::move(shape);
    ++added;
    // Saved as it goes, so an interrupted first run keeps what it has landmarked.
    if (!cache_path.empty() && added % 500 == 0) cache.save(cache_path);
    if (progress && (i + 1) % 500 == 0) progress(i + 1, needed.size());
  }
  if (!cache_path.empty() && added > 0) cache.save(cache_path);
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
  if (!unit.self_blend) {
    Example a = single(real);
    Example b = single(data_.train_fake[static_cast<size_t>(unit.fake)]);
    return {std::move(a), std::move(b)};
  }
  // The pair shares everything but the blend: one crop and one set of augmentations, and the
  // real half is the recipe's target (jittered half of the time), so nothing but the blend
  // tells them apart.
  const cv::Mat image = load(real);
  const FaceShape &face = shape(real);
  const SelfBlended blended = self_blend(image, face.points, config_.sbi, rng);
  const double m = margin();
  const AugmentParams params = sample_augment(config_.augment, rng);
  Example a = finish(apply_augment(crop(blended.target, face, m), params, size), false);
  Example b = finish(apply_augment(crop(blended.fake, face, m), params, size), true);
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
  // Seeded by the file name alone: the same pseudo-fakes every epoch, every run and every
  // training seed, so validation figures stay comparable.
  Rng rng = make_rng(derive_seed(kValidationSalt, {fnv1a(real.name)}));
  const cv::Mat image = load(real);
  const FaceShape &face = shape(real);
  const SelfBlended blended = self_blend(image, face.points, config_.sbi, rng);
  const cv::Mat cropped = config_.data.crop == CropMode::FaceBox
                              ? crop(blended.fake, face, config_.data.crop_margin)
                              : blended.fake;
  return Example{make_model_input(cropped, config_.model).image, true};
}

}  // namespace dfd::training
