// Face detectors side by side (YuNet, dlib HOG, optionally OpenCV Haar) with deepfakedetect's
// default settings (detection-max-width 640, min-face-size 64, whole-frame search): recall,
// false detections and milliseconds per frame at 720p and 1080p, on the shared bench clips and
// on the shared face photos placed in HD frames. Prints one markdown table.
//
//   deepfake-bench-detectors [--data DIR] [--detectors yunet,hog] [--image-step N]
//
// DIR is the shared data folder (default ../shared/data from the source root, or
// $DFD_SHARED_DATA). How the truth is counted:
// - bench-1080p25-4faces.mp4 is a 2x2 mosaic of four talking heads, one per quadrant of the
//   frame, in every frame; bench-720p25-1face.mp4 shows one face in every frame. Each clip is
//   run at 720p and 1080p (scaled with INTER_AREA / INTER_LINEAR). A cell (a quadrant, or the
//   whole frame) is found when a detection has at least 80% of its box inside the cell and a
//   short side of at least 10% of the cell's; every other detection (a second one in a cell,
//   one across cells, a tiny one) is a false detection.
// - Photos (faces/real-photos and faces/yonsei/real: one face each, face-dominant crops of at
//   most 320 px) are pasted at their own size, one per frame, at a seeded random place on a
//   mid-grey 1280x720 or 1920x1080 frame: small faces in an HD frame. The photo's rectangle is
//   the cell.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "analysis/face_detector.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Tally {
  size_t frames = 0, cells = 0, found = 0, all_found_frames = 0, false_detections = 0;
  double ms = 0;
};

// Counts one frame's detections against its truth cells (see the file comment).
void count(const std::vector<dfd::FaceBox> &faces, const std::vector<cv::Rect> &cells, Tally &t) {
  std::vector<bool> found(cells.size(), false);
  for (const dfd::FaceBox &face : faces) {
    bool matched = false;
    for (size_t c = 0; c < cells.size(); ++c) {
      const cv::Rect inside = face.box & cells[c];
      const bool in_cell = inside.area() >= 0.8 * face.box.area();
      const bool big_enough = std::min(face.box.width, face.box.height) >=
                              0.1 * std::min(cells[c].width, cells[c].height);
      if (in_cell && big_enough && !found[c]) {
        found[c] = true;
        matched = true;
        break;
      }
    }
    if (!matched) ++t.false_detections;
  }
  const size_t n = static_cast<size_t>(std::count(found.begin(), found.end(), true));
  ++t.frames;
  t.cells += cells.size();
  t.found += n;
  if (n == cells.size()) ++t.all_found_frames;
}

std::vector<dfd::FaceBox> timed_detect(dfd::FaceDetector &detector, const cv::Mat &gray, Tally &t) {
  const auto start = Clock::now();
  std::vector<dfd::FaceBox> faces = detector.detect(gray);
  t.ms += std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return faces;
}

cv::Mat to_size(const cv::Mat &frame, cv::Size size) {
  if (frame.size() == size) return frame;
  cv::Mat out;
  cv::resize(frame, out, size, 0, 0, size.width < frame.cols ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

Tally run_clip(dfd::FaceDetector &detector, const std::string &path, cv::Size size, int grid) {
  cv::VideoCapture capture(path, cv::CAP_FFMPEG);
  if (!capture.isOpened()) throw std::runtime_error("cannot open " + path);
  std::vector<cv::Rect> cells;
  for (int gy = 0; gy < grid; ++gy) {
    for (int gx = 0; gx < grid; ++gx) {
      cells.emplace_back(gx * size.width / grid, gy * size.height / grid, size.width / grid,
                         size.height / grid);
    }
  }
  Tally t;
  cv::Mat frame, gray;
  while (capture.read(frame)) {
    cv::cvtColor(to_size(frame, size), gray, cv::COLOR_BGR2GRAY);
    count(timed_detect(detector, gray, t), cells, t);
  }
  return t;
}

std::vector<std::string> photos(const std::string &dir, int step) {
  std::vector<std::string> all;
  for (const auto &entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".jpg") all.push_back(entry.path().string());
  }
  std::sort(all.begin(), all.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < all.size(); i += static_cast<size_t>(step)) out.push_back(all[i]);
  return out;
}

Tally run_photos(dfd::FaceDetector &detector, const std::vector<std::string> &files,
                 cv::Size size) {
  std::mt19937 rng(42);  // the same places for every detector
  Tally t;
  cv::Mat canvas(size, CV_8UC1), gray;
  for (const std::string &file : files) {
    const cv::Mat photo = cv::imread(file, cv::IMREAD_GRAYSCALE);
    if (photo.empty() || photo.cols > size.width || photo.rows > size.height) continue;
    canvas.setTo(128);
    std::uniform_int_distribution<int> x(0, size.width - photo.cols);
    std::uniform_int_distribution<int> y(0, size.height - photo.rows);
    const cv::Rect cell(x(rng), y(rng), photo.cols, photo.rows);
    photo.copyTo(canvas(cell));
    count(timed_detect(detector, canvas, t), {cell}, t);
  }
  return t;
}

double percent(size_t part, size_t whole) {
  return whole > 0 ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

void row(const char *detector, const std::string &input, const char *resolution, const Tally &t,
         bool multi) {
  char every[64] = "-";
  if (multi) {
    std::snprintf(every, sizeof every, "%zu (%.1f%%)", t.all_found_frames,
                  percent(t.all_found_frames, t.frames));
  }
  const double frames = static_cast<double>(std::max<size_t>(1, t.frames));
  std::printf("| %s | %s | %s | %zu | %.1f%% | %s | %zu (%.3f per frame) | %.1f |\n", detector,
              input.c_str(), resolution, t.frames, percent(t.found, t.cells), every,
              t.false_detections, static_cast<double>(t.false_detections) / frames, t.ms / frames);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char **argv) {
  std::string data;
  if (const char *env = std::getenv("DFD_SHARED_DATA")) data = env;
  std::string detectors = "yunet,hog";
  int image_step = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--data" && i + 1 < argc) {
      data = argv[++i];
    } else if (arg == "--detectors" && i + 1 < argc) {
      detectors = argv[++i];
    } else if (arg == "--image-step" && i + 1 < argc) {
      image_step = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr,
                   "usage: deepfake-bench-detectors [--data DIR] [--detectors yunet,hog,haar] "
                   "[--image-step N]\n");
      return 2;
    }
  }
  if (data.empty()) data = std::string(DFD_SOURCE_ROOT) + "/../shared/data";
  const std::string bench = data + "/videos/bench/";
  const std::vector<std::pair<std::string, std::vector<std::string>>> photo_sets = {
      {"faces/real-photos", photos(data + "/faces/real-photos", image_step)},
      {"faces/yonsei/real", photos(data + "/faces/yonsei/real", image_step)}};
  const std::vector<std::pair<const char *, cv::Size>> sizes = {{"720p", {1280, 720}},
                                                                {"1080p", {1920, 1080}}};

  std::printf(
      "| detector | input | frames at | frames | recall | frames with every face | "
      "false detections | ms/frame |\n|---|---|---|---|---|---|---|---|\n");
  size_t start = 0;
  while (start <= detectors.size()) {
    const size_t end = std::min(detectors.find(',', start), detectors.size());
    const std::string name = detectors.substr(start, end - start);
    start = end + 1;
    dfd::DetectorOptions options;  // deepfakedetect's defaults but the kind
    if (name == "yunet") {
      options.kind = dfd::DetectorKind::Yunet;
    } else if (name == "hog") {
      options.kind = dfd::DetectorKind::Hog;
    } else if (name == "haar") {
      options.kind = dfd::DetectorKind::Haar;
    } else {
      std::fprintf(stderr, "unknown detector '%s'\n", name.c_str());
      return 2;
    }
    std::unique_ptr<dfd::FaceDetector> detector = dfd::FaceDetector::create(options);
    // One untimed pass: the first call allocates and (YuNet) sets up the network.
    detector->detect(cv::Mat(720, 1280, CV_8UC1, cv::Scalar(128)));
    for (const auto &[label, size] : sizes) {
      row(name.c_str(), "bench-1080p25-4faces (4 faces)", label,
          run_clip(*detector, bench + "bench-1080p25-4faces.mp4", size, 2), true);
      row(name.c_str(), "bench-720p25-1face (1 face)", label,
          run_clip(*detector, bench + "bench-720p25-1face.mp4", size, 1), false);
      for (const auto &[set, files] : photo_sets) {
        row(name.c_str(), set + " (1 photo per frame)", label, run_photos(*detector, files, size),
            false);
      }
    }
  }
  return 0;
}
