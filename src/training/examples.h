// From image files to the network's input: which files an epoch visits and in what order, and
// how each becomes a model-sized image (self-blending, cropping, augmentation). Every example
// is a pure function of its file and its seed, so batches can be built on another thread, a
// resumed run rebuilds exactly the batches it skipped, and validation is the same every epoch.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "dataset.h"
#include "landmarks.h"
#include "train_config.h"

namespace dfd::training {

struct Example {
  cv::Mat image;  // image_size x image_size CV_8UC3, in the model's colour order
  bool fake = false;
};

// One step of an epoch's plan. Pairs: `real` with either its own self-blended fake or the
// training fake `fake`. Images: exactly one of `real` and `fake`.
struct Unit {
  int real = -1;
  int fake = -1;
  bool self_blend = false;
};

// Deterministic in (seed, epoch). Pairs: each training real once, in a shuffled order; the
// real fakes are drawn without replacement from a reshuffled cycle (one per parent folder with
// fake_partner "same-parent"). Images: every training image once.
std::vector<Unit> plan_epoch(const Dataset &data, const DataConfig &config, uint64_t seed,
                             int epoch);

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

  // Pieces exposed for tests and tools.
  cv::Mat load(const ImageEntry &entry) const;
  const FaceShape &shape(const ImageEntry &entry) const;

 private:
  cv::Mat crop(const cv::Mat &image, const FaceShape &shape, double margin) const;
  Example finish(const cv::Mat &bgr_square, bool fake) const;

  const TrainConfig &config_;
  const Dataset &data_;
  const FaceShapes &shapes_;
};

}  // namespace dfd::training
