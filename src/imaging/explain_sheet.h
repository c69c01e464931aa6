// The seed's explanation sheet (explain_model.py, "vis_norm<file>"): a 640x480 image with a
// five-line title over two panels, the face crop and its relevancy overlay.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace dfd {

constexpr int kSheetWidth = 640;  // matplotlib's default 6.4 x 4.8 inch figure at 100 dpi
constexpr int kSheetHeight = 480;

struct SheetText {
  std::string label;        // "Fake Image" or "True Image"; empty when unknown
  std::string method;       // see seed_method_name()
  std::string video_score;  // the CSV's video_prob text; empty when unknown
  double frame_probability = 0.0;
  std::string classification;  // "TP", "FP", "TN" or "FN"; empty when the label is unknown
};

// The seed's five title lines, spacing included ("Label:          Fake Image", ...). Scores
// are the first five characters of Python's str(): the CSV text for the video score, the
// repr of the float for the frame score ("0.930", or "1.234" for 1.2345e-05, as the seed).
// Unknown fields read "n/a".
std::vector<std::string> seed_title_lines(const SheetText &text);

// The seed's "method": the file name up to its first '_' (all of it when there is none).
std::string seed_method_name(const std::string &file_name);

// Python's repr()/str() of a float: shortest round-trip digits, positional notation for
// exponents -5 < e < 16, otherwise "1.5e-05" style.
std::string python_float_repr(double value);

// White kSheetWidth x kSheetHeight BGR sheet: the title lines at the top (label and value in
// two aligned columns, split at the first run of two or more spaces), the crop and the overlay
// below, each scaled to fit its panel with its aspect ratio kept. Both images are BGR CV_8UC3.
cv::Mat render_explain_sheet(const std::vector<std::string> &title_lines, const cv::Mat &crop_bgr,
                             const cv::Mat &overlay_bgr);

}  // namespace dfd
