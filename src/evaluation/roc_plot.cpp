#include "roc_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace dfd::eval {

namespace {

// Tableau-like colours, distinguishable for the common colour-vision deficiencies.
const cv::Scalar kColours[] = {{180, 119, 31},  {14, 127, 255}, {44, 160, 44},   {40, 39, 214},
                               {189, 103, 148}, {75, 86, 140},  {194, 119, 227}, {127, 127, 127},
                               {34, 189, 188},  {207, 190, 23}};

}  // namespace

std::string legend_label(const RocSeries &series) {
  char buffer[32];
  if (std::isnan(series.auc)) {
    std::snprintf(buffer, sizeof buffer, "n/a");
  } else {
    std::snprintf(buffer, sizeof buffer, "%.3f", series.auc);
  }
  return series.name + " (AUC = " + buffer + ")";
}

cv::Mat render_roc(const std::vector<RocSeries> &series, int width, int height,
                   const std::string &title) {
  if (width < 200 || height < 150) {
    throw std::invalid_argument("an ROC figure needs at least 200 x 150 pixels");
  }
  if (series.empty()) throw std::invalid_argument("an ROC figure needs a curve");
  cv::Mat canvas(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  // Text scales with the figure so small test figures stay legible and large ones balanced.
  const double scale = std::clamp(std::min(width, height) / 1000.0, 0.35, 0.8);
  const int thin = 1;
  const int left = static_cast<int>(70 * scale / 0.64), right = 30;
  const int top = static_cast<int>(40 * scale / 0.64), bottom = static_cast<int>(60 * scale / 0.64);
  const cv::Rect plot(left, top, width - left - right, height - top - bottom);
  const auto to_pixel = [&](double fpr, double tpr) {
    return cv::Point(plot.x + static_cast<int>(std::lround(fpr * plot.width)),
                     plot.y + plot.height - static_cast<int>(std::lround(tpr * plot.height)));
  };

  for (int i = 0; i <= 10; ++i) {
    const double v = i / 10.0;
    cv::line(canvas, to_pixel(v, 0), to_pixel(v, 1), cv::Scalar(225, 225, 225), thin);
    cv::line(canvas, to_pixel(0, v), to_pixel(1, v), cv::Scalar(225, 225, 225), thin);
    char label[8];
    std::snprintf(label, sizeof label, "%.1f", v);
    int baseline = 0;
    const cv::Size size = cv::getTextSize(label, font, scale * 0.8, thin, &baseline);
    cv::putText(canvas, label, to_pixel(v, 0) + cv::Point(-size.width / 2, size.height + 8), font,
                scale * 0.8, cv::Scalar(60, 60, 60), thin, cv::LINE_AA);
    cv::putText(canvas, label, to_pixel(0, v) + cv::Point(-size.width - 8, size.height / 2), font,
                scale * 0.8, cv::Scalar(60, 60, 60), thin, cv::LINE_AA);
  }
  cv::line(canvas, to_pixel(0, 0), to_pixel(1, 1), cv::Scalar(150, 150, 150), thin, cv::LINE_AA);
  cv::rectangle(canvas, plot, cv::Scalar(0, 0, 0), thin);

  const auto centred = [&](const std::string &text, cv::Point centre, double size, int angle) {
    int baseline = 0;
    const cv::Size extent = cv::getTextSize(text, font, size, thin, &baseline);
    if (angle == 0) {
      cv::putText(canvas, text, centre - cv::Point(extent.width / 2, -extent.height / 2), font,
                  size, cv::Scalar(0, 0, 0), thin, cv::LINE_AA);
      return;
    }
    // OpenCV draws only horizontal text: draw it on a strip and rotate the strip.
    cv::Mat strip(extent.height + baseline + 4, extent.width + 4, CV_8UC3,
                  cv::Scalar(255, 255, 255));
    cv::putText(strip, text, cv::Point(2, extent.height + 2), font, size, cv::Scalar(0, 0, 0), thin,
                cv::LINE_AA);
    cv::Mat rotated;
    cv::rotate(strip, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
    cv::Rect where(centre.x - rotated.cols / 2, centre.y - rotated.rows / 2, rotated.cols,
                   rotated.rows);
    where &= cv::Rect(0, 0, canvas.cols, canvas.rows);
    rotated(cv::Rect(0, 0, where.width, where.height)).copyTo(canvas(where));
  };
  centred("False positive rate (real called fake)",
          cv::Point(plot.x + plot.width / 2, height - bottom / 3), scale, 0);
  centred("True positive rate (fake called fake)",
          cv::Point(left / 4 + 2, plot.y + plot.height / 2), scale, 90);
  centred(title, cv::Point(plot.x + plot.width / 2, top / 2), scale * 1.1, 0);

  for (size_t s = 0; s < series.size(); ++s) {
    const cv::Scalar colour = kColours[s % (sizeof kColours / sizeof kColours[0])];
    std::vector<cv::Point> points;
    for (const RocPoint &p : series[s].curve) points.push_back(to_pixel(p.fpr, p.tpr));
    if (points.size() >= 2) {
      cv::polylines(canvas, points, false, colour, 2, cv::LINE_AA);
    }
  }

  // Legend in the lower right, where a useful ROC curve leaves room.
  const double legend_scale = scale * 0.9;
  int line_height = 0, text_width = 0;
  for (const RocSeries &s : series) {
    int baseline = 0;
    const cv::Size size = cv::getTextSize(legend_label(s), font, legend_scale, thin, &baseline);
    line_height = std::max(line_height, size.height + baseline + 6);
    text_width = std::max(text_width, size.width);
  }
  const int swatch = 24;
  const cv::Size box(text_width + swatch + 24, line_height * static_cast<int>(series.size()) + 10);
  const cv::Point corner(std::max(plot.x + 4, plot.x + plot.width - box.width - 10),
                         std::max(plot.y + 4, plot.y + plot.height - box.height - 10));
  const cv::Rect legend(corner, box);
  cv::rectangle(canvas, legend, cv::Scalar(255, 255, 255), cv::FILLED);
  cv::rectangle(canvas, legend, cv::Scalar(120, 120, 120), thin);
  for (size_t s = 0; s < series.size(); ++s) {
    const cv::Scalar colour = kColours[s % (sizeof kColours / sizeof kColours[0])];
    const int y = corner.y + 5 + line_height * static_cast<int>(s) + line_height / 2;
    cv::line(canvas, {corner.x + 8, y}, {corner.x + 8 + swatch, y}, colour, 2, cv::LINE_AA);
    cv::putText(canvas, legend_label(series[s]), {corner.x + 16 + swatch, y + line_height / 4},
                font, legend_scale, cv::Scalar(0, 0, 0), thin, cv::LINE_AA);
  }
  return canvas;
}

void write_roc_png(const std::string &path, const std::vector<RocSeries> &series, int width,
                   int height, const std::string &title) {
  const cv::Mat figure = render_roc(series, width, height, title);
  bool written = false;
  try {
    written = cv::imwrite(path, figure);
  } catch (const cv::Exception &e) {
    throw std::runtime_error(path + ": cannot write the ROC figure: " + e.what());
  }
  if (!written) throw std::runtime_error(path + ": cannot write the ROC figure");
}

}  // namespace dfd::eval
