// Explanation faithfulness by deletion (Petsiuk et al.'s "deletion" metric): hide the model
// input's most relevant cells first and watch the fake logit. A map that points at what the
// model really uses makes the logit fall faster than a random order does, so a lower area
// under the fake-logit curve means a more faithful explanation.
//
// Cells: a spatial model's relevancy grid has one value per backbone feature cell, and cell
// (x, y) of a W x H grid is the square [x*S/W, (x+1)*S/W) x [y*S/H, (y+1)*S/H) of the S x S
// padded model input. The seed's 32x32 grid has no spatial meaning (its tokens are channel
// projections); there the test uses the map the seed displays instead, its 32x32 grid average
// pooled to 16x16 (spec section 4), laid over the input the same way, and says so: it then
// measures whether the displayed map is faithful, not what the tokens mean.
//
// Hidden cells are replaced with the per-channel mean colour of the whole model input
// (default), with zeros, or with a heavily blurred copy; see DeletionFill. In token space the
// cells' tokens are removed from the transformer's input instead (token_removal.h), and the
// cells are the relevancy grid's own, for the seed too.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "core/engine.h"
#include "core/model_config.h"

namespace dfd::eval {

enum class DeletionFill {
  Mean,  // the input's mean colour: removes the cell's content without adding edges of its own
  Zero,  // black, as the padding is
  Blur,  // Gaussian blur with sigma = size / 8: keeps colour, removes detail
};
const char *deletion_fill_name(DeletionFill fill);
DeletionFill parse_deletion_fill(const std::string &text);  // throws std::invalid_argument

enum class DeletionSpace {
  Pixels,  // hide the cells' pixels in the model input: backbone and transformer together
  Tokens,  // remove the cells' tokens from the transformer's input: what the map explains
};
const char *deletion_space_name(DeletionSpace space);

// The cells the test hides, row-major; see the header comment for their pixel squares.
struct DeletionGrid {
  int width = 0;
  int height = 0;
  std::vector<float> values;
};
DeletionGrid deletion_grid(const RelevancyGrid &grid, Architecture architecture,
                           DeletionSpace space = DeletionSpace::Pixels);

// Cell indices by decreasing value; equal values keep index order, so the order is the same
// on every machine.
std::vector<int> relevance_order(const std::vector<float> &values);
// A permutation of 0..cells-1 drawn from `seed` alone (Fisher-Yates on training/random.h's
// compiler-independent draws).
std::vector<int> random_order(int cells, uint64_t seed);
// How many cells are hidden at `step` of `steps`: round(step * cells / steps).
int cells_hidden_at(int step, int steps, int cells);
cv::Rect cell_rect(int cell, int grid_width, int grid_height, int image_size);

// The image hidden cells are copied from (same size and type as `input`, CV_8UC3).
cv::Mat deletion_fill_image(const cv::Mat &input, DeletionFill fill);
// `input` with the first `count` cells of `order` replaced by `fill`'s pixels.
cv::Mat hide_cells(const cv::Mat &input, const cv::Mat &fill, const std::vector<int> &order,
                   int count, int grid_width, int grid_height);

// Trapezoidal area under values sampled evenly on [0, 1] (the share of cells hidden).
double curve_area(const std::vector<double> &values);

struct DeletionOptions {
  int steps = 10;         // curve points after the unmasked one (capped at the cell count)
  int random_orders = 3;  // permutations averaged into the random curve
  uint64_t seed = 1;
  DeletionFill fill = DeletionFill::Mean;  // pixel space only
  DeletionSpace space = DeletionSpace::Pixels;
};

struct DeletionInput {
  std::string name;
  cv::Mat image;  // the model input: image_size x image_size CV_8UC3 in the model's colour order
};

struct DeletionCurve {
  std::string order;               // "relevancy", "attention-rollout", "random"
  std::vector<double> mean_logit;  // steps + 1 values, averaged over the images
  std::vector<double> mean_probability;
  double logit_area = 0.0;        // curve_area(mean_logit): lower = more faithful
  double probability_area = 0.0;  // curve_area(mean_probability), in [0, 1]
  double mean_logit_drop = 0.0;   // unmasked logit minus the mean of the masked steps
};

struct DeletionImage {
  std::string name;
  double logit = 0.0;              // unmasked
  std::vector<double> logit_area;  // per curve, in DeletionResult::curves order
};

struct DeletionResult {
  int grid_width = 0, grid_height = 0, steps = 0, random_orders = 0;
  DeletionFill fill = DeletionFill::Mean;
  DeletionSpace space = DeletionSpace::Pixels;
  bool spatially_grounded = true;
  std::string note;  // what the cells are, and which orders could not be computed and why
  std::vector<DeletionCurve> curves;
  std::vector<DeletionImage> images;
  // Share of images whose relevancy-order logit area is below their random-order area.
  double relevancy_beats_random = 0.0;
};

// Plain attention rollout for a batch (see attention_rollout.h), or an empty function when
// it is not available: the test then compares relevancy with random order only.
using RolloutFunction =
    std::function<std::vector<RelevancyGrid>(const uint8_t *images, size_t count)>;
// One image's fake logit with each set of grid cells' tokens removed (TokenRemoval): needed
// in token space.
using TokenLogitFunction = std::function<std::vector<double>(
    const uint8_t *image, const std::vector<std::vector<int>> &removed)>;

// Per image: one explained pass for the relevancy order and the unmasked logit, the rollout
// grid, then every order's masked variants: in pixel space in one batch through
// Engine::infer, in token space through `token_logits`. Throws std::invalid_argument for
// inputs of the wrong size or type, for no input, or for token space without `token_logits`.
DeletionResult run_deletion_test(Engine &engine, const std::vector<DeletionInput> &inputs,
                                 const DeletionOptions &options, const RolloutFunction &rollout,
                                 const TokenLogitFunction &token_logits = {});

// Averages per-image curves (each steps + 1 long) and fills in the areas: exposed so the
// area arithmetic can be tested without a model.
DeletionCurve summarise_curves(const std::string &order,
                               const std::vector<std::vector<double>> &logit_curves);

}  // namespace dfd::eval
