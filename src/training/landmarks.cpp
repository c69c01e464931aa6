#include "landmarks.h"

#include <unistd.h>

#include <dlib/image_processing/shape_predictor.h>
#include <dlib/opencv/cv_image.h>
#include <dlib/serialize.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "analysis/face_detector.h"
#include "analysis/tracker.h"
#include "atomic_file.h"
#include "core/json_strict.h"

namespace dfd::training {

namespace {

// HOG needs some context around a face: on these face-dominant crops it found a face in 77%
// of Yonsei reals, 87% of fakes and 48% of real-photos as they are, and in 89%, 93% and 53%
// after replicating 15% of the side around the image (150 files of each, measured). Small
// images are also enlarged, since HOG cannot see faces under its 80 px window.
constexpr double kDetectionPadding = 0.15;
constexpr int kMinDetectionSide = 320;
// Bumped whenever detection or landmarking changes, so stale caches are rebuilt.
constexpr int kCacheVersion = 3;

// Where dlib's HOG box lies relative to YuNet's on the same face, as fractions of YuNet's box:
// centre offset and size. Medians over the 323 of 450 images (150 each of yonsei/real,
// real-photos and dfdc/real) where both found the face: HOG's box is as wide, 17% shorter and
// sits 5% lower (no forehead).
constexpr double kHogFromYunetDx = -0.014;
constexpr double kHogFromYunetDy = 0.054;
constexpr double kHogFromYunetWidth = 1.020;
constexpr double kHogFromYunetHeight = 0.828;
// A HOG box overlapping the crop detector's at least this much is the same face.
constexpr float kSameFaceOverlap = 0.3f;

cv::Rect hog_style_box(const cv::Rect &yunet) {
  const double cx = yunet.x + yunet.width * (0.5 + kHogFromYunetDx);
  const double cy = yunet.y + yunet.height * (0.5 + kHogFromYunetDy);
  const double w = yunet.width * kHogFromYunetWidth;
  const double h = yunet.height * kHogFromYunetHeight;
  return cv::Rect(static_cast<int>(std::lround(cx - w / 2)),
                  static_cast<int>(std::lround(cy - h / 2)), static_cast<int>(std::lround(w)),
                  static_cast<int>(std::lround(h)));
}

const json::Value &field(const json::Value &object, const char *key) {
  const json::Value *value = json::find(object, key);
  if (!value) throw std::runtime_error(std::string("field '") + key + "' is missing");
  return *value;
}

}  // namespace

const char *detector_kind_name(DetectorKind kind) {
  switch (kind) {
    case DetectorKind::Hog:
      return "hog";
    case DetectorKind::Haar:
      return "haar";
    case DetectorKind::Yunet:
      return "yunet";
  }
  return "unknown";
}

struct Landmarker::Impl {
  std::unique_ptr<FaceDetector> hog;
  std::unique_ptr<FaceDetector> crop;  // null when it is HOG itself
  dlib::shape_predictor predictor;
};

Landmarker::Landmarker(DetectorKind crop_detector, const std::string &predictor_path)
    : impl_(std::make_unique<Impl>()) {
  if (::access(predictor_path.c_str(), R_OK) != 0) {
    throw std::runtime_error("cannot read the 68-point shape predictor '" + predictor_path +
                             "' (Debian's libdlib-data package provides it)");
  }
  try {
    dlib::deserialize(predictor_path) >> impl_->predictor;
  } catch (const std::exception &e) {
    throw std::runtime_error("cannot load the shape predictor '" + predictor_path +
                             "': " + e.what());
  }
  DetectorOptions options;
  options.kind = DetectorKind::Hog;
  options.max_width = 0;
  options.min_face_size = 0;
  impl_->hog = FaceDetector::create(options);
  if (crop_detector != DetectorKind::Hog) {
    options.kind = crop_detector;
    impl_->crop = FaceDetector::create(options);
  }
}

Landmarker::~Landmarker() = default;

FaceShape Landmarker::find(const cv::Mat &bgr) {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    throw std::invalid_argument("landmarks need a non-empty 8-bit 3-channel image");
  }
  cv::Mat gray;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  const int pad = static_cast<int>(kDetectionPadding * std::max(gray.cols, gray.rows));
  cv::Mat padded;
  cv::copyMakeBorder(gray, padded, pad, pad, pad, pad, cv::BORDER_REPLICATE);
  const int short_side = std::min(padded.cols, padded.rows);
  const double scale =
      short_side < kMinDetectionSide ? static_cast<double>(kMinDetectionSide) / short_side : 1.0;
  cv::Mat search = padded;
  if (scale > 1.0) cv::resize(padded, search, cv::Size(), scale, scale, cv::INTER_LINEAR);
  // search pixels -> image pixels
  const auto to_image = [&](double v) { return v / scale - pad; };

  FaceShape shape;
  const cv::Rect whole(static_cast<int>(std::lround(pad * scale)),
                       static_cast<int>(std::lround(pad * scale)),
                       static_cast<int>(std::lround(gray.cols * scale)),
                       static_cast<int>(std::lround(gray.rows * scale)));
  const std::vector<FaceBox> hog_faces = impl_->hog->detect(search);
  cv::Rect crop_search = whole;      // search pixels
  cv::Rect landmark_search = whole;  // the box the 68 points are fitted in
  if (!impl_->crop) {
    if (!hog_faces.empty()) {
      crop_search = landmark_search = hog_faces.front().box;  // sorted largest first
      shape.detected = true;
    }
  } else {
    const std::vector<FaceBox> faces = impl_->crop->detect(search);
    if (!faces.empty()) {
      crop_search = faces.front().box;
      shape.detected = true;
      landmark_search = hog_style_box(crop_search);
      float best = kSameFaceOverlap;
      for (const FaceBox &hog : hog_faces) {
        const float overlap = intersection_over_union(hog.box, crop_search);
        if (overlap >= best) {
          best = overlap;
          landmark_search = hog.box;
        }
      }
    } else if (!hog_faces.empty()) {
      landmark_search = hog_faces.front().box;  // points still help the pseudo-fakes
    }
  }
  const cv::Rect box_search = landmark_search;
  const dlib::cv_image<unsigned char> view(search);
  const dlib::rectangle rect(box_search.x, box_search.y, box_search.x + box_search.width - 1,
                             box_search.y + box_search.height - 1);
  const dlib::full_object_detection parts = impl_->predictor(view, rect);
  shape.points.reserve(parts.num_parts());
  for (unsigned long i = 0; i < parts.num_parts(); ++i) {
    shape.points.emplace_back(static_cast<float>(to_image(parts.part(i).x())),
                              static_cast<float>(to_image(parts.part(i).y())));
  }
  const int x0 = static_cast<int>(std::lround(to_image(crop_search.x)));
  const int y0 = static_cast<int>(std::lround(to_image(crop_search.y)));
  const int x1 = static_cast<int>(std::lround(to_image(crop_search.x + crop_search.width)));
  const int y1 = static_cast<int>(std::lround(to_image(crop_search.y + crop_search.height)));
  const cv::Rect bounds(0, 0, bgr.cols, bgr.rows);
  shape.box = cv::Rect(x0, y0, x1 - x0, y1 - y0) & bounds;
  if (shape.box.empty()) shape.box = bounds;
  return shape;
}

void LandmarkCache::load(const std::string &path) {
  if (::access(path.c_str(), F_OK) != 0) return;
  const std::string text = read_whole_file(path);
  const auto bad = [&](const std::string &what) {
    return std::runtime_error(path + ": landmark cache " + what +
                              " (delete the file to rebuild it)");
  };
  json::Value root;
  try {
    root = json::parse(text);
  } catch (const json::ParseError &e) {
    throw bad(std::string("is not valid JSON: ") + e.what());
  }
  const json::Value *version = json::find(root, "version");
  if (!version || !version->is_number()) throw bad("has no version");
  if (json::as_number(*version) != kCacheVersion) return;  // made by another detector: rebuild
  const json::Value *detector = json::find(root, "detector");
  if (!detector || !detector->is_string() ||
      json::as_string(*detector) != detector_kind_name(detector_)) {
    return;  // boxes of another crop detector: rebuild
  }
  const json::Value *entries = json::find(root, "entries");
  if (!entries || !entries->is_object()) throw bad("has no entries object");
  try {
    for (const auto &[image, value] : json::as_object(*entries)) {
      Entry entry;
      entry.file_size = static_cast<uintmax_t>(json::as_number(field(value, "bytes")));
      entry.shape.detected = json::as_bool(field(value, "detected"));
      const json::Array &box = json::as_array(field(value, "box"));
      if (box.size() != 4) throw std::runtime_error("'" + image + "': box is not 4 numbers");
      entry.shape.box = cv::Rect(
          static_cast<int>(json::as_number(box[0])), static_cast<int>(json::as_number(box[1])),
          static_cast<int>(json::as_number(box[2])), static_cast<int>(json::as_number(box[3])));
      const json::Array &points = json::as_array(field(value, "points"));
      if (points.size() != 136) {
        throw std::runtime_error("'" + image + "': points do not hold 68 (x, y) pairs");
      }
      for (size_t i = 0; i < points.size(); i += 2) {
        entry.shape.points.emplace_back(static_cast<float>(json::as_number(points[i])),
                                        static_cast<float>(json::as_number(points[i + 1])));
      }
      entries_[image] = std::move(entry);
    }
  } catch (const std::runtime_error &e) {
    // A missing field, or an accessor that met the wrong type.
    throw bad(std::string("has a malformed entry: ") + e.what());
  }
}

void LandmarkCache::save(const std::string &path) const {
  json::Object entries;
  for (const auto &[image, entry] : entries_) {
    json::Value value;
    value["bytes"] = static_cast<double>(entry.file_size);
    value["detected"] = entry.shape.detected;
    const cv::Rect &b = entry.shape.box;
    value["box"] = json::Array{b.x, b.y, b.width, b.height};
    json::Array points;
    for (const cv::Point2f &p : entry.shape.points) {
      // json::dump writes a float32 in the shortest digits that read back to the same float,
      // so a cached run blends exactly as the run that filled the cache did.
      points.emplace_back(static_cast<double>(p.x));
      points.emplace_back(static_cast<double>(p.y));
    }
    value["points"] = std::move(points);
    entries.emplace(image, std::move(value));
  }
  json::Value root;
  root["version"] = kCacheVersion;
  root["detector"] = detector_kind_name(detector_);
  root["predictor"] = kDefaultShapePredictor;
  root["entries"] = std::move(entries);
  write_file_atomically(path, json::dump(root));
}

const FaceShape *LandmarkCache::find(const std::string &image_path, uintmax_t file_size) const {
  const auto it = entries_.find(image_path);
  if (it == entries_.end() || it->second.file_size != file_size) return nullptr;
  return &it->second.shape;
}

void LandmarkCache::put(const std::string &image_path, uintmax_t file_size, FaceShape shape) {
  entries_[image_path] = Entry{file_size, std::move(shape)};
}

}  // namespace dfd::training
