#include "video_files.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "imaging/preprocess.h"

namespace dfd::eval {

namespace fs = std::filesystem;

std::vector<std::string> list_video_files(const std::string &dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) throw std::runtime_error(dir + ": not a readable folder");
  std::vector<std::string> out;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, error);
  if (error) throw std::runtime_error(dir + ": cannot list: " + error.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (error) throw std::runtime_error(dir + ": cannot list: " + error.message());
    if (!it->is_regular_file(error)) continue;
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext == ".mp4" || ext == ".m4v" || ext == ".mov" || ext == ".avi" || ext == ".mkv" ||
        ext == ".webm" || ext == ".gif") {
      out.push_back(it->path().string());
    }
  }
  if (out.empty()) throw std::runtime_error(dir + ": no video files");
  std::sort(out.begin(), out.end());
  return out;
}

int analysis_step(const VideoFileOptions &options, double frame_count) {
  if (options.frame_step > 0) return options.frame_step;
  if (frame_count <= 0 || !std::isfinite(frame_count)) return kUnknownCountStep;
  if (options.frames_per_video <= 0) return 1;
  return std::max(1, static_cast<int>(frame_count) / options.frames_per_video);
}

VideoFileResult score_video_file(Engine &engine, FaceDetector &detector, const std::string &path,
                                 const VideoFileOptions &options) {
  VideoFileResult result;
  result.path = path;
  cv::VideoCapture capture;
  for (const int api : {cv::CAP_FFMPEG, cv::CAP_GSTREAMER}) {
    try {
      if (capture.open(path, api)) break;
    } catch (const cv::Exception &) {
      // The next backend may still read it.
    }
  }
  if (!capture.isOpened()) {
    result.error = "cannot open the video";
    return result;
  }
  const ModelConfig &config = engine.config();
  Tracker tracker(options.tracker);
  std::vector<ModelInput> pending;
  std::vector<std::string> pending_ids;
  const auto flush = [&]() {
    if (pending.empty()) return;
    const std::vector<uint8_t> packed = pack_model_inputs(pending, config.image_size);
    const std::vector<Prediction> scored = engine.infer(packed.data(), pending.size(), false);
    for (size_t i = 0; i < scored.size(); ++i) {
      const double probability = 1.0 / (1.0 + std::exp(-static_cast<double>(scored[i].logit)));
      result.faces.push_back({path, pending_ids[i], probability});
    }
    result.faces_scored += scored.size();
    pending.clear();
    pending_ids.clear();
  };

  const int step = analysis_step(options, capture.get(cv::CAP_PROP_FRAME_COUNT));
  result.frame_step = step;
  cv::Mat frame, gray;
  try {
    while (capture.read(frame)) {
      const size_t index = result.frames_read++;
      if (index % static_cast<size_t>(step) != 0) continue;
      if (frame.empty() || frame.type() != CV_8UC3) continue;
      cv::cvtColor(frame, gray, cv::COLOR_BGR2GRAY);
      const std::vector<FaceBox> faces = detector.detect(gray);
      const std::vector<uint64_t> ids = tracker.associate(faces);
      for (size_t f = 0; f < faces.size(); ++f) {
        const cv::Rect box = seed_square_box(faces[f].box, frame.size(), options.crop_margin);
        if (box.empty()) continue;
        pending.push_back(make_model_input(frame(box), config));
        pending_ids.push_back("track-" + std::to_string(ids[f]));
      }
      if (pending.size() >= static_cast<size_t>(std::max(1, options.batch_size))) flush();
      ++result.frames_analysed;
      if (options.frames_per_video > 0 &&
          result.frames_analysed >= static_cast<size_t>(options.frames_per_video)) {
        break;
      }
    }
    flush();
  } catch (const cv::Exception &e) {
    result.error = std::string("decoding failed: ") + e.what();
  }
  if (result.error.empty() && result.frames_read == 0) result.error = "no frame could be decoded";
  return result;
}

}  // namespace dfd::eval
