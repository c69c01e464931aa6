// YuNet, HOG and Haar face detectors behind FaceDetector. All share the same frame handling:
// choose a detection scale, downscale once with INTER_AREA, detect, then map boxes back to
// full-frame pixels, clip, filter by min_face_size and sort by area.
#include "analysis/face_detector.h"

#include <unistd.h>

#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <opencv2/objdetect/face.hpp>
#include <stdexcept>
#include <utility>

#include "analysis/tracker.h"

namespace dfd {
namespace {

constexpr const char *kDefaultHaarCascade =
    "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";

// dlib's frontal detector slides an 80x80 window and only scans downwards from the image it is
// given, so a face smaller than this at detection scale is never found.
constexpr int kHogWindow = 80;

// YuNet finds faces down to about 10 px, but its boxes wobble by a few pixels at that size and
// the crop follows the box; 20 px is the smallest face it is asked to find.
constexpr int kYunetSmallestFace = 20;
// Following a known face, YuNet sees it at this size: boxes as steady as at full resolution,
// for a fraction of the cost.
constexpr int kYunetTrackingFaceSize = 64;

// Both detectors give an unbounded score: HOG its margin over the detection threshold, Haar
// its last stage's sum. A logistic maps either to (0, 1) monotonically, so faces keep their
// order (a clamp would flatten every strong face to 1), and HOG's threshold reads as 0.5.
// A face's size is its box's longer side: HOG's and Haar's boxes are square, YuNet's about 0.75
// as wide as high (a 62x83 face is not below a 64 px minimum). A sliver cut off by the frame's
// edge, narrower than half the minimum, is not a face to score either.
bool too_small(const cv::Rect &box, int min_size) {
  return std::max(box.width, box.height) < min_size ||
         2 * std::min(box.width, box.height) < min_size;
}

float logistic(double margin) {
  return static_cast<float>(1.0 / (1.0 + std::exp(-margin)));
}

class DetectorBase : public FaceDetector {
 public:
  explicit DetectorBase(const DetectorOptions &options) : options_(options) {}

  std::vector<FaceBox> detect(const cv::Mat &gray) override {
    if (gray.empty()) return {};
    check_frame_type(gray);
    const double scale = detection_scale(gray.cols);
    const cv::Mat *image = &gray;
    if (scale < 1.0) {
      const cv::Size size(std::max(1, static_cast<int>(std::lround(gray.cols * scale))),
                          std::max(1, static_cast<int>(std::lround(gray.rows * scale))));
      // The buffer is a member so that steady-state frames reuse its allocation.
      cv::resize(gray, small_, size, 0, 0, cv::INTER_AREA);
      image = &small_;
    }
    const int min_at_scale =
        std::max(window_size(), static_cast<int>(std::floor(options_.min_face_size * scale)));
    std::vector<FaceBox> found = detect_scaled(*image, min_at_scale);
    return to_frame(std::move(found), *image, gray);
  }

  std::vector<FaceBox> detect_near(const cv::Mat &gray,
                                   const std::vector<cv::Rect> &expected) override {
    if (gray.empty() || expected.empty()) return {};
    check_frame_type(gray);
    const cv::Rect bounds(0, 0, gray.cols, gray.rows);
    std::vector<FaceBox> out;
    for (const cv::Rect &prior : expected) {
      // Half a face on each side: between two analysed frames a face moves far less.
      const cv::Rect area = cv::Rect(prior.x - prior.width / 2, prior.y - prior.height / 2,
                                     prior.width * 2, prior.height * 2) &
                            bounds;
      if (area.empty() || prior.width <= 0 || prior.height <= 0) continue;
      // The known face at tracking size: the detector still finds it if it shrinks by a third
      // or grows, and the search costs about (2 tracking sizes)^2 pixels whatever the face
      // size. Never upsampled: a face that small was found at full resolution anyway.
      const double scale = std::min(
          1.0, static_cast<double>(tracking_face_size()) / std::min(prior.width, prior.height));
      const cv::Mat view = gray(area);
      const cv::Mat *image = &view;
      if (scale < 1.0) {
        const cv::Size size(std::max(1, static_cast<int>(std::lround(area.width * scale))),
                            std::max(1, static_cast<int>(std::lround(area.height * scale))));
        cv::resize(view, small_, size, 0, 0, cv::INTER_AREA);
        image = &small_;
      }
      std::vector<FaceBox> found =
          to_frame(detect_scaled(*image, window_size()), *image, view, area.tl(), bounds);
      const FaceBox *best = nullptr;
      float best_iou = 0.f;
      for (const FaceBox &face : found) {
        const float iou = intersection_over_union(face.box, prior);
        if (iou > best_iou) {
          best_iou = iou;
          best = &face;
        }
      }
      if (best == nullptr) continue;
      // Two expected boxes on one face (a track about to be merged away) give it once.
      const bool duplicate = std::any_of(out.begin(), out.end(), [&](const FaceBox &f) {
        return intersection_over_union(f.box, best->box) > 0.5f;
      });
      if (!duplicate) out.push_back(*best);
    }
    sort_by_area(out);
    return out;
  }

 protected:
  // Every detector takes 8-bit grey; those that can use colour also take BGR.
  virtual bool accepts_colour() const { return false; }

  // The smallest face the detector can see, in detection-scale pixels.
  virtual int window_size() const = 0;
  // The size a known face is shown at by detect_near, in detection-scale pixels.
  virtual int tracking_face_size() const { return window_size() * 3 / 2; }
  // Boxes in `image` pixels, confidences already in [0, 1].
  virtual std::vector<FaceBox> detect_scaled(const cv::Mat &image, int min_size) = 0;

 private:
  void check_frame_type(const cv::Mat &frame) const {
    if (frame.type() == CV_8UC1 || (accepts_colour() && frame.type() == CV_8UC3)) return;
    throw std::invalid_argument(accepts_colour()
                                    ? "face detection needs an 8-bit grey or BGR frame"
                                    : "face detection needs an 8-bit single-channel frame");
  }

  // max_width sets the speed, but shrinking a min_face_size face below the detector's window
  // would silently miss the faces the user asked for. So the scale is raised until
  // min_face_size maps to the window, trading speed for recall, but never above full
  // resolution: faces between min_face_size and the window at full size are then beyond the
  // detector, and upsampling to reach them would cost 4x per octave on every frame.
  double detection_scale(int width) const {
    double scale = 1.0;
    if (options_.max_width > 0 && width > options_.max_width) {
      scale = static_cast<double>(options_.max_width) / width;
    }
    if (options_.min_face_size > 0 && options_.min_face_size * scale < window_size()) {
      scale = std::min(1.0, static_cast<double>(window_size()) / options_.min_face_size);
    }
    return scale;
  }

  std::vector<FaceBox> to_frame(std::vector<FaceBox> found, const cv::Mat &image,
                                const cv::Mat &frame) const {
    std::vector<FaceBox> out = to_frame(std::move(found), image, frame, cv::Point(0, 0),
                                        cv::Rect(0, 0, frame.cols, frame.rows));
    sort_by_area(out);
    return out;
  }

  // Boxes found in `image`, a resized copy of `region` whose top-left corner is `origin` in the
  // frame, mapped to frame pixels and clipped to `bounds`; min_face_size applies.
  std::vector<FaceBox> to_frame(std::vector<FaceBox> found, const cv::Mat &image,
                                const cv::Mat &region, cv::Point origin,
                                const cv::Rect &bounds) const {
    // Per-axis factors from the real sizes: the rounded size differs slightly from scale.
    const double sx = static_cast<double>(region.cols) / image.cols;
    const double sy = static_cast<double>(region.rows) / image.rows;
    std::vector<FaceBox> out;
    out.reserve(found.size());
    for (FaceBox &face : found) {
      const cv::Rect &b = face.box;
      const int x0 = origin.x + static_cast<int>(std::lround(b.x * sx));
      const int y0 = origin.y + static_cast<int>(std::lround(b.y * sy));
      const int x1 = origin.x + static_cast<int>(std::lround((b.x + b.width) * sx));
      const int y1 = origin.y + static_cast<int>(std::lround((b.y + b.height) * sy));
      const cv::Rect clipped = cv::Rect(x0, y0, x1 - x0, y1 - y0) & bounds;
      if (clipped.empty() || too_small(clipped, options_.min_face_size)) continue;
      std::vector<cv::Point2f> landmarks;
      landmarks.reserve(face.landmarks.size());
      for (const cv::Point2f &p : face.landmarks) {
        landmarks.emplace_back(static_cast<float>(origin.x + p.x * sx),
                               static_cast<float>(origin.y + p.y * sy));
      }
      out.push_back({clipped, face.confidence, std::move(landmarks)});
    }
    return out;
  }

  static void sort_by_area(std::vector<FaceBox> &faces) {
    std::stable_sort(faces.begin(), faces.end(), [](const FaceBox &a, const FaceBox &b) {
      return a.box.area() > b.box.area();
    });
  }

  DetectorOptions options_;
  cv::Mat small_;
};

class HogDetector final : public DetectorBase {
 public:
  // Each instance owns its detector: dlib's object_detector keeps scan state in the object and
  // is not safe for concurrent calls. It is a copy of one decoded per process: decoding dlib's
  // compressed model costs about 0.35 s of CPU, which every element start paid.
  explicit HogDetector(const DetectorOptions &options)
      : DetectorBase(options), detector_(decoded_frontal_face_detector()) {}

 protected:
  int window_size() const override { return kHogWindow; }

  // The window bounds the smallest face; min_face_size is applied in full-frame pixels later.
  std::vector<FaceBox> detect_scaled(const cv::Mat &image, int /*min_size*/) override {
    // A view on the Mat's pixels; dlib reads it in place.
    const dlib::cv_image<unsigned char> view(image);
    std::vector<std::pair<double, dlib::rectangle>> dets;
    detector_(view, dets, /*adjust_threshold=*/0.0);
    std::vector<FaceBox> out;
    out.reserve(dets.size());
    for (const auto &[score, r] : dets) {
      const cv::Rect box(static_cast<int>(r.left()), static_cast<int>(r.top()),
                         static_cast<int>(r.width()), static_cast<int>(r.height()));
      out.push_back({box, logistic(score), {}});
    }
    return out;
  }

 private:
  static const dlib::frontal_face_detector &decoded_frontal_face_detector() {
    static const dlib::frontal_face_detector decoded = dlib::get_frontal_face_detector();
    return decoded;
  }

  dlib::frontal_face_detector detector_;
};

class HaarDetector final : public DetectorBase {
 public:
  explicit HaarDetector(const DetectorOptions &options) : DetectorBase(options) {
    const std::string path =
        options.haar_cascade.empty() ? kDefaultHaarCascade : options.haar_cascade;
    // Checked first: OpenCV would also log its own error line for a missing file.
    if (access(path.c_str(), R_OK) != 0) {
      throw std::runtime_error(
          "cannot read Haar cascade '" + path + "'" +
          (options.haar_cascade.empty() ? " (Debian's opencv-data package provides it)" : ""));
    }
    bool loaded = false;
    try {
      loaded = cascade_.load(path);
    } catch (const cv::Exception &e) {
      throw std::runtime_error("cannot load Haar cascade '" + path + "': " + e.what());
    }
    if (!loaded || cascade_.empty()) {
      throw std::runtime_error("cannot load Haar cascade '" + path + "': not a cascade file");
    }
    const cv::Size window = cascade_.getOriginalWindowSize();
    window_ = std::max(1, std::max(window.width, window.height));
  }

 protected:
  int window_size() const override { return window_; }

  std::vector<FaceBox> detect_scaled(const cv::Mat &image, int min_size) override {
    std::vector<cv::Rect> boxes;
    std::vector<int> reject_levels;
    std::vector<double> level_weights;
    // outputRejectLevels adds, per grouped box, the last stage's sum; the boxes are the same as
    // without it. With the default cascade that sum was 5-10 on clear faces and -1.2..1.1 on
    // false positives, so its logistic ranks them apart.
    cascade_.detectMultiScale(image, boxes, reject_levels, level_weights, 1.1, 3, 0,
                              cv::Size(min_size, min_size), cv::Size(),
                              /*outputRejectLevels=*/true);
    const bool weighted = level_weights.size() == boxes.size();
    std::vector<FaceBox> out;
    out.reserve(boxes.size());
    for (size_t i = 0; i < boxes.size(); ++i) {
      out.push_back({boxes[i], weighted ? logistic(level_weights[i]) : 1.f, {}});
    }
    return out;
  }

 private:
  cv::CascadeClassifier cascade_;
  int window_ = 24;
};

// YuNet 2022 (libfacedetection.train, MIT), the version OpenCV 4.6's FaceDetectorYN reads.
class YunetDetector final : public DetectorBase {
 public:
  explicit YunetDetector(const DetectorOptions &options) : DetectorBase(options) {
    const std::string path =
        options.yunet_model.empty() ? default_yunet_model_path() : options.yunet_model;
    if (access(path.c_str(), R_OK) != 0) {
      throw std::runtime_error("cannot read the YuNet face detector model '" + path + "'");
    }
    if (!(options.yunet_score_threshold > 0.f && options.yunet_score_threshold < 1.f)) {
      throw std::invalid_argument("YuNet's score threshold must lie in (0, 1)");
    }
    try {
      detector_ = cv::FaceDetectorYN::create(path, "", cv::Size(kAlign, kAlign),
                                             options.yunet_score_threshold, kNmsThreshold, kTopK);
    } catch (const cv::Exception &e) {
      throw std::runtime_error("cannot load the YuNet face detector model '" + path +
                               "': " + e.what());
    }
    if (detector_.empty()) {
      throw std::runtime_error("cannot load the YuNet face detector model '" + path + "'");
    }
  }

 protected:
  bool accepts_colour() const override { return true; }
  int window_size() const override { return kYunetSmallestFace; }
  int tracking_face_size() const override { return kYunetTrackingFaceSize; }

  std::vector<FaceBox> detect_scaled(const cv::Mat &image, int min_size) override {
    // The 2022 network's pooling layers fail on sides that are not multiples of 32 (and on
    // tiny ones): pad right and bottom with black, which moves no box.
    const int width = std::max(kMinSide, (image.cols + kAlign - 1) / kAlign * kAlign);
    const int height = std::max(kMinSide, (image.rows + kAlign - 1) / kAlign * kAlign);
    // The network wants three channels; a grey frame repeated into them scores within 1% of
    // colour (real-photos and yonsei faces, bench clip).
    if (image.channels() == 1) {
      cv::cvtColor(image, colour_, cv::COLOR_GRAY2BGR);
    } else {
      image.copyTo(colour_);
    }
    cv::copyMakeBorder(colour_, padded_, 0, height - image.rows, 0, width - image.cols,
                       cv::BORDER_CONSTANT, cv::Scalar::all(0));
    if (detector_->getInputSize() != padded_.size()) detector_->setInputSize(padded_.size());
    cv::Mat faces;
    detector_->detect(padded_, faces);
    std::vector<FaceBox> out;
    for (int i = 0; i < faces.rows; ++i) {
      const float *row = faces.ptr<float>(i);
      const cv::Rect box(
          static_cast<int>(std::lround(row[0])), static_cast<int>(std::lround(row[1])),
          static_cast<int>(std::lround(row[2])), static_cast<int>(std::lround(row[3])));
      if (too_small(box, min_size) || is_flat(image, box)) continue;
      FaceBox face{box, row[14], {}};
      for (int k = 0; k < 5; ++k) face.landmarks.emplace_back(row[4 + 2 * k], row[5 + 2 * k]);
      if (!plausible_landmarks(face)) continue;
      out.push_back(std::move(face));
    }
    return out;
  }

 private:
  // On (nearly) pure black frames the 2022 network reports two frame-high "faces" with scores
  // near 0.8: a broadcast's black slate must not raise face alarms. A face has texture;
  // those boxes have none (a standard deviation of 0-1 grey levels).
  static bool is_flat(const cv::Mat &image, const cv::Rect &box) {
    const cv::Rect inside = box & cv::Rect(0, 0, image.cols, image.rows);
    if (inside.empty()) return true;
    cv::Scalar mean, deviation;
    cv::meanStdDev(image(inside), mean, deviation);
    const int channels = image.channels();
    double largest = 0.0;
    for (int c = 0; c < channels; ++c) largest = std::max(largest, deviation[c]);
    return largest < kFlatDeviation;
  }

  // The same frame-high boxes come on noise: on uniform noise (what a lost analogue signal
  // shows) every one of 200 frames gave one, scored 0.72-0.89, and one in five blurred-noise
  // frames did. Their five points give them away: eyes at the box's top edge, points outside
  // the box. On a face the eyes lie well below the top of YuNet's box (which includes the
  // forehead), the mouth corners below the eyes, every point inside the box.
  static bool plausible_landmarks(const FaceBox &face) {
    const cv::Rect2f box(face.box);
    const auto at = [&](int k) {
      return cv::Point2f((face.landmarks[k].x - box.x) / box.width,
                         (face.landmarks[k].y - box.y) / box.height);
    };
    for (int k = 0; k < 5; ++k) {
      const cv::Point2f p = at(k);
      if (p.x < -kLandmarkSlack || p.x > 1 + kLandmarkSlack || p.y < -kLandmarkSlack ||
          p.y > 1 + kLandmarkSlack) {
        return false;
      }
    }
    const float eyes = std::max(at(0).y, at(1).y);
    const float mouth = std::min(at(3).y, at(4).y);
    if (std::min(at(0).y, at(1).y) < kLowestEyeTop || mouth <= eyes) return false;
    // The rest of them crowd every point into the box's right edge (eye midpoint beyond 0.6
    // of the width, eyes less than 0.3 apart, nose beyond 0.75) and score under 0.95. Of 1,778
    // faces YuNet found on 600 photos each of real-photos, yonsei/real and dfdc/real, none
    // was like that: the few turned that far scored 0.99 or more.
    const float eye_mid = (at(0).x + at(1).x) / 2;
    const float eye_gap = std::abs(at(1).x - at(0).x);
    if (eye_mid > 0.6f && eye_gap < 0.3f && at(2).x > 0.75f && face.confidence < 0.95f) {
      return false;
    }
    // On blurred noise a few come with eyes at the box's sides: at most 0.62 of the width
    // apart on those 1,778 faces, 0.75 on the noise.
    return eye_gap <= kWidestEyeGap;
  }

  static constexpr double kFlatDeviation = 4.0;
  static constexpr float kLandmarkSlack = 0.05f;  // of the box's size
  static constexpr float kLowestEyeTop = 0.15f;   // eyes sat at 0.35-0.45 on the test photos
  static constexpr float kWidestEyeGap = 0.7f;
  static constexpr int kAlign = 32;
  static constexpr int kMinSide = 64;
  static constexpr float kNmsThreshold = 0.3f;
  static constexpr int kTopK = 5000;

  cv::Ptr<cv::FaceDetectorYN> detector_;
  cv::Mat colour_, padded_;
};

}  // namespace

std::string default_yunet_model_path() {
  static const char *kFileName = "yunet-202202.onnx";
  if (const char *env = std::getenv("DEEPFAKE_FACE_DETECTOR_MODEL"); env != nullptr && *env) {
    return env;
  }
  const std::string installed = std::string(DFD_INSTALLED_MODEL_DIR) + "/" + kFileName;
  if (access(installed.c_str(), R_OK) == 0) return installed;
  return std::string(DFD_SOURCE_MODEL_DIR) + "/" + kFileName;
}

std::unique_ptr<FaceDetector> FaceDetector::create(const DetectorOptions &options) {
  if (options.max_width < 0) throw std::invalid_argument("max_width must not be negative");
  if (options.min_face_size < 0) throw std::invalid_argument("min_face_size must not be negative");
  switch (options.kind) {
    case DetectorKind::Hog:
      return std::make_unique<HogDetector>(options);
    case DetectorKind::Haar:
      return std::make_unique<HaarDetector>(options);
    case DetectorKind::Yunet:
      return std::make_unique<YunetDetector>(options);
  }
  throw std::invalid_argument("unknown detector kind");
}

}  // namespace dfd
