// From image files to the network's input: which files an epoch visits and in what order, and
// how each becomes a model-sized image (self-blending, cropping, augmentation). Every example
// is a pure function of its file and its seed, so batches can be built on another thread, a
// resumed run rebuilds exactly the batches it skipped, and validation is the same every epoch.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "dataset.h"
#include "landmarks.h"
#include "random.h"
#include "train_config.h"

namespace dfd::training {

struct Example {
  cv::Mat image;  // image_size x image_size CV_8UC3, in the model's colour order
  bool fake = false;
};

// One step of an epoch's plan. Pairs: `real` with the training fake `fake` (kind Paired) or
// with a pseudo-fake made from it (the other kinds). Images: exactly one of `real` and `fake`.
struct Unit {
  int real = -1;
  int fake = -1;
  FakeKind kind = FakeKind::Paired;
};

// How often each FakeKind partners a real: data.fake_kinds, or for configs without it,
// paired 1 - sbi_fraction and self-blended sbi_fraction.
std::array<double, kFakeKindCount> fake_kind_weights(const DataConfig &config);

// Deterministic in (seed, epoch). Pairs: without source_weights, each training real once in a
// shuffled order; with them, units_per_epoch reals, each from a source drawn by weight and
// taken from that source's reshuffled cycle. Each real's fake kind is drawn by
// fake_kind_weights among the kinds it can have; real fakes are drawn without replacement from
// a reshuffled cycle (one per source with fake_partner "same-parent" or "same-name", which
// first takes the fake of the real's own name). Images: every training image once.
std::vector<Unit> plan_epoch(const Dataset &data, const DataConfig &config, uint64_t seed,
                             int epoch);

// The number of units plan_epoch gives per epoch.
size_t units_per_epoch(const Dataset &data, const DataConfig &config);

// The folder holding `folder` ("x/yonsei/real" and "x/yonsei/real/" -> "x/yonsei").
std::string parent_folder(const std::string &folder);

int units_per_batch(const TrainConfig &config);
int examples_per_unit(const TrainConfig &config);

using FaceShapes = std::map<std::string, FaceShape>;  // by image path

// Landmarks (and face boxes) for every image the run needs: all reals (self-blending), and the
// fakes too when cropping by face box. Reuses and extends the cache file when one is given.
// `progress(done, total)` is called now and then.
FaceShapes find_face_shapes(const Dataset &data, const TrainConfig &config,
                            const std::string &cache_path,
                            const std::function<void(size_t, size_t)> &progress);

class ExampleMaker {
 public:
  ExampleMaker(const TrainConfig &config, const Dataset &data, const FaceShapes &shapes);

  // One unit's examples: a pair (real first) or a single image.
  std::vector<Example> training_unit(const Unit &unit, uint64_t seed) const;
  // The inference preprocessing exactly: crop by the face box at the configured margin, then
  // isotropic resize and padding. No randomness.
  Example validation(const ImageEntry &entry) const;
  // The real's self-blended fake with a seed fixed by its file name, then as validation().
  Example validation_self_blend(const ImageEntry &real) const;
  // The same for the other pseudo-fakes (SelfBlend, CrossSwap or LowResSwap); a cross swap
  // takes its donor among the validation reals. `mask`, when given, receives the blend mask
  // in the model input's pixels (CV_32FC1): where the manipulation is.
  Example validation_pseudo_fake(const ImageEntry &real, FakeKind kind,
                                 cv::Mat *mask = nullptr) const;

  // Pieces exposed for tests and tools.
  cv::Mat load(const ImageEntry &entry) const;
  const FaceShape &shape(const ImageEntry &entry) const;

 private:
  struct PseudoFake {
    cv::Mat target;  // the real as the fake was made on it (self-blending may jitter it)
    cv::Mat fake;
    cv::Mat mask;  // CV_32FC1 blend weight, image pixels
  };
  PseudoFake make_pseudo_fake(const ImageEntry &real, FakeKind kind,
                              const std::vector<ImageEntry> &donors, Rng &rng) const;
  // The most similar pose among donor_candidates random faces from `donors` other than
  // `real` itself.
  const ImageEntry &pick_donor(const ImageEntry &real, const std::vector<ImageEntry> &donors,
                               Rng &rng) const;
  cv::Mat crop(const cv::Mat &image, const FaceShape &shape, double margin) const;
  Example finish(const cv::Mat &bgr_square, bool fake) const;

  const TrainConfig &config_;
  const Dataset &data_;
  const FaceShapes &shapes_;
};

}  // namespace dfd::training
