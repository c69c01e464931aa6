// The pseudo-fakes that imitate face swaps (cross-identity warps and low-resolution
// re-renders), the weighted epoch plan that mixes sources and kinds of fakes, and the
// calibrated operating point. Every generator is checked on real faces with fixed seeds
// against properties a correct one must have, not against its own earlier output.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <string>
#include <vector>

#include "training/dataset.h"
#include "training/examples.h"
#include "training/face_swap.h"
#include "training/landmarks.h"
#include "training/train_config.h"
#include "training/validation.h"

// check.h defines macros (fail, ...) that clash with libstdc++ headers: include it last.
#include <check.h>

using namespace dfd::training;

namespace {

cv::Mat load_face(const char *file, double scale = 1.0) {
  const char *dir = std::getenv("DFD_TEST_DATA");
  ck_assert_msg(dir != nullptr, "DFD_TEST_DATA is not set");
  cv::Mat image = cv::imread(std::string(dir) + "/faces/" + file, cv::IMREAD_COLOR);
  ck_assert_msg(!image.empty(), "cannot read %s", file);
  if (scale != 1.0) cv::resize(image, image, cv::Size(), scale, scale, cv::INTER_CUBIC);
  return image;
}

// The shape predictor takes a second to load: one per process (CK_FORK=no).
Landmarker &landmarker() {
  static Landmarker instance(dfd::DetectorKind::Yunet);
  return instance;
}

struct Face {
  cv::Mat image;
  std::vector<cv::Point2f> points;
};

Face face(const char *file, double scale = 1.0) {
  Face f{load_face(file, scale), {}};
  const FaceShape shape = landmarker().find(f.image);
  ck_assert_msg(shape.detected, "no face found in %s", file);
  f.points = shape.points;
  return f;
}

// Mean absolute difference over the pixels where `where` is set.
double mean_difference(const cv::Mat &a, const cv::Mat &b, const cv::Mat &where) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  const cv::Scalar mean = cv::mean(diff, where);
  return (mean[0] + mean[1] + mean[2]) / 3.0;
}

// Variance of the Laplacian over `where`: how much fine detail the pixels carry.
double detail(const cv::Mat &bgr, const cv::Mat &where) {
  cv::Mat gray, laplacian;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::Laplacian(gray, laplacian, CV_32F);
  cv::Scalar mean, deviation;
  cv::meanStdDev(laplacian, mean, deviation, where);
  return deviation[0] * deviation[0];
}

}  // namespace

// ---- Cross-identity swap -----------------------------------------------------------------

START_TEST(test_triangles_cover_the_landmark_hull) {
  const Face f = face("real-photos-100.jpg");
  const std::vector<std::array<int, 3>> triangles = landmark_triangles(f.points);
  ck_assert_msg(triangles.size() > 90, "only %zu triangles over 68 points", triangles.size());
  cv::Mat covered = cv::Mat::zeros(f.image.size(), CV_8U);
  for (const auto &t : triangles) {
    std::vector<cv::Point> polygon;
    for (const int i : t) {
      ck_assert(i >= 0 && i < 68);
      polygon.emplace_back(cv::Point(cvRound(f.points[static_cast<size_t>(i)].x),
                                     cvRound(f.points[static_cast<size_t>(i)].y)));
    }
    cv::fillConvexPoly(covered, polygon, cv::Scalar(255));
  }
  std::vector<cv::Point2f> hull;
  cv::convexHull(f.points, hull);
  const double hull_area = cv::contourArea(hull);
  ck_assert_msg(cv::countNonZero(covered) > 0.97 * hull_area, "triangles cover %d of %.0f px",
                cv::countNonZero(covered), hull_area);
}
END_TEST

START_TEST(test_warp_puts_donor_landmarks_on_target_landmarks) {
  // A donor image with a bright dot on each landmark: a correct piecewise-affine warp maps
  // every triangle vertex exactly, so each dot must land on the target's landmark.
  const Face donor = face("real-photos-137.jpg");
  const Face target = face("real-photos-100.jpg");
  cv::Mat dots = cv::Mat::zeros(donor.image.size(), CV_8UC3);
  for (const cv::Point2f &p : donor.points) {
    cv::circle(dots, cv::Point(cvRound(p.x), cvRound(p.y)), 1, cv::Scalar::all(255), cv::FILLED);
  }
  cv::Mat covered;
  const cv::Mat warped =
      warp_face(dots, donor.points, target.points, target.image.size(), &covered);
  cv::Mat gray;
  cv::cvtColor(warped, gray, cv::COLOR_BGR2GRAY);
  // Inner points (nose, eye corners, mouth corners, brow ends): vertices inside the hull.
  for (const int i : {30, 33, 36, 39, 42, 45, 48, 54, 21, 22}) {
    const cv::Point2f t = target.points[static_cast<size_t>(i)];
    const cv::Rect window =
        cv::Rect(cvRound(t.x) - 3, cvRound(t.y) - 3, 7, 7) & cv::Rect(0, 0, gray.cols, gray.rows);
    double peak = 0.0;
    cv::minMaxLoc(gray(window), nullptr, &peak);
    ck_assert_msg(peak > 60.0, "landmark %d: no donor dot within 3 px of (%.1f, %.1f)", i, t.x,
                  t.y);
    ck_assert(covered.at<uint8_t>(cvRound(t.y), cvRound(t.x)) == 255);
  }
}
END_TEST

START_TEST(test_cross_swap_replaces_the_face_only_inside_the_mask) {
  const Face target = face("real-photos-100.jpg");
  const Face donor = face("real-photos-156.jpg");
  CrossSwapOptions options;
  options.bottleneck_probability = 0.0;
  options.blend_ratios = {1.0};  // a full-weight core to compare with
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    Rng rng = make_rng(seed);
    const SwapResult swap =
        cross_identity_swap(target.image, target.points, donor.image, donor.points, options,
                            BottleneckOptions{}, SbiOptions{}, rng);
    const cv::Mat untouched = swap.mask <= 0.0f;
    ck_assert_msg(mean_difference(swap.fake, target.image, untouched) == 0.0,
                  "seed %d: pixels changed outside the mask", static_cast<int>(seed));
    // Where the mask is full the fake is the donor's warped face, not the target's.
    const cv::Mat core = swap.mask >= 0.99f;
    ck_assert_msg(cv::countNonZero(core) > 1000, "seed %d: no full-weight core",
                  static_cast<int>(seed));
    const double to_rendered = mean_difference(swap.fake, swap.rendered, core);
    const double to_target = mean_difference(swap.fake, target.image, core);
    ck_assert_msg(to_rendered < 1.0 && to_target > 5.0,
                  "seed %d: core differs by %.2f from the donor face, %.2f from the target",
                  static_cast<int>(seed), to_rendered, to_target);
  }
}
END_TEST

START_TEST(test_colour_transfer_matches_target_statistics) {
  const Face target = face("real-photos-100.jpg");
  const Face donor = face("real-photos-137.jpg");
  cv::Mat covered;
  const cv::Mat warped =
      warp_face(donor.image, donor.points, target.points, target.image.size(), &covered);
  const cv::Mat moved = transfer_colour(warped, target.image, covered);
  const auto lab_mean = [&](const cv::Mat &bgr) {
    cv::Mat f, lab;
    bgr.convertTo(f, CV_32FC3, 1.0 / 255.0);
    cv::cvtColor(f, lab, cv::COLOR_BGR2Lab);
    return cv::mean(lab, covered);
  };
  const cv::Scalar want = lab_mean(target.image), before = lab_mean(warped),
                   after = lab_mean(moved);
  for (int c = 0; c < 3; ++c) {
    // 8-bit rounding and gamut clipping leave a little; the donor started much further off.
    ck_assert_msg(std::fabs(after[c] - want[c]) < 1.5,
                  "Lab channel %d: %.2f after transfer, target %.2f (before %.2f)", c, after[c],
                  want[c], before[c]);
  }
}
END_TEST

START_TEST(test_cross_swap_same_seed_same_fake) {
  const Face target = face("real-photos-137.jpg");
  const Face donor = face("real-photos-100.jpg");
  const auto make = [&](uint64_t seed) {
    Rng rng = make_rng(seed);
    return cross_identity_swap(target.image, target.points, donor.image, donor.points,
                               CrossSwapOptions{}, BottleneckOptions{}, SbiOptions{}, rng)
        .fake;
  };
  ck_assert_int_eq(cv::norm(make(11), make(11), cv::NORM_INF), 0);
  ck_assert_msg(cv::norm(make(11), make(12), cv::NORM_INF) > 0, "another seed gave the same fake");
}
END_TEST

// ---- Low-resolution swap -----------------------------------------------------------------

START_TEST(test_lowres_swap_removes_detail_inside_the_mask_only) {
  // Enlarged so the face is well above the bottleneck (about 360 px wide).
  const Face f = face("real-photos-100.jpg", 2.0);
  BottleneckOptions bottleneck;
  bottleneck.sharpen_probability = 0.0;  // sharpening would put some "detail" back
  LowResOptions options;
  options.blend_ratios = {1.0};
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    Rng rng = make_rng(seed);
    const SwapResult swap =
        low_resolution_swap(f.image, f.points, options, bottleneck, SbiOptions{}, rng);
    ck_assert_msg(mean_difference(swap.fake, f.image, swap.mask <= 0.0f) == 0.0,
                  "seed %d: pixels changed outside the mask", static_cast<int>(seed));
    const cv::Mat core = swap.mask >= 0.99f;
    ck_assert(cv::countNonZero(core) > 1000);
    const double before = detail(f.image, core), after = detail(swap.fake, core);
    ck_assert_msg(after < 0.6 * before, "seed %d: detail %.1f -> %.1f", static_cast<int>(seed),
                  before, after);
  }
}
END_TEST

START_TEST(test_bottleneck_scales_with_the_face) {
  // A 60x60 checkerboard "face" region: the bottleneck must shrink it to at most
  // max_fraction of its side, so even small faces lose detail; outside the box nothing moves.
  cv::Mat image(200, 200, CV_8UC3, cv::Scalar(128, 128, 128));
  for (int y = 70; y < 130; ++y) {
    for (int x = 70; x < 130; ++x) {
      image.at<cv::Vec3b>(y, x) = ((x + y) % 2) ? cv::Vec3b(255, 255, 255) : cv::Vec3b(0, 0, 0);
    }
  }
  std::vector<cv::Point2f> points;
  for (int i = 0; i < 68; ++i) {
    points.emplace_back(static_cast<float>(80 + (i * 7) % 40),
                        static_cast<float>(80 + (i * 13) % 40));
  }
  BottleneckOptions o;
  o.jpeg_probability = o.blur_probability = o.sharpen_probability = 0.0;
  Rng rng = make_rng(3);
  const cv::Mat out = through_bottleneck(image, points, o, rng);
  // A one-pixel checkerboard cannot survive any downscaling: it averages to mid grey.
  const cv::Rect inner(85, 85, 30, 30);
  cv::Scalar mean, deviation;
  cv::meanStdDev(out(inner), mean, deviation);
  ck_assert_msg(deviation[0] < 40.0, "checkerboard survived (deviation %.1f)", deviation[0]);
  ck_assert_int_eq(
      cv::norm(out(cv::Rect(0, 0, 200, 60)), image(cv::Rect(0, 0, 200, 60)), cv::NORM_INF), 0);
}
END_TEST

// ---- Epoch plan --------------------------------------------------------------------------

START_TEST(test_weighted_plan_mixes_sources_and_kinds) {
  Dataset data;
  const auto entry = [](const std::string &folder, const std::string &name, bool fake) {
    ImageEntry e;
    e.folder = folder;
    e.source = source_name(folder);
    e.name = name;
    e.path = folder + "/" + name;
    e.fake = fake;
    return e;
  };
  // "dfdc": 300 reals, each with the fake made from it (same file name); "photos": 100
  // reals without fakes.
  for (int i = 0; i < 300; ++i) {
    data.train_real.push_back(entry("d/dfdc/real", "v" + std::to_string(i) + ".jpg", false));
  }
  for (int i = 0; i < 100; ++i) {
    data.train_real.push_back(entry("d/photos", "p" + std::to_string(i) + ".jpg", false));
  }
  for (int i = 299; i >= 0; --i) {  // listed in another order than the reals
    data.train_fake.push_back(entry("d/dfdc/fake/", "v" + std::to_string(i) + ".jpg", true));
  }
  ck_assert(source_name("d/dfdc/fake/") == "dfdc");
  ck_assert(source_name("d/photos") == "photos");

  DataConfig config;
  config.source_weights = {{"dfdc", 3.0}, {"photos", 1.0}};
  config.units_per_epoch = 4000;
  config.fake_kinds = {0.5, 0.2, 0.2, 0.1};
  config.fake_kinds_given = true;
  config.fake_partner = FakePartner::SameName;
  const std::vector<Unit> plan = plan_epoch(data, config, 9, 0);
  ck_assert_uint_eq(plan.size(), 4000);
  ck_assert_uint_eq(units_per_epoch(data, config), 4000);
  int dfdc = 0;
  std::map<FakeKind, int> dfdc_kinds, photo_kinds;
  for (const Unit &u : plan) {
    const ImageEntry &real = data.train_real[static_cast<size_t>(u.real)];
    const bool is_dfdc = real.source == "dfdc";
    dfdc += is_dfdc;
    ++(is_dfdc ? dfdc_kinds : photo_kinds)[u.kind];
    if (u.kind == FakeKind::Paired) {
      // The fake made from this very real.
      ck_assert(is_dfdc);
      ck_assert(data.train_fake[static_cast<size_t>(u.fake)].name == real.name);
    } else {
      ck_assert_int_eq(u.fake, -1);
    }
  }
  // 3:1 by weight (binomial, n 4000: a standard deviation of 27).
  ck_assert_msg(std::abs(dfdc - 3000) < 150, "%d of 4000 units from dfdc", dfdc);
  // dfdc reals: the four kinds at 0.5 / 0.2 / 0.2 / 0.1.
  ck_assert(std::abs(dfdc_kinds[FakeKind::Paired] - 0.5 * dfdc) < 0.05 * dfdc);
  ck_assert(std::abs(dfdc_kinds[FakeKind::CrossSwap] - 0.2 * dfdc) < 0.04 * dfdc);
  // Photos have no fakes: the other kinds share the weight (0.4 / 0.4 / 0.2).
  ck_assert_int_eq(photo_kinds[FakeKind::Paired], 0);
  const int photos = 4000 - dfdc;
  ck_assert(std::abs(photo_kinds[FakeKind::SelfBlend] - 0.4 * photos) < 0.08 * photos);
  ck_assert(std::abs(photo_kinds[FakeKind::LowResSwap] - 0.2 * photos) < 0.06 * photos);

  // Deterministic in (seed, epoch); every real of a source comes round before any repeats.
  const std::vector<Unit> again = plan_epoch(data, config, 9, 0);
  for (size_t i = 0; i < plan.size(); ++i) {
    ck_assert(plan[i].real == again[i].real && plan[i].kind == again[i].kind);
  }
  std::set<int> first_photos;
  for (const Unit &u : plan) {
    if (u.real >= 300 && first_photos.size() < 100) {
      ck_assert_msg(first_photos.insert(u.real).second, "photo %d repeated early", u.real);
    }
  }
}
END_TEST

START_TEST(test_fake_kind_config) {
  const std::string model = R"("model": {"name": "t", "architecture": "spatial",
      "input": {"size": 64, "color_order": "BGR", "mean": [0, 0, 0], "std": [1, 1, 1],
                "resize": "isotropic-pad"},
      "transformer": {"dim": 32, "depth": 1, "heads": 2, "dim_head": 16, "mlp_dim": 64,
                      "dropout": 0.0, "emb_dropout": 0.0}, "threshold": 0.5},
      "epochs": 1, "batch_size": 4, "optimizer": {"type": "adamw", "lr": 0.001})";
  const TrainConfig c = parse_train_config_text(
      "{" + model +
          R"(, "data": {"fake_kinds": {"paired": 2, "cross_swap": 1, "lowres_swap": 1},
              "source_weights": {"a": 1}, "units_per_epoch": 10, "fake_partner": "same-name",
              "face_detector": "yunet"},
              "calibration": {"false_alarm_rate": 0.01}})",
      "t.json");
  ck_assert(c.data.fake_kinds_given);
  ck_assert(c.data.fake_kinds[static_cast<size_t>(FakeKind::CrossSwap)] == 1.0);
  ck_assert(c.data.sbi_fraction == 0.0);
  ck_assert(c.data.face_detector == dfd::DetectorKind::Yunet);
  ck_assert(c.false_alarm_rate == 0.01);
  ck_assert(c.calibration_scope == CalibrationScope::Pooled);
  const TrainConfig every = parse_train_config_text(
      "{" + model + R"(, "calibration": {"false_alarm_rate": 0.01, "scope": "every-source"}})",
      "t.json");
  ck_assert(every.calibration_scope == CalibrationScope::EverySource);
  try {
    parse_train_config_text(
        "{" + model + R"(, "calibration": {"false_alarm_rate": 0.01, "scope": "per-camera"}})",
        "t.json");
    ck_abort_msg("accepted calibration.scope \"per-camera\"");
  } catch (const ConfigError &e) {
    ck_assert_msg(std::string(e.what()).find("every-source") != std::string::npos, "%s", e.what());
  }
  const auto rejected = [&](const std::string &data, const char *needle) {
    try {
      parse_train_config_text("{" + model + R"(, "data": )" + data + "}", "t.json");
    } catch (const ConfigError &e) {
      ck_assert_msg(std::string(e.what()).find(needle) != std::string::npos, "%s", e.what());
      return;
    }
    ck_abort_msg("accepted %s", data.c_str());
  };
  rejected(R"({"fake_kinds": {"deepfake": 1}})", "unknown kind 'deepfake'");
  rejected(R"({"fake_kinds": {"paired": 0}})", "one at least positive");
  rejected(R"({"fake_kinds": {"paired": 1}, "sbi_fraction": 0.5})", "not both");
  rejected(R"({"units_per_epoch": 10})", "needs source_weights");
  rejected(R"({"face_detector": "mtcnn"})", "face_detector");
}
END_TEST

// ---- Operating point ---------------------------------------------------------------------

START_TEST(test_operating_point_by_hand) {
  // 200 reals with probabilities 0.0025, 0.0075, ... (logits of evenly spaced values); a 1%
  // rate allows 2 of them at or above the threshold: the two highest.
  std::vector<float> reals;
  for (int i = 0; i < 200; ++i) {
    const double p = (i + 0.5) / 200.0;
    reals.push_back(static_cast<float>(std::log(p / (1.0 - p))));
  }
  const auto logit = [](double p) { return static_cast<float>(std::log(p / (1.0 - p))); };
  const std::vector<std::pair<std::string, std::vector<float>>> fakes = {
      {"a", {logit(0.999), logit(0.995), logit(0.5), logit(0.1)}}, {"b", {logit(0.992)}}};
  const OperatingPoint op = choose_operating_point(reals, fakes, 0.01);
  // Just above the third highest real (0.9875), at or below the second (0.9925).
  ck_assert_msg(op.threshold > 0.9875 - 1e-6 && op.threshold <= 0.9925, "threshold %.6f",
                op.threshold);
  ck_assert_uint_eq(op.reals, 200);
  ck_assert(std::fabs(op.false_alarm_rate - 0.01) < 1e-12);
  ck_assert_uint_eq(op.true_positive_rate.size(), 3);
  ck_assert(op.true_positive_rate[0].first == "a" &&
            std::fabs(op.true_positive_rate[0].second - 0.5) < 1e-12);
  ck_assert(std::fabs(op.true_positive_rate[1].second - 1.0) < 1e-12);
  ck_assert(op.true_positive_rate[2].first == "all" &&
            std::fabs(op.true_positive_rate[2].second - 0.6) < 1e-12);
}
END_TEST

START_TEST(test_operating_point_on_every_source) {
  // Source "a": 200 reals at 0.0025, 0.0075, ..., 0.9975. Source "b": 100 reals at 0.005,
  // 0.015, ..., whose three highest are replaced by 0.9990, 0.9992 and 0.9994: the source whose
  // reals the model finds harder.
  const auto logit = [](double p) { return static_cast<float>(std::log(p / (1.0 - p))); };
  std::vector<float> a, b;
  for (int i = 0; i < 200; ++i) a.push_back(logit((i + 0.5) / 200.0));
  for (int i = 0; i < 100; ++i) b.push_back(logit((i + 0.5) / 100.0));
  b[97] = logit(0.9990);
  b[98] = logit(0.9992);
  b[99] = logit(0.9994);
  const NamedLogits reals = {{"a", a}, {"b", b}};
  const NamedLogits fakes = {{"f", {logit(0.9999), logit(0.9991), logit(0.99), logit(0.2)}}};

  // Each source alone: "a" needs a threshold just above 0.9875, "b" just above 0.9992 (its
  // second highest); the highest of the two wins.
  const OperatingPoint every =
      choose_operating_point(reals, fakes, 0.01, CalibrationScope::EverySource);
  ck_assert_msg(every.threshold > 0.9992 - 1e-6 && every.threshold <= 0.9994, "threshold %.6f",
                every.threshold);
  ck_assert(every.scope == CalibrationScope::EverySource);
  ck_assert_uint_eq(every.per_source.size(), 2);
  ck_assert(every.per_source[0].source == "a" && every.per_source[0].alarms == 0 &&
            every.per_source[0].reals == 200);
  ck_assert(every.per_source[1].source == "b" && every.per_source[1].alarms == 1 &&
            every.per_source[1].reals == 100);
  ck_assert_uint_eq(every.reals, 300);
  ck_assert(std::fabs(every.false_alarm_rate - 1.0 / 300.0) < 1e-12);
  // Only 0.9999 is caught: 0.9991 is below the threshold.
  ck_assert(std::fabs(every.true_positive_rate[0].second - 0.25) < 1e-12);

  // Pooled over 300 reals, 3 alarms are allowed: just above the fourth highest (0.9975 of
  // "a"), which leaves "b" with 3 alarms in 100, three times the rate asked for.
  std::vector<float> pooled = a;
  pooled.insert(pooled.end(), b.begin(), b.end());
  const OperatingPoint all = choose_operating_point(pooled, fakes, 0.01);
  const OperatingPoint measured =
      choose_operating_point(reals, fakes, 0.01, CalibrationScope::Pooled);
  ck_assert_msg(all.threshold > 0.9975 - 1e-6 && all.threshold <= 0.9990, "threshold %.6f",
                all.threshold);
  ck_assert_uint_eq(measured.per_source[0].alarms, 0);
  ck_assert_uint_eq(measured.per_source[1].alarms, 3);
  ck_assert(std::fabs(measured.false_alarm_rate - all.false_alarm_rate) < 1e-12);
  ck_assert(measured.threshold == all.threshold);
}
END_TEST

int main() {
  Suite *suite = suite_create("pseudo-fakes");
  TCase *swap = tcase_create("cross-identity swap");
  tcase_set_timeout(swap, 120);
  tcase_add_test(swap, test_triangles_cover_the_landmark_hull);
  tcase_add_test(swap, test_warp_puts_donor_landmarks_on_target_landmarks);
  tcase_add_test(swap, test_cross_swap_replaces_the_face_only_inside_the_mask);
  tcase_add_test(swap, test_colour_transfer_matches_target_statistics);
  tcase_add_test(swap, test_cross_swap_same_seed_same_fake);
  suite_add_tcase(suite, swap);
  TCase *lowres = tcase_create("low-resolution swap");
  tcase_set_timeout(lowres, 120);
  tcase_add_test(lowres, test_lowres_swap_removes_detail_inside_the_mask_only);
  tcase_add_test(lowres, test_bottleneck_scales_with_the_face);
  suite_add_tcase(suite, lowres);
  TCase *plan = tcase_create("plan and calibration");
  tcase_add_test(plan, test_weighted_plan_mixes_sources_and_kinds);
  tcase_add_test(plan, test_fake_kind_config);
  tcase_add_test(plan, test_operating_point_by_hand);
  tcase_add_test(plan, test_operating_point_on_every_source);
  suite_add_tcase(suite, plan);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_VERBOSE);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
