// 68-point face landmarks for the pseudo-fakes, and the face box that training crops by. The
// box comes from the detector the element uses (YuNet, or HOG for older configs), so training
// sees faces cropped the way inference will crop them.
#pragma once

#include <map>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "analysis/face_detector.h"

namespace dfd::training {

constexpr const char *kDefaultShapePredictor =
    "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";

struct FaceShape {
  // The crop detector's box in image pixels, or the whole image when no face was found (the
  // training images are face-dominant crops, so that is the best remaining guess).
  cv::Rect box;
  bool detected = false;
  std::vector<cv::Point2f> points;  // 68, dlib's iBUG order
};

class Landmarker {
 public:
  // Throws std::runtime_error naming the file when the shape predictor cannot be read
  // (Debian's libdlib-data provides the default).
  // `crop_detector` gives FaceShape::box. The 68 points are fitted in a HOG-style box, the
  // kind dlib's predictor was trained on: HOG's own where it finds the face, else one derived
  // from the crop detector's.
  explicit Landmarker(DetectorKind crop_detector = DetectorKind::Hog,
                      const std::string &predictor_path = kDefaultShapePredictor);
  ~Landmarker();
  Landmarker(const Landmarker &) = delete;
  Landmarker &operator=(const Landmarker &) = delete;

  // Largest detected face, or the whole image; `bgr` is CV_8UC3.
  FaceShape find(const cv::Mat &bgr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Landmarks per image file, so each image is landmarked once per machine rather than once per
// epoch. The file is JSON; an entry is reused only while the image's size in bytes is unchanged.
class LandmarkCache {
 public:
  // Entries are valid for one crop detector: a cache made with another is rebuilt.
  explicit LandmarkCache(DetectorKind crop_detector = DetectorKind::Hog)
      : detector_(crop_detector) {}

  // An absent file is an empty cache; an unreadable or malformed one throws std::runtime_error.
  void load(const std::string &path);
  // Atomic (temporary file, then rename).
  void save(const std::string &path) const;

  const FaceShape *find(const std::string &image_path, uintmax_t file_size) const;
  void put(const std::string &image_path, uintmax_t file_size, FaceShape shape);
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    uintmax_t file_size = 0;
    FaceShape shape;
  };
  DetectorKind detector_;
  std::map<std::string, Entry> entries_;
};

const char *detector_kind_name(DetectorKind kind);

}  // namespace dfd::training
