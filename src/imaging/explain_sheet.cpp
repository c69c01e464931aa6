#include "explain_sheet.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include <opencv2/imgproc.hpp>

namespace dfd {

namespace {

std::string first_five(const std::string &text) {
  return text.substr(0, 5);
}

std::string or_na(const std::string &text) {
  return text.empty() ? "n/a" : text;
}

// Layout, in pixels. The seed's matplotlib figure puts the title near the top and two
// 225-pixel axes below it; these keep that arrangement with a little more room for the images.
constexpr int kTitleTop = 14;
constexpr int kLineHeight = 20;
constexpr int kColumnGap = 10;
constexpr int kPanelTop = 128;
constexpr int kPanelSize = 288;
constexpr int kPanelGap = (kSheetWidth - 2 * kPanelSize) / 3;
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr double kFontScale = 0.5;
constexpr int kThickness = 1;

struct TitleLine {
  std::string key;
  std::string value;
};

TitleLine split_title_line(const std::string &line) {
  const size_t run = line.find("  ");
  if (run == std::string::npos) return {line, {}};
  const size_t value = line.find_first_not_of(' ', run);
  return {line.substr(0, run), value == std::string::npos ? std::string() : line.substr(value)};
}

int text_width(const std::string &text) {
  int baseline = 0;
  return cv::getTextSize(text, kFont, kFontScale, kThickness, &baseline).width;
}

void draw_panel(cv::Mat &sheet, const cv::Mat &image, int left) {
  if (image.empty() || image.type() != CV_8UC3) {
    throw std::invalid_argument("render_explain_sheet: panels must be non-empty BGR images");
  }
  const double scale = std::min(static_cast<double>(kPanelSize) / image.cols,
                                static_cast<double>(kPanelSize) / image.rows);
  const cv::Size size(std::max(1, static_cast<int>(std::lround(image.cols * scale))),
                      std::max(1, static_cast<int>(std::lround(image.rows * scale))));
  cv::Mat scaled;
  cv::resize(image, scaled, size, 0.0, 0.0, scale < 1.0 ? cv::INTER_AREA : cv::INTER_CUBIC);
  const cv::Rect where(left + (kPanelSize - size.width) / 2,
                       kPanelTop + (kPanelSize - size.height) / 2, size.width, size.height);
  scaled.copyTo(sheet(where));
}

}  // namespace

std::string python_float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  char buffer[64];
  const auto result =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  // Shortest round-trip digits as d.ddde±XX: split into sign, digits and exponent.
  std::string_view text(buffer, static_cast<size_t>(result.ptr - buffer));
  std::string sign;
  if (!text.empty() && text.front() == '-') {
    sign = "-";
    text.remove_prefix(1);
  }
  const size_t e = text.find('e');
  std::string digits;
  for (char c : text.substr(0, e)) {
    if (c != '.') digits += c;
  }
  const int exponent = std::atoi(std::string(text.substr(e + 1)).c_str());
  const int n = static_cast<int>(digits.size());
  // CPython's float_repr_style 'short': positional while -4 < decpt <= 16, decpt = exponent + 1.
  const int decpt = exponent + 1;
  if (decpt <= -4 || decpt > 16) {
    std::string mantissa = digits.substr(0, 1);
    if (n > 1) mantissa += "." + digits.substr(1);
    const int magnitude = std::abs(exponent);
    return sign + mantissa + (exponent < 0 ? "e-" : "e+") + (magnitude < 10 ? "0" : "") +
           std::to_string(magnitude);
  }
  if (decpt <= 0) return sign + "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
  if (decpt < n)
    return sign + digits.substr(0, static_cast<size_t>(decpt)) + "." +
           digits.substr(static_cast<size_t>(decpt));
  return sign + digits + std::string(static_cast<size_t>(decpt - n), '0') + ".0";
}

std::string seed_method_name(const std::string &file_name) {
  return file_name.substr(0, file_name.find('_'));
}

std::vector<std::string> seed_title_lines(const SheetText &text) {
  return {
      "Label:          " + or_na(text.label),
      "Method:        " + or_na(text.method),
      "Video Pred Score:   " + or_na(first_five(text.video_score)),
      "Frame Pred Score:  " + first_five(python_float_repr(text.frame_probability)),
      "Classification:           " + or_na(text.classification),
  };
}

cv::Mat render_explain_sheet(const std::vector<std::string> &title_lines, const cv::Mat &crop_bgr,
                             const cv::Mat &overlay_bgr) {
  cv::Mat sheet(kSheetHeight, kSheetWidth, CV_8UC3, cv::Scalar::all(255));

  std::vector<TitleLine> lines;
  int key_width = 0;
  int value_width = 0;
  for (const std::string &line : title_lines) {
    lines.push_back(split_title_line(line));
    key_width = std::max(key_width, text_width(lines.back().key));
    value_width = std::max(value_width, text_width(lines.back().value));
  }
  // The block is centred as a whole so the two columns stay aligned.
  const int block_width = key_width + kColumnGap + value_width;
  const int left = std::max(4, (kSheetWidth - block_width) / 2);
  int baseline = kTitleTop + kLineHeight - 6;
  const cv::Scalar black(0, 0, 0);
  for (const TitleLine &line : lines) {
    cv::putText(sheet, line.key, {left, baseline}, kFont, kFontScale, black, kThickness,
                cv::LINE_AA);
    cv::putText(sheet, line.value, {left + key_width + kColumnGap, baseline}, kFont, kFontScale,
                black, kThickness, cv::LINE_AA);
    baseline += kLineHeight;
  }

  draw_panel(sheet, crop_bgr, kPanelGap);
  draw_panel(sheet, overlay_bgr, 2 * kPanelGap + kPanelSize);
  return sheet;
}

}  // namespace dfd
