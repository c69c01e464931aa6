// One video file through a GStreamer pipeline: filesrc ! decodebin ! videoconvert !
// deepfakedetect ! fakesink (or ! deepfakeoverlay ! x264enc ! mp4mux for an annotated copy),
// run as fast as the machine allows, recording the detector's `deepfake` message of every
// analysed frame. Needs gst_init() and the deepfake plugin in the registry.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace dfd::scan {

// What GStreamer uses for an unknown time (GST_CLOCK_TIME_NONE), without its headers.
constexpr uint64_t kNoTime = UINT64_MAX;

// One face of an analysed frame, as the detector's message reports it.
struct FaceObservation {
  uint64_t object_id = 0;
  int x = 0, y = 0, width = 0, height = 0;  // frame pixels
  double detection_confidence = 0.0;
  bool scored = false;      // false: the track has no score yet
  double score = 0.0;       // fake probability of this frame's analysis
  double confidence = 0.0;  // of the label (DL Streamer's meaning)
  double smoothed = 0.0;
  int analyses = 0;     // scores the track has had
  std::string label;    // fake / real (this score against the threshold) / unknown
  std::string verdict;  // the track's smoothed, hysteresis verdict
};

struct AnalysedFrame {
  uint64_t index = 0;  // position among the decoded frames, from 0
  uint64_t pts = kNoTime, stream_time = kNoTime, running_time = kNoTime, duration = kNoTime;
  uint64_t position = kNoTime;  // in the file, ns, by FrameClock (frame_clock.h)
  // The element's counters when it posted the message: its detection runs ahead of the frames
  // it pushes, so they may count later frames too.
  uint64_t frames_analysed = 0, frames_skipped = 0;
  std::vector<FaceObservation> faces;
};

struct ScanSettings {
  std::string model;  // empty: the element's default
  std::string device = "cpu";
  std::string instance_id;  // deepfakedetect's model-instance-id: one model for all files
  int batch_size = 8;
  int inference_interval = 1;
  double threshold = -1.0;    // -1: the model's
  std::string annotate_path;  // non-empty: write an annotated H.264 MP4 there
};

// Read by the progress display while a scan runs (any thread).
struct ScanProgress {
  std::atomic<uint64_t> frames{0};
  std::atomic<uint64_t> analysed{0};
  std::atomic<uint64_t> position{kNoTime};  // newest frame's position in the file, ns
  std::atomic<uint64_t> duration{kNoTime};  // the video stream's, from a duration query, ns
  std::atomic<double> frame_rate{0.0};      // from the caps, 0 when variable or unknown
  // Set by the caller before the display may read it.
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

struct FileScan {
  std::string path;
  std::string error;  // empty: decoded to the end
  bool interrupted = false;
  int width = 0, height = 0;
  double frame_rate = 0.0;
  uint64_t frames_decoded = 0;
  uint64_t duration = kNoTime;       // of the video stream, ns
  uint64_t decoded_until = kNoTime;  // where the last decoded frame ends, ns
  std::vector<AnalysedFrame> frames;
  double wall_seconds = 0.0;
};

// Never throws for a bad file: its problem is put into `error` (and what was analysed before
// it stays in `frames`). `stop` ends the file early (EOS, so an annotated MP4 is finished).
FileScan scan_file(const std::string &path, const ScanSettings &settings, ScanProgress &progress,
                   const std::atomic<bool> &stop);

}  // namespace dfd::scan
