// The ROC curve figure: drawn with OpenCV alone, so the tool needs no plotting library.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "metrics.h"

namespace dfd::eval {

struct RocSeries {
  std::string name;  // the legend shows "name (AUC = 0.xxx)"
  std::vector<RocPoint> curve;
  double auc = 0.0;
};

// A white width x height BGR figure: axes with ticks at 0.1, a light grid, the chance
// diagonal, one coloured curve per series and a legend. Throws std::invalid_argument when the
// size is below 200 x 150 (no room for the axes) or there is no series.
cv::Mat render_roc(const std::vector<RocSeries> &series, int width = 800, int height = 640,
                   const std::string &title = "ROC");

// render_roc() written as PNG; throws std::runtime_error when the file cannot be written.
void write_roc_png(const std::string &path, const std::vector<RocSeries> &series, int width = 800,
                   int height = 640, const std::string &title = "ROC");

// "name (AUC = 0.912)", as the legend prints it.
std::string legend_label(const RocSeries &series);

}  // namespace dfd::eval
