#include "video_files.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <deque>
#include <exception>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "analysis/face_analyzer.h"
#include "video_reader.h"

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

VideoFileResult score_video_file(const std::shared_ptr<Batcher> &batcher, const std::string &path,
                                 const VideoFileOptions &options) {
  VideoFileResult result;
  result.path = path;
  std::unique_ptr<VideoReader> reader;
  try {
    reader = std::make_unique<VideoReader>(path);
  } catch (const std::runtime_error &e) {
    result.error = std::string("cannot open the video: ") + e.what();
    return result;
  }
  FaceAnalyzer analyzer(FaceDetector::create(options.detector), batcher, options.tracker);
  AnalysisSettings settings;
  settings.margin = options.crop_margin;
  settings.explain = false;
  // Frames in flight, oldest first: their scores are folded into the tracks in frame order, as
  // the element does when it pushes them.
  std::deque<FrameAnalysis> pending;
  const auto apply_oldest = [&]() {
    const FrameAnalysis &analysis = pending.front();
    if (analysis.result.valid()) {
      const std::vector<Prediction> &scored = analysis.result.get();
      analyzer.apply(analysis, scored);
      for (size_t i = 0; i < scored.size() && i < analysis.submitted.size(); ++i) {
        result.faces.push_back({path, "track-" + std::to_string(analysis.submitted[i].track_id),
                                static_cast<double>(scored[i].probability)});
      }
      result.faces_scored += scored.size();
    }
    pending.pop_front();
  };

  const int step = analysis_step(options, reader->frame_count());
  result.frame_step = step;
  // Enough frames ahead to fill a batch; the batcher runs each batch as soon as it is free.
  const size_t ahead = static_cast<size_t>(std::max(2, batcher->options().batch_size));
  try {
    while (std::unique_ptr<FrameView> frame = reader->next()) {
      const size_t index = result.frames_read++;
      if (index % static_cast<size_t>(step) != 0) continue;
      pending.push_back(analyzer.analyse(*frame, static_cast<int64_t>(index), settings));
      frame.reset();
      while (pending.size() > ahead) apply_oldest();
      ++result.frames_analysed;
      if (options.frames_per_video > 0 &&
          result.frames_analysed >= static_cast<size_t>(options.frames_per_video)) {
        break;
      }
    }
  } catch (const std::exception &e) {
    result.error = e.what();
  }
  try {
    while (!pending.empty()) apply_oldest();
  } catch (const std::exception &e) {
    if (result.error.empty()) result.error = std::string("inference failed: ") + e.what();
    pending.clear();
  }
  if (result.error.empty() && result.frames_read == 0) result.error = "no frame could be decoded";
  return result;
}

}  // namespace dfd::eval
