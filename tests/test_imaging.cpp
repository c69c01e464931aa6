// Preprocessing, relevancy maps, overlays and the explanation sheet against hand-computed
// values and the seed's rules; plus the explain tool's CSV and metrics helpers.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "core/heatmap.h"
#include "imaging/explain_sheet.h"
#include "imaging/overlay.h"
#include "imaging/preprocess.h"
#include "tools/classification_metrics.h"
#include "tools/command_line.h"
#include "tools/seed_csv.h"

// Last: check.h defines a fail() macro that breaks the standard headers.
#include <check.h>

namespace {

dfd::FloatMap make_map(int width, int height, std::vector<float> values) {
  dfd::FloatMap map;
  map.width = width;
  map.height = height;
  map.values = std::move(values);
  return map;
}

// A deterministic, non-trivial image: gradients in each channel.
cv::Mat gradient_image(int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      image.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uint8_t>((x * 7 + y) % 256), static_cast<uint8_t>((y * 5) % 256),
                    static_cast<uint8_t>((x * y) % 256));
    }
  }
  return image;
}

bool mats_equal(const cv::Mat &a, const cv::Mat &b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0.0;
}

dfd::RelevancyGrid ramp_grid(int width, int height) {
  dfd::RelevancyGrid grid;
  grid.width = width;
  grid.height = height;
  for (int i = 0; i < width * height; ++i) {
    grid.values.push_back(static_cast<float>((i * 37) % 101) / 100.f);
  }
  return grid;
}

}  // namespace

// ---- seed_square_box -----------------------------------------------------------------------

START_TEST(test_square_box_pads_short_side) {
  // Wide box 100x60 at (50, 80): p_h = (100 - 60) / 2 = 20 rows above and below.
  ck_assert(dfd::seed_square_box({50, 80, 100, 60}, {640, 480}) == cv::Rect(50, 60, 100, 100));
  // Tall box 60x100 at (200, 100): p_w = 20 columns each side.
  ck_assert(dfd::seed_square_box({200, 100, 60, 100}, {640, 480}) == cv::Rect(180, 100, 100, 100));
  // Odd difference: int(41 / 2) = 20, so the result is one pixel short of square, as the seed.
  ck_assert(dfd::seed_square_box({100, 100, 100, 59}, {640, 480}) == cv::Rect(100, 80, 100, 99));
  // Already square: unchanged.
  ck_assert(dfd::seed_square_box({10, 20, 50, 50}, {640, 480}) == cv::Rect(10, 20, 50, 50));
}
END_TEST

START_TEST(test_square_box_clamps_and_margin) {
  // Wide box near the top-left corner: y0 = 5 - 20 clamps to 0; the width stays.
  ck_assert(dfd::seed_square_box({0, 5, 100, 60}, {640, 480}) == cv::Rect(0, 0, 100, 85));
  // Tall box at the right edge: x1 = 600 + 60 + 20 = 680 clamps to 640.
  ck_assert(dfd::seed_square_box({600, 300, 60, 100}, {640, 480}) == cv::Rect(580, 300, 60, 100));
  // Negative detector coordinates (MTCNN gives them) clamp like the seed's max(., 0).
  ck_assert(dfd::seed_square_box({-10, -4, 40, 40}, {640, 480}) == cv::Rect(0, 0, 30, 36));
  // Margin 0.1 of the long side (100) adds 10 on every side.
  ck_assert(dfd::seed_square_box({50, 80, 100, 60}, {640, 480}, 0.1) == cv::Rect(40, 50, 120, 120));
  // Margin truncates: int(0.15 * 50) = 7.
  ck_assert(dfd::seed_square_box({100, 100, 50, 50}, {640, 480}, 0.15) == cv::Rect(93, 93, 64, 64));
  // Outside the frame: empty.
  ck_assert(dfd::seed_square_box({700, 10, 50, 50}, {640, 480}).empty());
}
END_TEST

// ---- isotropic_resize and the padded model input -----------------------------------------

START_TEST(test_isotropic_resize_sizes_and_interpolation) {
  // Shrinking a wide image: w -> 224, h = int(150 * 224 / 300) = 112, INTER_AREA.
  const cv::Mat wide = gradient_image(300, 150);
  const cv::Mat small = dfd::isotropic_resize(wide, 224);
  ck_assert_int_eq(small.cols, 224);
  ck_assert_int_eq(small.rows, 112);
  cv::Mat expected;
  cv::resize(wide, expected, {224, 112}, 0, 0, cv::INTER_AREA);
  ck_assert(mats_equal(small, expected));

  // Enlarging a tall image: h -> 224, w = int(70 * 224 / 100) = int(156.8) = 156, INTER_CUBIC.
  const cv::Mat tall = gradient_image(70, 100);
  const cv::Mat big = dfd::isotropic_resize(tall, 224);
  ck_assert_int_eq(big.cols, 156);
  ck_assert_int_eq(big.rows, 224);
  cv::resize(tall, expected, {156, 224}, 0, 0, cv::INTER_CUBIC);
  ck_assert(mats_equal(big, expected));

  // Truncation, not rounding: 223 * (224 / 225) = 222.0088... -> 222.
  const cv::Mat near = dfd::isotropic_resize(gradient_image(225, 223), 224);
  ck_assert_int_eq(near.cols, 224);
  ck_assert_int_eq(near.rows, 222);

  // Square images take the "else" branch, as in the seed.
  const cv::Mat square = dfd::isotropic_resize(gradient_image(112, 112), 224);
  ck_assert_int_eq(square.cols, 224);
  ck_assert_int_eq(square.rows, 224);

  // Longest side already right: returned untouched (same pixels).
  const cv::Mat exact = gradient_image(224, 100);
  const cv::Mat same = dfd::isotropic_resize(exact, 224);
  ck_assert_ptr_eq(same.data, exact.data);
}
END_TEST

START_TEST(test_letterbox_padding_placement) {
  // 300x150 -> 224x112 -> top = (224 - 112) / 2 = 56, left 0.
  const cv::Mat crop = gradient_image(300, 150);
  const dfd::ModelInput input = dfd::letterbox(crop, 224);
  ck_assert_int_eq(input.image.cols, 224);
  ck_assert_int_eq(input.image.rows, 224);
  ck_assert(input.image.isContinuous());
  ck_assert(input.content == cv::Rect(0, 56, 224, 112));
  cv::Mat resized;
  cv::resize(crop, resized, {224, 112}, 0, 0, cv::INTER_AREA);
  ck_assert(mats_equal(input.image(input.content), resized));
  ck_assert_int_eq(cv::countNonZero(input.image(cv::Rect(0, 0, 224, 56)).reshape(1)), 0);
  ck_assert_int_eq(cv::countNonZero(input.image(cv::Rect(0, 168, 224, 56)).reshape(1)), 0);

  // Odd padding: 70x100 -> 156x224, left = (224 - 156) / 2 = 34, right 34; 155 wide -> 34/35.
  const dfd::ModelInput tall = dfd::letterbox(gradient_image(70, 100), 224);
  ck_assert(tall.content == cv::Rect(34, 0, 156, 224));
  const dfd::ModelInput odd = dfd::letterbox(gradient_image(155, 224), 224);
  ck_assert(odd.content == cv::Rect(34, 0, 155, 224));
}
END_TEST

START_TEST(test_model_input_colour_order_and_packing) {
  const cv::Mat crop = gradient_image(200, 180);
  dfd::ModelConfig config;
  config.image_size = 64;
  config.color_order = dfd::ColorOrder::BGR;
  const dfd::ModelInput bgr = dfd::make_model_input(crop, config);
  config.color_order = dfd::ColorOrder::RGB;
  const dfd::ModelInput rgb = dfd::make_model_input(crop, config);
  ck_assert(bgr.content == rgb.content);
  cv::Mat swapped;
  cv::cvtColor(bgr.image, swapped, cv::COLOR_BGR2RGB);
  ck_assert(mats_equal(rgb.image, swapped));

  const std::vector<uint8_t> packed = dfd::pack_model_inputs({bgr, rgb}, 64);
  ck_assert_uint_eq(packed.size(), 2u * 64 * 64 * 3);
  ck_assert(std::equal(packed.begin(), packed.begin() + 64 * 64 * 3, bgr.image.data));
  ck_assert(std::equal(packed.begin() + 64 * 64 * 3, packed.end(), rgb.image.data));
}
END_TEST

// ---- heatmap arithmetic ---------------------------------------------------------------------

START_TEST(test_bilinear_matches_pytorch) {
  // torch.nn.functional.interpolate([[1,2],[3,4]], size=4, mode='bilinear', align_corners=False)
  const float expected[4][4] = {{1.0f, 1.25f, 1.75f, 2.0f},
                                {1.5f, 1.75f, 2.25f, 2.5f},
                                {2.5f, 2.75f, 3.25f, 3.5f},
                                {3.0f, 3.25f, 3.75f, 4.0f}};
  const dfd::FloatMap out = dfd::resize_bilinear(make_map(2, 2, {1, 2, 3, 4}), 4, 4);
  ck_assert_int_eq(out.width, 4);
  ck_assert_int_eq(out.height, 4);
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 4; ++x) ck_assert_float_eq_tol(out.at(x, y), expected[y][x], 1e-6f);
  }
  // Non-square: [1, 2, 3] to width 2: src = 1.5 * (d + 0.5) - 0.5 = 0.25, 1.75.
  const dfd::FloatMap row = dfd::resize_bilinear(make_map(3, 1, {1, 2, 3}), 2, 1);
  ck_assert_float_eq_tol(row.at(0, 0), 1.25f, 1e-6f);
  ck_assert_float_eq_tol(row.at(1, 0), 2.75f, 1e-6f);
}
END_TEST

START_TEST(test_average_pool) {
  // 4x4 ramp 0..15, k = 2: means of the 2x2 blocks.
  std::vector<float> ramp(16);
  for (int i = 0; i < 16; ++i) ramp[static_cast<size_t>(i)] = static_cast<float>(i);
  const dfd::FloatMap pooled = dfd::average_pool(make_map(4, 4, ramp), 2);
  ck_assert_int_eq(pooled.width, 2);
  ck_assert_int_eq(pooled.height, 2);
  ck_assert_float_eq(pooled.at(0, 0), 2.5f);   // 0 1 4 5
  ck_assert_float_eq(pooled.at(1, 0), 4.5f);   // 2 3 6 7
  ck_assert_float_eq(pooled.at(0, 1), 10.5f);  // 8 9 12 13
  ck_assert_float_eq(pooled.at(1, 1), 12.5f);
  // 5x3 with k = 2: the last row and column are dropped, as AvgPool2d does.
  std::vector<float> odd(15, 1.f);
  const dfd::FloatMap dropped = dfd::average_pool(make_map(5, 3, odd), 2);
  ck_assert_int_eq(dropped.width, 2);
  ck_assert_int_eq(dropped.height, 1);
}
END_TEST

START_TEST(test_min_max) {
  dfd::FloatMap map = make_map(2, 2, {2.f, 4.f, 6.f, 10.f});
  dfd::normalize_min_max(map);
  ck_assert_float_eq(map.values[0], 0.f);
  ck_assert_float_eq(map.values[1], 0.25f);
  ck_assert_float_eq(map.values[2], 0.5f);
  ck_assert_float_eq(map.values[3], 1.f);
  dfd::FloatMap flat = make_map(3, 1, {7.f, 7.f, 7.f});
  dfd::normalize_min_max(flat);
  for (float v : flat.values) ck_assert_float_eq(v, 0.f);
}
END_TEST

START_TEST(test_seed_and_spatial_maps) {
  const dfd::FloatMap seed = dfd::seed_relevancy_map(ramp_grid(32, 32));
  ck_assert_int_eq(seed.width, 224);
  ck_assert_int_eq(seed.height, 224);
  const auto [lo, hi] = std::minmax_element(seed.values.begin(), seed.values.end());
  ck_assert_float_eq(*lo, 0.f);
  ck_assert_float_eq(*hi, 1.f);

  const dfd::FloatMap spatial =
      dfd::relevancy_map(ramp_grid(7, 7), dfd::Architecture::Spatial, 224);
  ck_assert_int_eq(spatial.width, 224);
  const auto [slo, shi] = std::minmax_element(spatial.values.begin(), spatial.values.end());
  ck_assert_float_eq(*slo, 0.f);
  ck_assert_float_eq(*shi, 1.f);
  // The spatial map keeps its layout: the grid's largest cell lands where the map peaks.
  const dfd::RelevancyGrid grid = ramp_grid(7, 7);
  const size_t cell = static_cast<size_t>(std::max_element(grid.values.begin(), grid.values.end()) -
                                          grid.values.begin());
  const size_t peak = static_cast<size_t>(shi - spatial.values.begin());
  ck_assert_int_eq(static_cast<int>(peak % 224) / 32, static_cast<int>(cell % 7));
  ck_assert_int_eq(static_cast<int>(peak / 224) / 32, static_cast<int>(cell / 7));
}
END_TEST

// ---- colouring and overlays -----------------------------------------------------------------

START_TEST(test_jet_colour) {
  // 0 -> dark blue, 1 -> dark red (BGR), 0.5 -> greenish; values truncate as np.uint8.
  const cv::Mat jet = dfd::jet_colour(make_map(3, 1, {0.f, 1.f, 0.5f}));
  ck_assert_int_eq(jet.type(), CV_8UC3);
  const cv::Vec3b low = jet.at<cv::Vec3b>(0, 0);
  const cv::Vec3b high = jet.at<cv::Vec3b>(0, 1);
  const cv::Vec3b mid = jet.at<cv::Vec3b>(0, 2);
  ck_assert(low[0] > 100 && low[1] == 0 && low[2] == 0);
  ck_assert(high[2] > 100 && high[1] == 0 && high[0] == 0);
  ck_assert(mid[1] > 200);
  // uint8(255 * 0.999) = 254 (truncated), the same colour as a direct 254.
  cv::Mat grey(1, 1, CV_8UC1, cv::Scalar(254)), expected;
  cv::applyColorMap(grey, expected, cv::COLORMAP_JET);
  ck_assert(mats_equal(dfd::jet_colour(make_map(1, 1, {0.999f})), expected));
}
END_TEST

START_TEST(test_seed_overlay) {
  const dfd::ModelInput input = dfd::letterbox(gradient_image(200, 160), 224);
  const dfd::FloatMap mask = dfd::seed_relevancy_map(ramp_grid(32, 32));
  const cv::Mat overlay = dfd::seed_overlay(input.image, mask);
  ck_assert_int_eq(overlay.type(), CV_8UC3);
  ck_assert_int_eq(overlay.cols, 224);
  ck_assert_int_eq(overlay.rows, 224);
  double lo = 0, hi = 0;
  cv::minMaxLoc(overlay.reshape(1), &lo, &hi);
  ck_assert(lo >= 0.0);
  ck_assert_double_eq(hi, 255.0);

  // One pixel by hand: padding (img = 0) under mask 0 -> jet(0) / 255 / max(cam).
  const cv::Mat jet = dfd::jet_colour(mask);
  cv::Mat cam;
  input.image.convertTo(cam, CV_32FC3, 1.0 / 255.0);  // min 0 (padding), max 255 here
  double img_max = 0;
  cv::minMaxLoc(input.image.reshape(1), nullptr, &img_max);
  ck_assert_double_eq(img_max, 255.0);
  cv::Mat heat;
  jet.convertTo(heat, CV_32FC3, 1.0 / 255.0);
  cv::Mat sum = heat + cam;
  double cam_max = 0;
  cv::minMaxLoc(sum.reshape(1), nullptr, &cam_max);
  const cv::Vec3f at = sum.at<cv::Vec3f>(0, 0);
  for (int c = 0; c < 3; ++c) {
    const int expected = static_cast<int>(255.f * (at[c] / static_cast<float>(cam_max)));
    ck_assert_int_le(std::abs(overlay.at<cv::Vec3b>(0, 0)[c] - expected), 1);
  }
}
END_TEST

START_TEST(test_blend_heatmap_stays_in_region) {
  cv::Mat frame(100, 120, CV_8UC3, cv::Scalar(10, 20, 30));
  const cv::Mat before = frame.clone();
  const cv::Rect region(30, 20, 40, 50);
  cv::Mat roi = frame(region);
  dfd::blend_heatmap(roi, make_map(2, 2, {0.f, 0.3f, 0.6f, 1.f}), 0.5f);
  cv::Mat outside_mask(frame.size(), CV_8UC1, cv::Scalar(255));
  outside_mask(region).setTo(0);
  cv::Mat diff;
  cv::absdiff(frame, before, diff);
  cv::Mat diff_outside;
  diff.copyTo(diff_outside, outside_mask);
  ck_assert_int_eq(cv::countNonZero(diff_outside.reshape(1)), 0);
  ck_assert_int_gt(cv::countNonZero(diff(region).reshape(1)), 0);
  // alpha 0 leaves the region alone too.
  const cv::Mat kept = frame.clone();
  dfd::blend_heatmap(roi, make_map(1, 1, {1.f}), 0.f);
  ck_assert(mats_equal(frame, kept));
}
END_TEST

START_TEST(test_map_onto_crop) {
  // A 4x4 map whose content is the middle 4x2 band; the crop is 8x4.
  std::vector<float> values(16, 0.f);
  for (int x = 0; x < 4; ++x) {
    values[static_cast<size_t>(4 + x)] = 1.f;
    values[static_cast<size_t>(8 + x)] = 1.f;
  }
  const dfd::FloatMap on_crop =
      dfd::map_onto_crop(make_map(4, 4, values), cv::Rect(0, 1, 4, 2), cv::Size(8, 4));
  ck_assert_int_eq(on_crop.width, 8);
  ck_assert_int_eq(on_crop.height, 4);
  for (float v : on_crop.values) ck_assert_float_eq(v, 1.f);
}
END_TEST

// ---- explanation sheet ------------------------------------------------------------------------

START_TEST(test_explain_sheet) {
  dfd::SheetText text;
  text.label = "Fake Image";
  text.method = dfd::seed_method_name("Face2Face_067_025_667_0.png");
  text.video_score = "0.9307484";
  text.frame_probability = static_cast<double>(0.93074840307235718f);
  text.classification = "TP";
  const std::vector<std::string> lines = dfd::seed_title_lines(text);
  ck_assert_uint_eq(lines.size(), 5);
  ck_assert_str_eq(lines[0].c_str(), "Label:          Fake Image");
  ck_assert_str_eq(lines[1].c_str(), "Method:        Face2Face");
  ck_assert_str_eq(lines[2].c_str(), "Video Pred Score:   0.930");
  ck_assert_str_eq(lines[3].c_str(), "Frame Pred Score:  0.930");
  ck_assert_str_eq(lines[4].c_str(), "Classification:           TP");

  const dfd::ModelInput input = dfd::letterbox(gradient_image(150, 180), 224);
  const cv::Mat overlay =
      dfd::seed_overlay(input.image, dfd::seed_relevancy_map(ramp_grid(32, 32)));
  const cv::Mat sheet = dfd::render_explain_sheet(lines, gradient_image(150, 180), overlay);
  ck_assert_int_eq(sheet.cols, 640);
  ck_assert_int_eq(sheet.rows, 480);
  ck_assert_int_eq(sheet.type(), CV_8UC3);
  ck_assert(sheet.at<cv::Vec3b>(479, 0) == cv::Vec3b(255, 255, 255));
}
END_TEST

START_TEST(test_python_float_repr) {
  const struct {
    double value;
    const char *text;
  } cases[] = {
      {0.0, "0.0"},
      {1.0, "1.0"},
      {0.5, "0.5"},
      {0.0001, "0.0001"},
      {1e-05, "1e-05"},
      {1.2345e-05, "1.2345e-05"},
      {123.25, "123.25"},
      {1e16, "1e+16"},
      {-2.5, "-2.5"},
      // float32 0.1 widened to double, as torch's .item() hands it to Python.
      {static_cast<double>(0.1f), "0.10000000149011612"},
  };
  for (const auto &c : cases) {
    // A named string: ck_assert_str_eq keeps the pointer past the full expression.
    const std::string text = dfd::python_float_repr(c.value);
    ck_assert_str_eq(text.c_str(), c.text);
  }
  const std::string method = dfd::seed_method_name("noseparator.png");
  ck_assert_str_eq(method.c_str(), "noseparator.png");
}
END_TEST

// ---- the explain tool's helpers --------------------------------------------------------------

START_TEST(test_classification_metrics) {
  ck_assert(dfd::predicted_fake(0.55, 0.55));
  ck_assert(!dfd::predicted_fake(0.5499, 0.55));
  ck_assert_str_eq(dfd::outcome_name(dfd::classify(true, true)), "TP");
  ck_assert_str_eq(dfd::outcome_name(dfd::classify(false, true)), "FP");
  ck_assert_str_eq(dfd::outcome_name(dfd::classify(false, false)), "TN");
  ck_assert_str_eq(dfd::outcome_name(dfd::classify(true, false)), "FN");

  // truth:      F F F F R R R R R R
  // prediction: F F F R F R R R R R  -> TP 3, FN 1, FP 1, TN 5
  const bool truth[10] = {true, true, true, true, false, false, false, false, false, false};
  const bool predicted[10] = {true, true, true, false, true, false, false, false, false, false};
  dfd::ConfusionCounts counts;
  for (int i = 0; i < 10; ++i) counts.add(dfd::classify(truth[i], predicted[i]));
  ck_assert_uint_eq(counts.tp, 3);
  ck_assert_uint_eq(counts.fn, 1);
  ck_assert_uint_eq(counts.fp, 1);
  ck_assert_uint_eq(counts.tn, 5);
  ck_assert_double_eq_tol(counts.accuracy(), 0.8, 1e-12);
  ck_assert_double_eq_tol(counts.f1(), 0.75, 1e-12);  // precision 3/4, recall 3/4
  const dfd::ConfusionCounts empty;
  ck_assert_double_eq(empty.accuracy(), 0.0);
  ck_assert_double_eq(empty.f1(), 0.0);
}
END_TEST

START_TEST(test_csv_parsing) {
  const std::vector<dfd::CsvRecord> records = dfd::parse_csv(
      "\xEF\xBB\xBF"
      "a,b,c\r\n"
      "\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n"
      "\n"
      ",,\"\"\n"
      "last,1,2");
  ck_assert_uint_eq(records.size(), 4);
  ck_assert_str_eq(records[0][0].c_str(), "a");
  ck_assert_str_eq(records[1][0].c_str(), "x, y");
  ck_assert_str_eq(records[1][1].c_str(), "say \"hi\"");
  ck_assert_str_eq(records[1][2].c_str(), "two\nlines");
  ck_assert_uint_eq(records[2].size(), 3);
  ck_assert_str_eq(records[2][2].c_str(), "");
  ck_assert_str_eq(records[3][2].c_str(), "2");

  bool threw = false;
  try {
    dfd::parse_csv("a,\"unterminated\n");
  } catch (const std::runtime_error &) {
    threw = true;
  }
  ck_assert(threw);

  const std::string line = dfd::format_csv_record({"plain", "a,b", "q\"q", ""});
  ck_assert_str_eq(line.c_str(), "plain,\"a,b\",\"q\"\"q\",\n");
  const std::vector<dfd::CsvRecord> round =
      dfd::parse_csv(dfd::format_csv_record({"a,b", "q\"q", "x\ny"}));
  ck_assert_uint_eq(round.size(), 1);
  ck_assert_str_eq(round[0][2].c_str(), "x\ny");

  ck_assert(dfd::parse_fake_label("1") == true);
  ck_assert(dfd::parse_fake_label(" Fake ") == true);
  ck_assert(dfd::parse_fake_label("0") == false);
  ck_assert(dfd::parse_fake_label("real") == false);
  ck_assert(!dfd::parse_fake_label("2").has_value());
}
END_TEST

// Every tool reads "--name value" and "--name=value" alike and names the option in its errors.
START_TEST(test_command_line_options) {
  using dfd::tools::UsageError;
  char prog[] = "tool", batch[] = "--batch-size", eight[] = "8", inline_form[] = "--batch-size=8",
       dangling[] = "--model";
  {
    char *argv[] = {prog, batch, eight};
    int i = 1;
    std::string arg = argv[i];
    const auto inline_value = dfd::tools::split_inline_value(arg);
    ck_assert(!inline_value);
    ck_assert_str_eq(dfd::tools::option_value(arg, inline_value, i, 3, argv).c_str(), "8");
    ck_assert_int_eq(i, 2);
  }
  {
    char *argv[] = {prog, inline_form};
    int i = 1;
    std::string arg = argv[i];
    const auto inline_value = dfd::tools::split_inline_value(arg);
    ck_assert_str_eq(arg.c_str(), "--batch-size");
    ck_assert_str_eq(dfd::tools::option_value(arg, inline_value, i, 2, argv).c_str(), "8");
    ck_assert_int_eq(i, 1);
  }
  {
    char *argv[] = {prog, dangling};
    int i = 1;
    std::string arg = argv[i];
    bool thrown = false;
    try {
      dfd::tools::option_value(arg, dfd::tools::split_inline_value(arg), i, 2, argv);
    } catch (const UsageError &e) {
      thrown = std::string(e.what()).find("--model needs a value") != std::string::npos;
    }
    ck_assert(thrown);
  }
  // Only options split: a file name with '=' stays whole.
  std::string positional = "frames=1.jpg";
  ck_assert(!dfd::tools::split_inline_value(positional));
  ck_assert_str_eq(positional.c_str(), "frames=1.jpg");

  ck_assert_int_eq(dfd::tools::parse_integer("--jobs", "64", 1, 64), 64);
  for (const char *bad : {"0", "65", "", "4x", "-1", "99999999999999999999"}) {
    bool thrown = false;
    try {
      dfd::tools::parse_integer("--jobs", bad, 1, 64);
    } catch (const UsageError &e) {
      thrown = std::string(e.what()).find("--jobs needs an integer from 1 to 64") == 0;
    }
    ck_assert_msg(thrown, "'%s' accepted", bad);
  }
  ck_assert(dfd::tools::parse_number("--threshold", "0.55") == 0.55);
  for (const char *bad : {"", "nan", "inf", "1e999", "0.5x"}) {
    bool thrown = false;
    try {
      dfd::tools::parse_number("--threshold", bad);
    } catch (const UsageError &) {
      thrown = true;
    }
    ck_assert_msg(thrown, "'%s' accepted", bad);
  }
}
END_TEST

START_TEST(test_seed_sample_file) {
  const char *dir = std::getenv("DFD_BUILD_ROOT");
  const std::string path = std::string(dir ? dir : ".") + "/test-imaging-samples.csv";
  FILE *file = std::fopen(path.c_str(), "wb");
  ck_assert_ptr_nonnull(file);
  std::fputs(
      "video_name,label,video_prob,high_low_prob,example_file_name,example_file_name_short\n"
      "../Original/054,0,0.007896773,0.000347124,Original_054_296_0.png,296_0.png\n"
      "\"../Face2Face/067,025\",1,0.9307484,0.9999294,Face2Face_067_025_667_0.png,667_0.png\n",
      file);
  std::fclose(file);
  const std::vector<dfd::SeedSample> samples = dfd::read_seed_samples(path);
  std::remove(path.c_str());
  ck_assert_uint_eq(samples.size(), 2);
  ck_assert_str_eq(samples[0].label.c_str(), "0");
  ck_assert_str_eq(samples[0].example_file_name.c_str(), "Original_054_296_0.png");
  ck_assert_str_eq(samples[1].video_name.c_str(), "../Face2Face/067,025");
  ck_assert_str_eq(samples[1].video_prob.c_str(), "0.9307484");
  ck_assert_uint_eq(samples[1].record, 2);
}
END_TEST

int main() {
  Suite *suite = suite_create("imaging");
  TCase *pre = tcase_create("preprocess");
  tcase_add_test(pre, test_square_box_pads_short_side);
  tcase_add_test(pre, test_square_box_clamps_and_margin);
  tcase_add_test(pre, test_isotropic_resize_sizes_and_interpolation);
  tcase_add_test(pre, test_letterbox_padding_placement);
  tcase_add_test(pre, test_model_input_colour_order_and_packing);
  suite_add_tcase(suite, pre);

  TCase *heat = tcase_create("heatmap");
  tcase_add_test(heat, test_bilinear_matches_pytorch);
  tcase_add_test(heat, test_average_pool);
  tcase_add_test(heat, test_min_max);
  tcase_add_test(heat, test_seed_and_spatial_maps);
  suite_add_tcase(suite, heat);

  TCase *draw = tcase_create("overlay");
  tcase_add_test(draw, test_jet_colour);
  tcase_add_test(draw, test_seed_overlay);
  tcase_add_test(draw, test_blend_heatmap_stays_in_region);
  tcase_add_test(draw, test_map_onto_crop);
  tcase_add_test(draw, test_explain_sheet);
  tcase_add_test(draw, test_python_float_repr);
  suite_add_tcase(suite, draw);

  TCase *tools = tcase_create("tools");
  tcase_add_test(tools, test_classification_metrics);
  tcase_add_test(tools, test_csv_parsing);
  tcase_add_test(tools, test_seed_sample_file);
  tcase_add_test(tools, test_command_line_options);
  suite_add_tcase(suite, tools);

  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_VERBOSE);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
