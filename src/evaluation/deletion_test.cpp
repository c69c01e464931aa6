#include "deletion_test.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

#include "core/heatmap.h"
#include "training/random.h"

namespace dfd::eval {

namespace {

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

constexpr uint64_t kRandomOrderSalt = 0x64656c65;  // "dele"

}  // namespace

const char *deletion_fill_name(DeletionFill fill) {
  switch (fill) {
    case DeletionFill::Mean:
      return "mean";
    case DeletionFill::Zero:
      return "zero";
    case DeletionFill::Blur:
      return "blur";
  }
  return "?";
}

DeletionFill parse_deletion_fill(const std::string &text) {
  for (const DeletionFill fill : {DeletionFill::Mean, DeletionFill::Zero, DeletionFill::Blur}) {
    if (text == deletion_fill_name(fill)) return fill;
  }
  throw std::invalid_argument("deletion fill must be mean, zero or blur, got '" + text + "'");
}

const char *deletion_space_name(DeletionSpace space) {
  return space == DeletionSpace::Tokens ? "tokens" : "pixels";
}

DeletionGrid deletion_grid(const RelevancyGrid &grid, Architecture architecture,
                           DeletionSpace space) {
  FloatMap map{grid.width, grid.height, grid.values};
  if (architecture == Architecture::Seed && space == DeletionSpace::Pixels) {
    map = average_pool(map, 2);
  }
  return DeletionGrid{map.width, map.height, std::move(map.values)};
}

std::vector<int> relevance_order(const std::vector<float> &values) {
  std::vector<int> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return values[static_cast<size_t>(a)] > values[static_cast<size_t>(b)];
  });
  return order;
}

std::vector<int> random_order(int cells, uint64_t seed) {
  std::vector<int> order(static_cast<size_t>(std::max(cells, 0)));
  std::iota(order.begin(), order.end(), 0);
  training::Rng rng = training::make_rng(seed);
  for (int i = cells - 1; i > 0; --i) {
    std::swap(order[static_cast<size_t>(i)],
              order[static_cast<size_t>(training::uniform_int(rng, 0, i))]);
  }
  return order;
}

int cells_hidden_at(int step, int steps, int cells) {
  if (steps <= 0) return 0;
  return static_cast<int>(std::lround(static_cast<double>(step) * cells / steps));
}

cv::Rect cell_rect(int cell, int grid_width, int grid_height, int image_size) {
  const int x = cell % grid_width, y = cell / grid_width;
  const int x0 = x * image_size / grid_width, x1 = (x + 1) * image_size / grid_width;
  const int y0 = y * image_size / grid_height, y1 = (y + 1) * image_size / grid_height;
  return cv::Rect(x0, y0, x1 - x0, y1 - y0);
}

cv::Mat deletion_fill_image(const cv::Mat &input, DeletionFill fill) {
  switch (fill) {
    case DeletionFill::Mean:
      return cv::Mat(input.size(), input.type(), cv::mean(input));
    case DeletionFill::Zero:
      return cv::Mat::zeros(input.size(), input.type());
    case DeletionFill::Blur: {
      cv::Mat blurred;
      const double sigma = std::max(1.0, input.cols / 8.0);
      cv::GaussianBlur(input, blurred, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT);
      return blurred;
    }
  }
  return input.clone();
}

cv::Mat hide_cells(const cv::Mat &input, const cv::Mat &fill, const std::vector<int> &order,
                   int count, int grid_width, int grid_height) {
  cv::Mat out = input.clone();
  const int n = std::min(count, static_cast<int>(order.size()));
  for (int i = 0; i < n; ++i) {
    const cv::Rect r =
        cell_rect(order[static_cast<size_t>(i)], grid_width, grid_height, input.cols);
    fill(r).copyTo(out(r));
  }
  return out;
}

double curve_area(const std::vector<double> &values) {
  if (values.size() < 2) return values.empty() ? 0.0 : values[0];
  double area = 0.0;
  for (size_t i = 1; i < values.size(); ++i) area += (values[i - 1] + values[i]) / 2.0;
  return area / static_cast<double>(values.size() - 1);
}

DeletionCurve summarise_curves(const std::string &order,
                               const std::vector<std::vector<double>> &logit_curves) {
  DeletionCurve curve;
  curve.order = order;
  if (logit_curves.empty()) return curve;
  const size_t points = logit_curves.front().size();
  curve.mean_logit.assign(points, 0.0);
  curve.mean_probability.assign(points, 0.0);
  for (const std::vector<double> &c : logit_curves) {
    if (c.size() != points) throw std::invalid_argument("deletion curves differ in length");
    for (size_t k = 0; k < points; ++k) {
      curve.mean_logit[k] += c[k];
      curve.mean_probability[k] += sigmoid(c[k]);
    }
  }
  const double n = static_cast<double>(logit_curves.size());
  for (size_t k = 0; k < points; ++k) {
    curve.mean_logit[k] /= n;
    curve.mean_probability[k] /= n;
  }
  curve.logit_area = curve_area(curve.mean_logit);
  curve.probability_area = curve_area(curve.mean_probability);
  if (points > 1) {
    double masked = 0.0;
    for (size_t k = 1; k < points; ++k) masked += curve.mean_logit[k];
    curve.mean_logit_drop = curve.mean_logit[0] - masked / static_cast<double>(points - 1);
  }
  return curve;
}

DeletionResult run_deletion_test(Engine &engine, const std::vector<DeletionInput> &inputs,
                                 const DeletionOptions &options, const RolloutFunction &rollout,
                                 const TokenLogitFunction &token_logits) {
  if (inputs.empty()) throw std::invalid_argument("the deletion test needs an image");
  const bool tokens = options.space == DeletionSpace::Tokens;
  if (tokens && !token_logits) {
    throw std::invalid_argument("the token-space deletion test needs a token scorer");
  }
  const ModelConfig &config = engine.config();
  const int size = config.image_size;
  for (const DeletionInput &input : inputs) {
    if (input.image.type() != CV_8UC3 || input.image.rows != size || input.image.cols != size) {
      throw std::invalid_argument(input.name + ": the deletion test needs " + std::to_string(size) +
                                  "x" + std::to_string(size) + " CV_8UC3 model inputs");
    }
  }
  DeletionResult result;
  result.fill = options.fill;
  result.space = options.space;
  result.random_orders = std::max(1, options.random_orders);
  result.spatially_grounded = config.architecture == Architecture::Spatial;
  if (tokens) {
    result.note = "cells are the transformer's input tokens, removed from its input";
  } else {
    result.note = result.spatially_grounded
                      ? "cells are the spatial model's feature cells (" +
                            std::to_string(size / config.grid_width()) +
                            " px squares of the input), hidden in the input"
                      : "seed architecture: its relevancy grid has no spatial meaning; cells are "
                        "the displayed map's 16x16 average-pooled grid laid over the input, so "
                        "this measures the displayed map, not the tokens";
  }
  if (!rollout) {
    result.note += "; attention-rollout order not computed (no rollout given: --no-rollout)";
  }

  std::vector<std::string> names{"relevancy"};
  if (rollout) names.push_back("attention-rollout");
  names.push_back("random");
  std::vector<std::vector<std::vector<double>>> curves(names.size());
  const size_t face_bytes = static_cast<size_t>(size) * size * 3;

  for (size_t index = 0; index < inputs.size(); ++index) {
    const cv::Mat image =
        inputs[index].image.isContinuous() ? inputs[index].image : inputs[index].image.clone();
    const Prediction explained = engine.infer(image.data, 1, true).front();
    const DeletionGrid grid =
        deletion_grid(explained.relevancy, config.architecture, options.space);
    const int cells = grid.width * grid.height;
    const int steps = std::clamp(options.steps, 1, std::max(cells, 1));
    result.grid_width = grid.width;
    result.grid_height = grid.height;
    result.steps = steps;

    std::vector<std::vector<int>> orders{relevance_order(grid.values)};
    if (rollout) {
      const std::vector<RelevancyGrid> maps = rollout(image.data, 1);
      orders.push_back(
          relevance_order(deletion_grid(maps.at(0), config.architecture, options.space).values));
    }
    for (int r = 0; r < result.random_orders; ++r) {
      orders.push_back(random_order(
          cells, training::derive_seed(options.seed,
                                       {kRandomOrderSalt, index, static_cast<uint64_t>(r)})));
    }

    // Every order's masked variants, steps per order, order after order.
    std::vector<double> scored;
    if (tokens) {
      std::vector<std::vector<int>> removed;
      for (const std::vector<int> &order : orders) {
        for (int step = 1; step <= steps; ++step) {
          const auto end = order.begin() + cells_hidden_at(step, steps, cells);
          removed.emplace_back(order.begin(), end);
        }
      }
      scored = token_logits(image.data, removed);
    } else {
      const cv::Mat fill = deletion_fill_image(image, options.fill);
      std::vector<uint8_t> batch;
      batch.reserve(orders.size() * static_cast<size_t>(steps) * face_bytes);
      for (const std::vector<int> &order : orders) {
        for (int step = 1; step <= steps; ++step) {
          const cv::Mat masked = hide_cells(image, fill, order, cells_hidden_at(step, steps, cells),
                                            grid.width, grid.height);
          batch.insert(batch.end(), masked.data, masked.data + face_bytes);
        }
      }
      for (const Prediction &p :
           engine.infer(batch.data(), orders.size() * static_cast<size_t>(steps), false)) {
        scored.push_back(p.logit);
      }
    }
    if (scored.size() != orders.size() * static_cast<size_t>(steps)) {
      throw std::runtime_error(
          "deletion test: scorer returned " + std::to_string(scored.size()) + " logits for " +
          std::to_string(orders.size() * static_cast<size_t>(steps)) + " variants");
    }
    const auto curve_of = [&](size_t order) {
      std::vector<double> curve{explained.logit};
      for (int step = 0; step < steps; ++step) {
        curve.push_back(scored[order * static_cast<size_t>(steps) + static_cast<size_t>(step)]);
      }
      return curve;
    };
    DeletionImage record{inputs[index].name, explained.logit, {}};
    const size_t fixed_orders = names.size() - 1;  // every order but random
    for (size_t o = 0; o < fixed_orders; ++o) {
      curves[o].push_back(curve_of(o));
      record.logit_area.push_back(curve_area(curves[o].back()));
    }
    std::vector<double> random_mean(static_cast<size_t>(steps) + 1, 0.0);
    for (int r = 0; r < result.random_orders; ++r) {
      const std::vector<double> c = curve_of(fixed_orders + static_cast<size_t>(r));
      for (size_t k = 0; k < c.size(); ++k) random_mean[k] += c[k] / result.random_orders;
    }
    curves.back().push_back(random_mean);
    record.logit_area.push_back(curve_area(random_mean));
    result.images.push_back(std::move(record));
  }

  for (size_t o = 0; o < names.size(); ++o) {
    result.curves.push_back(summarise_curves(names[o], curves[o]));
  }
  size_t wins = 0;
  for (const DeletionImage &image : result.images) {
    wins += image.logit_area.front() < image.logit_area.back() ? 1 : 0;
  }
  result.relevancy_beats_random =
      static_cast<double>(wins) / static_cast<double>(result.images.size());
  return result;
}

}  // namespace dfd::eval
