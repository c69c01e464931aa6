// Face detection on video frames: YuNet (a small CNN, through OpenCV's FaceDetectorYN), dlib's
// HOG frontal detector or an OpenCV Haar cascade. Works on an 8-bit grayscale frame (for YUV
// formats the Y plane as it is; YuNet also takes BGR), on a copy downscaled to at most
// `max_width`, and reports boxes in full-frame pixels.
#pragma once

#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace dfd {

enum class DetectorKind { Hog, Haar, Yunet };

struct DetectorOptions {
  DetectorKind kind = DetectorKind::Hog;
  int max_width = 640;       // detection runs on a copy at most this wide (0: full size)
  int min_face_size = 64;    // longer box side, full-frame pixels; smaller faces are ignored
  std::string haar_cascade;  // empty: OpenCV's haarcascade_frontalface_default.xml from opencv-data
  std::string yunet_model;   // empty: default_yunet_model_path()
  float yunet_score_threshold = 0.7f;
};

// models/yunet-202202.onnx, installed or in the source tree; DEEPFAKE_FACE_DETECTOR_MODEL
// overrides it.
std::string default_yunet_model_path();

struct FaceBox {
  cv::Rect box;            // full-frame pixels, inside the frame
  float confidence = 0.f;  // detector score mapped to [0, 1]
  // YuNet's five points in full-frame pixels: right eye, left eye, nose tip, right and left
  // mouth corners (the person's right and left). Empty for HOG and Haar.
  std::vector<cv::Point2f> landmarks;
};

class FaceDetector {
 public:
  // Throws std::runtime_error with a clear message (e.g. a cascade file that does not load).
  static std::unique_ptr<FaceDetector> create(const DetectorOptions &options);
  virtual ~FaceDetector() = default;
  // Boxes sorted by area, largest first (the seed's face index is its size rank).
  virtual std::vector<FaceBox> detect(const cv::Mat &gray) = 0;
  // Searches only around `expected` boxes (faces found on an earlier frame): each in a window
  // of twice its size, downscaled so that the face is a little over the detector's smallest
  // size. A few milliseconds instead of a whole-frame scan, so a tracker can follow known faces
  // on most frames and leave the search for new faces to a periodic detect(). Returns at most
  // one face per expected box (the detection overlapping it most), no two the same face,
  // sorted by area, largest first; min_face_size applies.
  virtual std::vector<FaceBox> detect_near(const cv::Mat &gray,
                                           const std::vector<cv::Rect> &expected) = 0;
};

}  // namespace dfd
