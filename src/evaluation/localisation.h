// Do the explanations point at the manipulation? For pseudo-fakes the blend mask says where
// the face was changed, so each relevancy map can be scored against it: the share of its mass
// on changed cells, and whether its top cell is a changed one. The same figures for plain
// attention rollout and for random maps say what the gradient-weighted relevancy adds.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "core/engine.h"

namespace dfd::eval {

struct LocalisationInput {
  std::string name;
  std::string kind;  // the pseudo-fake kind, for per-kind rows
  cv::Mat image;     // the model input: size x size CV_8UC3 in the model's colour order
  cv::Mat mask;      // CV_32FC1 of the same size: the blend weight in [0, 1]
};

// A map's figures averaged over images.
struct LocalisationRow {
  std::string kind;   // "all" or a pseudo-fake kind
  std::string order;  // "relevancy", "attention rollout" or "random"
  size_t images = 0;
  double mass_inside = 0.0;      // share of the map's mass on the mask (cell-averaged mask)
  double top_cell_inside = 0.0;  // share of images whose highest cell is mostly masked
};

struct LocalisationResult {
  int grid_width = 0, grid_height = 0;
  double mask_coverage = 0.0;  // mean share of cells' area under the mask
  std::vector<LocalisationRow> rows;
};

using RolloutMaps = std::function<std::vector<RelevancyGrid>(const uint8_t *images, size_t count)>;

// The mask averaged over each cell of a width x height grid laid over the input.
std::vector<double> cell_mask(const cv::Mat &mask, int width, int height);

// For one map and one cell mask: (mass inside, top cell inside ? 1 : 0). A cell is "inside"
// when at least half of it is masked. A map with no mass counts as all outside.
std::pair<double, double> localisation_of(const std::vector<float> &map,
                                          const std::vector<double> &cells);

// Throws std::invalid_argument for a model whose grid is not spatial (the seed's tokens are
// channel projections: its map has no place on the face).
LocalisationResult run_localisation(Engine &engine, const std::vector<LocalisationInput> &inputs,
                                    const RolloutMaps &rollout, int random_maps, uint64_t seed);

}  // namespace dfd::eval
