#include "localisation.h"

#include <algorithm>
#include <map>
#include <opencv2/imgproc.hpp>
#include <random>
#include <stdexcept>

namespace dfd::eval {

std::vector<double> cell_mask(const cv::Mat &mask, int width, int height) {
  std::vector<double> cells;
  cells.reserve(static_cast<size_t>(width) * static_cast<size_t>(height));
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const cv::Rect cell(x * mask.cols / width, y * mask.rows / height,
                          (x + 1) * mask.cols / width - x * mask.cols / width,
                          (y + 1) * mask.rows / height - y * mask.rows / height);
      cells.push_back(cv::mean(mask(cell))[0]);
    }
  }
  return cells;
}

std::pair<double, double> localisation_of(const std::vector<float> &map,
                                          const std::vector<double> &cells) {
  if (map.size() != cells.size() || map.empty()) {
    throw std::invalid_argument("localisation: the map and the mask grid differ in size");
  }
  double total = 0.0, inside = 0.0;
  for (size_t i = 0; i < map.size(); ++i) {
    const double v = std::max(0.0f, map[i]);
    total += v;
    inside += v * cells[i];
  }
  const size_t top = static_cast<size_t>(std::max_element(map.begin(), map.end()) - map.begin());
  return {total > 0.0 ? inside / total : 0.0, cells[top] >= 0.5 ? 1.0 : 0.0};
}

LocalisationResult run_localisation(Engine &engine, const std::vector<LocalisationInput> &inputs,
                                    const RolloutMaps &rollout, int random_maps, uint64_t seed) {
  if (engine.config().architecture != Architecture::Spatial) {
    throw std::invalid_argument(
        "localisation needs a spatial model: the seed architecture's relevancy grid has no "
        "place on the face");
  }
  LocalisationResult result;
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  // (kind, order) -> sums; "all" gathers every kind.
  std::map<std::pair<std::string, std::string>, LocalisationRow> sums;
  const auto add = [&](const std::string &kind, const std::string &order,
                       std::pair<double, double> figures) {
    for (const std::string &k : {std::string("all"), kind}) {
      LocalisationRow &row = sums[{k, order}];
      row.kind = k;
      row.order = order;
      ++row.images;
      row.mass_inside += figures.first;
      row.top_cell_inside += figures.second;
    }
  };
  double coverage = 0.0;
  for (const LocalisationInput &input : inputs) {
    const Prediction explained = engine.infer(input.image.data, 1, true).front();
    const RelevancyGrid &grid = explained.relevancy;
    result.grid_width = grid.width;
    result.grid_height = grid.height;
    const std::vector<double> cells = cell_mask(input.mask, grid.width, grid.height);
    for (const double c : cells) coverage += c / static_cast<double>(cells.size());
    add(input.kind, "relevancy", localisation_of(grid.values, cells));
    if (rollout) {
      const std::vector<RelevancyGrid> maps = rollout(input.image.data, 1);
      add(input.kind, "attention rollout", localisation_of(maps.front().values, cells));
    }
    std::pair<double, double> random{0.0, 0.0};
    for (int r = 0; r < random_maps; ++r) {
      std::vector<float> map(cells.size());
      for (float &v : map) v = uniform(rng);
      const auto figures = localisation_of(map, cells);
      random.first += figures.first / random_maps;
      random.second += figures.second / random_maps;
    }
    if (random_maps > 0) add(input.kind, "random", random);
  }
  result.mask_coverage = inputs.empty() ? 0.0 : coverage / static_cast<double>(inputs.size());
  for (auto &[key, row] : sums) {
    row.mass_inside /= static_cast<double>(row.images);
    row.top_cell_inside /= static_cast<double>(row.images);
    result.rows.push_back(row);
  }
  return result;
}

}  // namespace dfd::eval
