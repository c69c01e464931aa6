// deepfakedetect's GStreamer side: pads, events, queries, states, and the in-order queue of
// frames in flight with the src-pad task that pushes them. The analysis itself is
// src/analysis's (no GStreamer): DetectionWorker runs FaceAnalyzer on its own thread, and
// LiveScheduler decides which frames a live source leaves time for. The metadata and messages
// are in roi_metadata.cpp and detect_messages.cpp, the properties in detect_settings.cpp.
//
// Threads: the upstream streaming thread runs chain(), which decides whether a frame is
// analysed, hands it to the detection worker and queues it, with serialized events, in arrival
// order. The src-pad task takes the head, waits for its faces and scores (on live sources no
// longer than the latency budget), attaches metadata and pushes. So buffers and serialized
// events keep their order, and detection, model and pushing overlap.
#include "gstdeepfakedetect.h"

#include <gst/video/video.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "analysis/detection_worker.h"
#include "analysis/face_analyzer.h"
#include "analysis/live_scheduler.h"
#include "core/batcher.h"
#include "core/engine.h"
#include "core/malloc_tuning.h"
#include "detect_messages.h"
#include "detect_settings.h"
#include "framecv.h"
#include "gst_frame_view.h"
#include "gstptr.h"
#include "roi_metadata.h"

/**
 * SECTION:element-deepfakedetect
 * @title: deepfakedetect
 * @short_description: finds faces, tracks them and scores each as real or fake, with an
 * explanation
 *
 * deepfakedetect passes frames through unchanged (same buffers, any of the listed formats and
 * sizes) and attaches, for every face, a #GstVideoRegionOfInterestMeta of type "face" with DL
 * Streamer's params: `detection` (normalised box, detector confidence), `deepfake` (label,
 * confidence of the label, fake_probability, smoothed_score, verdict, analyses, model_name),
 * `object_id` (the track id) and `relevancy` (the explanation grid: width, height, values),
 * plus a #GstDeepfakeRelevancyMeta with the same grid. It posts a `deepfake` element message
 * for every analysed frame and a `deepfake-alert` one when a face's verdict changes.
 *
 * With inference-region=full-frame (the default) it finds the faces itself (detector=yunet,
 * hog or haar); with inference-region=roi-list it classifies the regions of interest an
 * upstream element attached (gvadetect, another deepfakedetect, the application), those whose
 * type is in object-class, keeping their ids.
 *
 * Faces are scored in batches shared across frames and, with model-instance-id, across
 * elements. Files: every frame is analysed and upstream waits while max-frames-in-flight
 * frames await scores. Live sources: the element adds max-latency to the pipeline latency and
 * analyses only what can come back within it. It behaves as a queue does on not-linked,
 * reconfigure, flushes, serialized events and queries and allocation.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 -m filesrc location=clip.mp4 ! decodebin ! videoconvert ! deepfakedetect !
 * fakesink
 * ]| Prints the `deepfake` and `deepfake-alert` messages of a file.
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! deepfakedetect ! \
 *     deepfakeoverlay ! videoconvert ! autovideosink
 * ]| Shows the faces with their verdicts and relevancy heatmaps.
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! \
 *     deepfakedetect reclassify-interval=0 explain=false ! \
 *     deepfakedetect inference-region=roi-list object-class=face ! fakesink
 * ]| Detects with one element and classifies the regions it found with a second one.
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! deepfakedetect device=GPU max-latency=150 ! \
 *     deepfakeoverlay ! videoconvert ! autovideosink
 * ]| A camera, scored on a CUDA GPU, each frame shown within 150 ms of its capture.
 *
 * Since: 0.1.0
 */

/**
 * GstDeepfakeDetector:
 *
 * The face detector of inference-region=full-frame: `yunet` (the default: YuNet, a small CNN
 * through OpenCV's FaceDetectorYN), `hog` (dlib's HOG frontal detector) or `haar` (OpenCV's
 * Haar cascade from Debian's opencv-data).
 *
 * Since: 0.1.0
 */

/**
 * GstDeepfakeInferenceRegion:
 *
 * Where the faces come from, with DL Streamer's names: `full-frame` (the detector finds them)
 * or `roi-list` (the regions of interest already on the frame, filtered by object-class).
 *
 * Since: 0.1.0
 */

GST_DEBUG_CATEGORY_STATIC(deepfake_detect_debug);
#define GST_CAT_DEFAULT deepfake_detect_debug

namespace dfd::gst::detect {

using Clock = std::chrono::steady_clock;

// Live sources: frames queued (analysed or not) before upstream has to wait, in units of
// max-frames-in-flight.
constexpr size_t kLiveBoundFactor = 4;
// Live sources, detection-interval 0: a whole-frame face search every this many frames (at
// 25 fps, new faces show up within 0.4 s); the tracked faces are followed in between.
constexpr guint kLiveDetectionInterval = 10;
constexpr double kPushSlackMs = 10.0;
// roi-list, a frame not analysed: a region without an upstream id takes the track of the face
// it overlaps this much on the newest analysed frame (the tracker's own association rule).
constexpr float kCarryIou = dfd::TrackerOptions{}.iou_threshold;

// A frame or a serialized event, in arrival order.
struct QueueItem {
  BufferPtr buffer;
  EventPtr event;
  int width = 0;
  int height = 0;
  std::shared_ptr<dfd::FrameJob> job;  // set when the frame is analysed
  bool has_deadline = false;           // live: pushed by `deadline`, with or without scores
  Clock::time_point deadline;
  // inference-region=roi-list: the frame's regions of the wanted classes, and how to find each
  // again on the pushed buffer.
  bool roi_list = false;
  std::vector<dfd::GivenRegion> regions;
  std::vector<RoiKey> keys;
};

// A frame pushed before its faces or scores were in: they still update the tracks.
struct LateJob {
  std::shared_ptr<dfd::FrameJob> job;
  FrameTimes times;
};

// The lock and condition the queue, the detection worker and the pushing task share. Owned
// jointly with the batcher's completion callbacks, which may run after the element is gone
// (a shared model-instance-id batcher finishing a batch).
struct Sync {
  std::mutex lock;
  std::condition_variable changed;
};

struct DetectState {
  Settings settings;  // GST_OBJECT_LOCK

  // Made in READY->PAUSED, destroyed in PAUSED->READY, while neither chain nor the task runs.
  std::unique_ptr<dfd::FaceAnalyzer> analyzer;
  std::unique_ptr<dfd::DetectionWorker> worker;  // destroyed before the analyzer it uses
  std::string model_name;
  double model_threshold = 0.5;

  // Streaming thread.
  GstVideoInfo in_info{};
  bool have_info = false;
  GstSegment in_segment{};
  int64_t frame_index = 0;
  guint applied_tracker_generation = 0;
  dfd::LiveScheduler scheduler;

  // Task thread (and flush-stop or stop, which run while the task does not).
  GstSegment out_segment{};
  std::vector<dfd::TrackedFace> last_faces;  // faces of the newest analysed frame pushed
  int64_t last_faces_index = -1;
  int last_width = 0;
  int last_height = 0;
  std::vector<dfd::FaceReport> last_reports;
  std::deque<LateJob> late;

  // Shared, under `lock` (the worker's job states too).
  std::shared_ptr<Sync> sync = std::make_shared<Sync>();
  std::mutex &lock = sync->lock;
  std::condition_variable &changed = sync->changed;
  std::deque<QueueItem> queue;
  size_t queued_frames = 0;
  bool flushing = true;
  GstFlowReturn srcresult = GST_FLOW_FLUSHING;
  // EOS came in: upstream will not see a flow return any more, so the task posts it (as
  // GstQueue does). Cleared by a flush and a new stream.
  bool eos = false;
  bool own_error = false;   // task thread: it posted an error of its own (inference)
  bool live_known = false;  // upstream asked, or told by a latency query
  bool upstream_live = false;
  GstClockTime upstream_min_latency = 0;
  GstClockTime qos_earliest = GST_CLOCK_TIME_NONE;

  std::atomic<uint64_t> frames_analysed{0};
  std::atomic<uint64_t> frames_skipped{0};
  std::atomic<uint64_t> faces_analysed{0};
  std::atomic<uint64_t> detection_ns{0};
  std::atomic<uint64_t> inference_ns{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> batched_faces{0};
};

}  // namespace dfd::gst::detect

using namespace dfd::gst::detect;
namespace df = dfd::gst;

struct _GstDeepfakeDetect {
  GstElement parent;
  GstPad *sinkpad;
  GstPad *srcpad;
  DetectState state;
};

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(DFD_GST_VIDEO_FORMATS)));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(DFD_GST_VIDEO_FORMATS)));

G_DEFINE_TYPE(GstDeepfakeDetect, gst_deepfake_detect, GST_TYPE_ELEMENT)
GST_ELEMENT_REGISTER_DEFINE(deepfakedetect, "deepfakedetect", GST_RANK_NONE,
                            GST_TYPE_DEEPFAKE_DETECT)

GType gst_deepfake_detector_get_type(void) {
  return detector_enum_type();
}

namespace {

Settings settings_snapshot(GstDeepfakeDetect *self) {
  GST_OBJECT_LOCK(self);
  Settings copy = self->state.settings;
  GST_OBJECT_UNLOCK(self);
  return copy;
}

dfd::TrackerOptions tracker_options(const Settings &s, double model_threshold) {
  dfd::TrackerOptions options;
  options.smoothing = static_cast<float>(s.smoothing);
  options.threshold = static_cast<float>(s.threshold < 0 ? model_threshold : s.threshold);
  options.verdict_analyses = static_cast<int>(s.verdict_frames);
  return options;
}

// ---- start / stop -------------------------------------------------------------------------

gboolean start(GstDeepfakeDetect *self) {
  DetectState &st = self->state;
  const Settings s = settings_snapshot(self);
  try {
    dfd::check_device(s.device);
  } catch (const std::exception &e) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("Cannot use device '%s'.", s.device.c_str()),
                      ("%s", e.what()));
    return FALSE;
  }
  std::shared_ptr<dfd::Batcher> batcher;
  try {
    dfd::EngineOptions engine;
    engine.device = s.device;
    dfd::BatcherOptions batching;
    batching.batch_size = s.batch_size;
    batching.timeout = std::chrono::milliseconds(s.batch_timeout_ms);
    batcher = dfd::Batcher::acquire(s.instance_id, s.model, engine, batching);
  } catch (const std::exception &e) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("Cannot load the model '%s'.", s.model.c_str()),
                      ("%s", e.what()));
    return FALSE;
  }
  std::unique_ptr<dfd::FaceDetector> detector;
  // roi-list takes its faces from upstream: no detector to load.
  if (s.inference_region == InferenceRegion::FullFrame) {
    try {
      dfd::DetectorOptions options;
      options.kind = s.detector;
      options.max_width = s.detection_max_width;
      options.min_face_size = s.min_face_size;
      detector = dfd::FaceDetector::create(options);
    } catch (const std::exception &e) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("Cannot create the face detector."),
                        ("%s", e.what()));
      return FALSE;
    }
  }
  const dfd::ModelConfig &config = batcher->config();
  st.model_name = config.name.empty() ? s.model : config.name;
  st.model_threshold = config.threshold;
  st.analyzer = std::make_unique<dfd::FaceAnalyzer>(std::move(detector), std::move(batcher),
                                                    tracker_options(s, st.model_threshold));
  // The pushing task sleeps until a batch it waits for is done.
  st.analyzer->set_completion_callback([sync = st.sync] {
    std::lock_guard<std::mutex> lock(sync->lock);
    sync->changed.notify_all();
  });
  st.frames_analysed = 0;
  st.frames_skipped = 0;
  st.faces_analysed = 0;
  st.detection_ns = 0;
  st.inference_ns = 0;
  st.batches = 0;
  st.batched_faces = 0;
  st.worker = std::make_unique<dfd::DetectionWorker>(*st.analyzer, st.lock, st.changed,
                                                     st.frames_analysed, st.detection_ns);
  st.applied_tracker_generation = s.tracker_generation;
  st.have_info = false;
  gst_segment_init(&st.in_segment, GST_FORMAT_UNDEFINED);
  gst_segment_init(&st.out_segment, GST_FORMAT_UNDEFINED);
  st.frame_index = 0;
  st.scheduler.reset();
  {
    std::lock_guard<std::mutex> lock(st.lock);
    st.live_known = false;
    st.upstream_live = false;
    st.upstream_min_latency = 0;
    st.qos_earliest = GST_CLOCK_TIME_NONE;
    st.eos = false;
    st.own_error = false;
  }
  GST_INFO_OBJECT(self, "model %s (%s) on %s, batch %d / %u ms", s.model.c_str(),
                  st.model_name.c_str(), s.device.c_str(), s.batch_size, s.batch_timeout_ms);
  return TRUE;
}

// What the task accumulated, and the frames not yet pushed; called while the task is stopped.
void clear_in_flight(DetectState &st) {
  {
    std::lock_guard<std::mutex> lock(st.lock);
    if (st.worker) st.worker->cancel_waiting_locked();
    // Scores still pending in the batcher are abandoned: nobody reads them.
    st.queue.clear();
    st.queued_frames = 0;
    st.qos_earliest = GST_CLOCK_TIME_NONE;
  }
  st.late.clear();
  st.last_faces.clear();
  st.last_faces_index = -1;
  st.last_reports.clear();
  st.last_width = st.last_height = 0;
}

void stop(GstDeepfakeDetect *self) {
  DetectState &st = self->state;
  clear_in_flight(st);
  st.worker.reset();
  // The batcher (unless another element shares it) finishes its pending batches on release.
  st.analyzer.reset();
  st.have_info = false;
}

// ---- the src-pad task -----------------------------------------------------------------------

void post_alerts(GstDeepfakeDetect *self, const std::vector<dfd::VerdictEvent> &events,
                 const df::FrameTimes &times, bool post) {
  for (const dfd::VerdictEvent &event : events) {
    GST_INFO_OBJECT(self, "object %" G_GUINT64_FORMAT " is now %s (smoothed %.3f)",
                    static_cast<guint64>(event.track_id), event.fake ? "fake" : "real",
                    event.smoothed);
    if (!post) continue;
    gst_element_post_message(
        GST_ELEMENT_CAST(self),
        gst_message_new_element(GST_OBJECT_CAST(self), df::alert_message_structure(event, times)));
  }
}

void post_frame_message(GstDeepfakeDetect *self, const df::FrameTimes &times,
                        const std::vector<dfd::FaceReport> &faces) {
  DetectState &st = self->state;
  gst_element_post_message(
      GST_ELEMENT_CAST(self),
      gst_message_new_element(GST_OBJECT_CAST(self),
                              df::frame_message_structure(times, st.frames_analysed.load(),
                                                          st.frames_skipped.load(), faces)));
}

// Folds a finished job's scores into the tracks. False on an inference error (posted).
bool apply_scores(GstDeepfakeDetect *self, const dfd::FrameJob &job, const df::FrameTimes &times,
                  bool post) {
  DetectState &st = self->state;
  if (!job.error.empty()) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Face analysis failed."), ("%s", job.error.c_str()));
    st.own_error = true;
    return false;
  }
  if (!job.analysis.result.valid()) return true;
  try {
    const std::vector<dfd::Prediction> &predictions = job.analysis.result.get();
    post_alerts(self, st.analyzer->apply(job.analysis, predictions), times, post);
    st.faces_analysed += predictions.size();
    const dfd::BatcherStats stats = st.analyzer->batcher()->stats();
    st.inference_ns =
        static_cast<uint64_t>(stats.mean_ms_per_face * static_cast<double>(stats.faces) * 1e6);
    st.batches = stats.batches;
    st.batched_faces = stats.faces;
  } catch (const std::exception &e) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Deepfake inference failed."), ("%s", e.what()));
    st.own_error = true;
    return false;
  }
  return true;
}

bool job_finished_locked(const dfd::FrameJob &job) {
  return job.state == dfd::FrameJob::State::Done &&
         (!job.analysis.result.valid() ||
          job.analysis.result.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
}

// Applies, oldest first, the jobs of frames pushed without them that have finished meanwhile.
bool apply_late_jobs(GstDeepfakeDetect *self, bool post) {
  DetectState &st = self->state;
  while (!st.late.empty()) {
    const LateJob &late = st.late.front();
    {
      std::lock_guard<std::mutex> lock(st.lock);
      if (late.job->state == dfd::FrameJob::State::Cancelled) {
        st.late.pop_front();
        continue;
      }
      if (!job_finished_locked(*late.job)) break;
    }
    if (!apply_scores(self, *late.job, late.times, post)) return false;
    if (post) {
      // The frame itself has gone, but its analysis still gets its message (same times).
      post_frame_message(self, late.times, st.analyzer->report(late.job->analysis.faces));
    }
    if (late.job->analysis.frame_index > st.last_faces_index) {
      // Newer faces than the ones being carried forward: carry these instead.
      st.last_faces = late.job->analysis.faces;
      st.last_faces_index = late.job->analysis.frame_index;
      st.last_width = late.job->analysis.frame_size.width;
      st.last_height = late.job->analysis.frame_size.height;
    }
    st.late.pop_front();
  }
  return true;
}

enum class Wait { Ready, Late, Flushing };

// Waits for the head frame's faces and then its scores; on live sources only until its
// deadline.
Wait wait_for_job(GstDeepfakeDetect *self, QueueItem &item) {
  DetectState &st = self->state;
  dfd::FrameJob &job = *item.job;
  {
    std::unique_lock<std::mutex> lock(st.lock);
    for (;;) {
      if (st.flushing) return Wait::Flushing;
      if (job.state == dfd::FrameJob::State::Done) break;
      if (!item.has_deadline) {
        st.changed.wait(lock);
      } else if (st.changed.wait_until(lock, item.deadline) == std::cv_status::timeout &&
                 job.state != dfd::FrameJob::State::Done) {
        return st.flushing ? Wait::Flushing : Wait::Late;
      }
    }
  }
  if (!job.analysis.result.valid()) return Wait::Ready;
  // The batcher's completion callback notifies `changed` once the result is ready, so this
  // sleeps until then (or a flush, or the deadline) instead of polling the future.
  const auto ready = [&] {
    return st.flushing ||
           job.analysis.result.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  };
  std::unique_lock<std::mutex> lock(st.lock);
  if (item.has_deadline) {
    st.changed.wait_until(lock, item.deadline, ready);
  } else {
    st.changed.wait(lock, ready);
  }
  if (st.flushing) return Wait::Flushing;
  return job.analysis.result.wait_for(std::chrono::seconds(0)) == std::future_status::ready
             ? Wait::Ready
             : Wait::Late;
}

// Pushes a frame with its metadata. *aborted is set when a flush interrupted the wait before
// anything was pushed (the item then stays for flush-stop to drop).
GstFlowReturn push_frame(GstDeepfakeDetect *self, QueueItem &item, bool *aborted) {
  DetectState &st = self->state;
  const Settings s = settings_snapshot(self);
  Wait wait = Wait::Ready;
  if (item.job) {
    wait = wait_for_job(self, item);
    if (wait == Wait::Flushing) {
      *aborted = true;
      return GST_FLOW_FLUSHING;
    }
  }
  // Older frames' scores first, so that the tracks see them in order.
  if (!apply_late_jobs(self, s.post_messages)) return GST_FLOW_ERROR;

  const df::FrameTimes times = df::frame_times(&st.out_segment, item.buffer.get());
  const bool analysed = item.job && wait == Wait::Ready;
  if (analysed) {
    if (!apply_scores(self, *item.job, times, s.post_messages)) return GST_FLOW_ERROR;
    st.last_faces = item.job->analysis.faces;
    st.last_faces_index = item.job->analysis.frame_index;
    st.last_width = item.width;
    st.last_height = item.height;
  } else if (item.width != st.last_width || item.height != st.last_height) {
    // Boxes from frames of another size do not belong on this one.
    st.last_faces.clear();
  }
  // roi-list: the regions on this very frame carry the results (by track, for a frame that
  // was not analysed); full-frame: the newest analysed frame's faces are carried forward.
  const std::vector<dfd::TrackedFace> faces =
      !item.roi_list ? st.last_faces
      : analysed     ? item.job->analysis.faces
                     : dfd::carry_regions(item.regions, st.last_faces, kCarryIou);
  if (item.job && wait == Wait::Late) {
    GST_DEBUG_OBJECT(self, "frame %" G_GINT64_FORMAT " is due: pushed without its analysis",
                     static_cast<gint64>(item.job->frame_index));
    st.late.push_back(LateJob{item.job, times});
  }
  std::vector<dfd::FaceReport> reports = st.analyzer->report(faces, st.last_reports);

  GstBuffer *buffer = item.buffer.release();
  if (!reports.empty()) {
    // Only the metadata changes: a shared buffer is copied shallowly, its memory is not.
    buffer = gst_buffer_make_writable(buffer);
    if (item.roi_list) {
      df::attach_to_given_rois(buffer, item.width, item.height, reports, item.keys, st.model_name,
                               s.explain);
    } else {
      df::attach_face_metadata(buffer, item.width, item.height, reports, st.model_name, s.explain);
    }
  }
  if (s.post_messages && analysed) post_frame_message(self, times, reports);
  st.last_reports = std::move(reports);
  return gst_pad_push(self->srcpad, buffer);
}

GstFlowReturn push_event(GstDeepfakeDetect *self, QueueItem &item) {
  DetectState &st = self->state;
  GstEvent *event = item.event.release();
  if (GST_EVENT_TYPE(event) == GST_EVENT_SEGMENT) gst_event_copy_segment(event, &st.out_segment);
  if (GST_EVENT_TYPE(event) == GST_EVENT_EOS) {
    // Live frames pushed without their scores: whatever has come in still counts.
    apply_late_jobs(self, settings_snapshot(self).post_messages);
  }
  // As in a queue, a refused serialized event is no reason to stop the stream.
  if (!gst_pad_push_event(self->srcpad, event)) {
    GST_DEBUG_OBJECT(self, "downstream refused a serialized event");
  }
  return GST_FLOW_OK;
}

void task_loop(gpointer user_data) {
  GstDeepfakeDetect *self = GST_DEEPFAKE_DETECT(user_data);
  DetectState &st = self->state;
  QueueItem *head = nullptr;
  {
    std::unique_lock<std::mutex> lock(st.lock);
    st.changed.wait(lock, [&] { return st.flushing || !st.queue.empty(); });
    if (st.flushing) {
      // Paused under the lock, as everywhere here: see below.
      gst_pad_pause_task(self->srcpad);
      return;
    }
    // Stays valid: chain only appends (a deque keeps references), and only flush-stop and
    // stop, which run while this task is paused, remove anything else.
    head = &st.queue.front();
  }
  bool aborted = false;
  const bool is_frame = head->buffer != nullptr;
  const GstFlowReturn ret = is_frame ? push_frame(self, *head, &aborted) : push_event(self, *head);
  bool eos = false;
  {
    std::lock_guard<std::mutex> lock(st.lock);
    if (!aborted) {
      st.queue.pop_front();
      if (is_frame) --st.queued_frames;
    }
    if (ret != GST_FLOW_OK && !st.flushing) st.srcresult = ret;
    st.changed.notify_all();
    if (ret == GST_FLOW_OK) return;
    // Paused before the lock is let go, as GstQueue does: a RECONFIGURE that clears the
    // not-linked result restarts the task under this lock, and a pause after it would undo
    // that restart and leave the relinked stream stalled.
    GST_DEBUG_OBJECT(self, "pausing task: %s", gst_flow_get_name(ret));
    gst_pad_pause_task(self->srcpad);
    eos = st.eos;
  }
  // As GstQueue: the flow return goes upstream with the next buffer (whose source then posts
  // the error), unless EOS is already in, when nothing upstream will hear it. Errors of our
  // own were posted where they happened.
  if (eos && (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS) && !st.own_error) {
    GST_ELEMENT_FLOW_ERROR(self, ret);
    gst_pad_push_event(self->srcpad, gst_event_new_eos());
  }
}

// ---- chain ----------------------------------------------------------------------------------

// Asks upstream whether it is live, unless a latency query already told.
void learn_liveness(GstDeepfakeDetect *self) {
  DetectState &st = self->state;
  {
    std::lock_guard<std::mutex> lock(st.lock);
    if (st.live_known) return;
  }
  df::QueryPtr query(gst_query_new_latency());
  gboolean live = FALSE;
  GstClockTime min = 0;
  if (gst_pad_peer_query(self->sinkpad, query.get())) {
    gst_query_parse_latency(query.get(), &live, &min, nullptr);
  }
  std::lock_guard<std::mutex> lock(st.lock);
  if (!st.live_known) {
    st.live_known = true;
    st.upstream_live = live;
    st.upstream_min_latency = min;
  }
}

// The most frames this element holds at once: chain queues up to this many before upstream
// waits (see there).
guint held_frames(GstDeepfakeDetect *self) {
  learn_liveness(self);
  const guint in_flight = settings_snapshot(self).max_frames_in_flight;
  std::lock_guard<std::mutex> lock(self->state.lock);
  return in_flight * static_cast<guint>(self->state.upstream_live ? kLiveBoundFactor : 1);
}

// Downstream's allocation answer, with the frames held here added to each pool's minimum, so
// that an upstream with a fixed pool (v4l2src) never waits for buffers this element holds.
void add_held_frames(GstDeepfakeDetect *self, GstQuery *query) {
  const guint held = held_frames(self);
  const guint pools = gst_query_get_n_allocation_pools(query);
  if (pools == 0) {
    GstCaps *caps = nullptr;
    gst_query_parse_allocation(query, &caps, nullptr);
    GstVideoInfo info;
    const guint size =
        caps != nullptr && gst_video_info_from_caps(&info, caps) ? GST_VIDEO_INFO_SIZE(&info) : 0;
    gst_query_add_allocation_pool(query, nullptr, size, held, 0);
  }
  for (guint i = 0; i < pools; ++i) {
    GstBufferPool *pool = nullptr;
    guint size = 0, min = 0, max = 0;
    gst_query_parse_nth_allocation_pool(query, i, &pool, &size, &min, &max);
    min += held;
    if (max != 0 && max < min) max = min;
    gst_query_set_nth_allocation_pool(query, i, pool, size, min, max);
    if (pool != nullptr) gst_object_unref(pool);
  }
  GST_DEBUG_OBJECT(self, "allocation: %u held frames added to the pools' minimum", held);
}

GstFlowReturn chain(GstPad *, GstObject *parent, GstBuffer *raw) {
  GstDeepfakeDetect *self = GST_DEEPFAKE_DETECT(parent);
  DetectState &st = self->state;
  df::BufferPtr buffer(raw);
  const Clock::time_point arrival = Clock::now();
  const Settings s = settings_snapshot(self);
  if (!st.have_info) {
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, (nullptr), ("a buffer arrived before caps"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  if (s.tracker_generation != st.applied_tracker_generation) {
    st.analyzer->set_tracker_options(tracker_options(s, st.model_threshold));
    st.applied_tracker_generation = s.tracker_generation;
  }

  GstClockTime running_time = GST_CLOCK_TIME_NONE;
  if (st.in_segment.format == GST_FORMAT_TIME && GST_BUFFER_PTS_IS_VALID(buffer.get())) {
    running_time =
        gst_segment_to_running_time(&st.in_segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buffer.get()));
  }
  // The pipeline asks for the latency only once it is PLAYING, and a sink that does not sync
  // never passes that question up: ask upstream now, so that a live source's first frames
  // already get deadlines.
  learn_liveness(self);
  GstClockTime now_running = GST_CLOCK_TIME_NONE;
  {
    df::ClockPtr clock(gst_element_get_clock(GST_ELEMENT_CAST(self)));
    if (clock) {
      now_running =
          gst_clock_get_time(clock.get()) - gst_element_get_base_time(GST_ELEMENT_CAST(self));
    }
  }

  std::unique_lock<std::mutex> lock(st.lock);
  const bool live = st.upstream_live;
  // Back-pressure: frames in flight are bounded. On live sources, frames wait for a
  // synchronising sink here as part of the latency, so they are bounded far more loosely:
  // only a stuck downstream ever makes a live source wait.
  const size_t bound = static_cast<size_t>(s.max_frames_in_flight) * (live ? kLiveBoundFactor : 1);
  st.changed.wait(
      lock, [&] { return st.flushing || st.srcresult != GST_FLOW_OK || st.queued_frames < bound; });
  if (st.flushing) return GST_FLOW_FLUSHING;
  if (st.srcresult != GST_FLOW_OK) return st.srcresult;

  QueueItem item;
  item.width = GST_VIDEO_INFO_WIDTH(&st.in_info);
  item.height = GST_VIDEO_INFO_HEIGHT(&st.in_info);
  // On live sources the frame must leave within max-latency of its capture: what it is already
  // behind on arrival comes off the budget.
  double budget_ms = s.max_latency_ms;
  if (live) {
    if (GST_CLOCK_TIME_IS_VALID(running_time) && GST_CLOCK_TIME_IS_VALID(now_running)) {
      const GstClockTimeDiff behind =
          GST_CLOCK_DIFF(running_time + st.upstream_min_latency, now_running);
      if (behind > 0) budget_ms -= static_cast<double>(behind) / GST_MSECOND;
    }
    item.has_deadline = true;
    // Waking up and pushing take a few ms on a busy machine: the wait ends that much earlier.
    item.deadline = arrival + std::chrono::microseconds(static_cast<int64_t>(
                                  std::max(0.0, budget_ms - kPushSlackMs) * 1000.0));
  }

  const int64_t index = st.frame_index++;
  if (s.inference_region == InferenceRegion::RoiList) {
    item.roi_list = true;
    item.regions = df::given_regions(buffer.get(), df::split_classes(s.object_class), &item.keys);
  }
  dfd::FrameFacts facts;
  facts.arrival = arrival;
  facts.live = live;
  // Frames between two due ones (inference-interval) carry results forward; not "skipped".
  facts.due = index % std::max<guint>(1, s.inference_interval) == 0;
  facts.qos_late = GST_CLOCK_TIME_IS_VALID(st.qos_earliest) &&
                   GST_CLOCK_TIME_IS_VALID(running_time) && running_time <= st.qos_earliest;
  const guint detection_interval =
      s.detection_interval > 0 ? s.detection_interval : (live ? kLiveDetectionInterval : 1);
  // Regions from upstream need no search: a job's cost is then only its crops.
  facts.full_due = !item.roi_list &&
                   st.analyzer->full_detection_due(index, static_cast<int>(detection_interval));
  facts.has_tracks = st.analyzer->has_tracks();
  facts.budget_ms = budget_ms;
  dfd::SchedulerLoad load;
  if (live) {
    load.outstanding_frames = st.worker->outstanding_frames_locked();
    load.outstanding_faces = st.worker->outstanding_faces_locked();
    load.detector_busy = st.worker->busy_locked();
    load.recent_faces = st.worker->recent_faces_locked();
    load.full_detection_ms = st.worker->cost_ms_locked(true);
    load.tracked_detection_ms = st.worker->cost_ms_locked(false);
    load.batcher = st.analyzer->batcher()->stats();
  }
  dfd::SchedulerSettings scheduling;
  scheduling.batch_size = s.batch_size;
  scheduling.batch_timeout_ms = s.batch_timeout_ms;
  scheduling.max_frames_in_flight = s.max_frames_in_flight;
  const dfd::Decision decision = st.scheduler.decide(facts, load, scheduling);
  if (decision.estimate.wanted > 0) {
    const dfd::BudgetEstimate &e = decision.estimate;
    GST_LOG_OBJECT(self,
                   "budget %.1f ms: %s detection %.1f, batching %.0f, %.0f faces ahead, %.1f ms "
                   "per face: %d of %d faces fit",
                   e.budget_ms, e.full ? "whole-frame" : "tracked", e.detection_ms, e.batching_ms,
                   e.faces_ahead, e.face_ms, e.fit, e.wanted);
  }
  if (facts.due && !decision.analyse) {
    ++st.frames_skipped;
    GST_LOG_OBJECT(self, "not analysing frame %" G_GINT64_FORMAT ": %s", static_cast<gint64>(index),
                   dfd::skip_reason(decision.skip));
  } else if (decision.analyse) {
    auto job = std::make_shared<dfd::FrameJob>();
    job->frame_index = index;
    job->settings.margin = s.margin;
    job->settings.explain = s.explain;
    job->settings.reclassify_interval = static_cast<int>(s.reclassify_interval);
    job->settings.full_detection = decision.full;
    job->settings.max_faces = decision.max_faces;
    job->source = std::make_unique<df::BufferFrameSource>(st.in_info, buffer.get());
    job->given_regions = item.roi_list;
    job->regions = item.regions;
    if (decision.full) st.analyzer->full_detection_submitted(index);
    st.worker->submit_locked(job);
    item.job = std::move(job);
    if (!decision.hold) item.deadline = arrival;
  }
  item.buffer = std::move(buffer);
  st.queue.push_back(std::move(item));
  ++st.queued_frames;
  st.changed.notify_all();
  return GST_FLOW_OK;
}

// ---- events and queries ---------------------------------------------------------------------

GstFlowReturn queue_event(GstDeepfakeDetect *self, GstEvent *raw) {
  DetectState &st = self->state;
  df::EventPtr event(raw);
  std::lock_guard<std::mutex> lock(st.lock);
  if (st.flushing) return GST_FLOW_FLUSHING;
  if (st.srcresult != GST_FLOW_OK) {
    // As a queue does: keep sticky events for a later relink, report the stream's state.
    if (GST_EVENT_IS_STICKY(event.get()) && GST_EVENT_TYPE(event.get()) != GST_EVENT_SEGMENT &&
        GST_EVENT_TYPE(event.get()) != GST_EVENT_EOS && st.srcresult == GST_FLOW_NOT_LINKED) {
      gst_pad_store_sticky_event(self->srcpad, event.get());
      return GST_FLOW_OK;
    }
    return st.srcresult;
  }
  QueueItem item;
  item.event = std::move(event);
  st.queue.push_back(std::move(item));
  st.changed.notify_all();
  return GST_FLOW_OK;
}

// Sticky events still queued at a flush (stream-start, caps, tags) hold for the frames after
// it too, as a queue keeps them; segment and EOS do not. Called while the task is paused.
std::vector<df::EventPtr> take_sticky_events(DetectState &st) {
  std::vector<df::EventPtr> kept;
  std::lock_guard<std::mutex> lock(st.lock);
  for (QueueItem &item : st.queue) {
    if (item.event && GST_EVENT_IS_STICKY(item.event.get()) &&
        GST_EVENT_TYPE(item.event.get()) != GST_EVENT_SEGMENT &&
        GST_EVENT_TYPE(item.event.get()) != GST_EVENT_EOS) {
      kept.push_back(std::move(item.event));
    }
  }
  return kept;
}

void set_flushing(DetectState &st) {
  std::lock_guard<std::mutex> lock(st.lock);
  st.flushing = true;
  st.srcresult = GST_FLOW_FLUSHING;
  st.changed.notify_all();
}

GstFlowReturn sink_event(GstPad *pad, GstObject *parent, GstEvent *event) {
  GstDeepfakeDetect *self = GST_DEEPFAKE_DETECT(parent);
  DetectState &st = self->state;
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_FLUSH_START:
      set_flushing(st);
      gst_pad_push_event(self->srcpad, event);
      // Waits for the task's current iteration, which the flag above and the forwarded
      // flush-start (unblocking a downstream push) end promptly.
      gst_pad_pause_task(self->srcpad);
      return GST_FLOW_OK;
    case GST_EVENT_FLUSH_STOP: {
      std::vector<df::EventPtr> sticky = take_sticky_events(st);
      clear_in_flight(st);
      {
        // A detection still running would add pre-flush faces to the fresh tracks.
        std::unique_lock<std::mutex> lock(st.lock);
        if (st.worker) st.worker->wait_idle(lock);
      }
      if (st.analyzer) st.analyzer->reset();
      st.frame_index = 0;
      gst_segment_init(&st.in_segment, GST_FORMAT_UNDEFINED);
      gst_segment_init(&st.out_segment, GST_FORMAT_UNDEFINED);
      {
        std::lock_guard<std::mutex> lock(st.lock);
        st.flushing = false;
        st.srcresult = GST_FLOW_OK;
        st.eos = false;
      }
      st.own_error = false;
      gst_pad_push_event(self->srcpad, event);
      // Only now: a flushing pad refuses them. They go out before the next frame.
      for (const df::EventPtr &kept : sticky) gst_pad_store_sticky_event(self->srcpad, kept.get());
      gst_pad_start_task(self->srcpad, task_loop, self, nullptr);
      return GST_FLOW_OK;
    }
    case GST_EVENT_CAPS: {
      GstCaps *caps = nullptr;
      gst_event_parse_caps(event, &caps);
      GstVideoInfo info;
      if (!gst_video_info_from_caps(&info, caps)) {
        gst_event_unref(event);
        return GST_FLOW_NOT_NEGOTIATED;
      }
      if (st.have_info && (GST_VIDEO_INFO_WIDTH(&info) != GST_VIDEO_INFO_WIDTH(&st.in_info) ||
                           GST_VIDEO_INFO_HEIGHT(&info) != GST_VIDEO_INFO_HEIGHT(&st.in_info))) {
        // Tracks hold boxes in the old frame size: faces are found afresh.
        if (st.analyzer) st.analyzer->reset();
      }
      st.in_info = info;
      st.have_info = true;
      return queue_event(self, event);
    }
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment(event, &st.in_segment);
      return queue_event(self, event);
    case GST_EVENT_STREAM_START: {
      std::lock_guard<std::mutex> lock(st.lock);
      st.eos = false;
      break;
    }
    case GST_EVENT_EOS: {
      std::lock_guard<std::mutex> lock(st.lock);
      st.eos = true;
      break;
    }
    default:
      break;
  }
  if (GST_EVENT_IS_SERIALIZED(event)) return queue_event(self, event);
  return gst_pad_event_default(pad, parent, event) ? GST_FLOW_OK : GST_FLOW_ERROR;
}

gboolean sink_query(GstPad *pad, GstObject *parent, GstQuery *query) {
  GstDeepfakeDetect *self = GST_DEEPFAKE_DETECT(parent);
  DetectState &st = self->state;
  if (GST_QUERY_IS_SERIALIZED(query)) {
    // A serialized query (allocation, drain) must find downstream as it is after the frames
    // before it: wait until they are all pushed.
    std::unique_lock<std::mutex> lock(st.lock);
    st.changed.wait(lock,
                    [&] { return st.flushing || st.srcresult != GST_FLOW_OK || st.queue.empty(); });
    if (st.flushing || st.srcresult != GST_FLOW_OK) return FALSE;
  }
  if (GST_QUERY_TYPE(query) == GST_QUERY_ALLOCATION) {
    if (!gst_pad_peer_query(self->srcpad, query)) return FALSE;
    add_held_frames(self, query);
    return TRUE;
  }
  return gst_pad_query_default(pad, parent, query);
}

gboolean src_event(GstPad *pad, GstObject *parent, GstEvent *event) {
  GstDeepfakeDetect *self = GST_DEEPFAKE_DETECT(parent);
  DetectState &st = self->state;
  if (GST_EVENT_TYPE(event) == GST_EVENT_RECONFIGURE) {
    std::lock_guard<std::mutex> lock(st.lock);
    if (st.srcresult == GST_FLOW_NOT_LINKED && !st.flushing) {
      // As GstQueue: downstream is probably linked again; try pushing once more. The frames
      // and events queued meanwhile go out in order.
      GST_DEBUG_OBJECT(self, "reconfigure after not-linked: restarting the task");
      st.srcresult = GST_FLOW_OK;
      gst_pad_start_task(self->srcpad, task_loop, self, nullptr);
      st.changed.notify_all();
    }
  } else if (GST_EVENT_TYPE(event) == GST_EVENT_QOS) {
    GstQOSType type;
    gdouble proportion = 0;
    GstClockTimeDiff diff = 0;
    GstClockTime timestamp = GST_CLOCK_TIME_NONE;
    gst_event_parse_qos(event, &type, &proportion, &diff, &timestamp);
    std::lock_guard<std::mutex> lock(st.lock);
    if (GST_CLOCK_TIME_IS_VALID(timestamp)) {
      // Downstream is late: frames up to about twice the lateness ahead are not analysed, so
      // that they reach the sink sooner (GstVideoDecoder's scheme). Early: nothing to skip.
      st.qos_earliest =
          diff > 0 ? timestamp + 2 * static_cast<GstClockTime>(diff) : GST_CLOCK_TIME_NONE;
    }
  }
  return gst_pad_event_default(pad, parent, event);
}

gboolean src_query(GstPad *pad, GstObject *parent, GstQuery *query) {
  GstDeepfakeDetect *self = GST_DEEPFAKE_DETECT(parent);
  DetectState &st = self->state;
  if (GST_QUERY_TYPE(query) != GST_QUERY_LATENCY) return gst_pad_query_default(pad, parent, query);
  if (!gst_pad_peer_query(self->sinkpad, query)) return FALSE;
  gboolean live = FALSE;
  GstClockTime min = 0, max = GST_CLOCK_TIME_NONE;
  gst_query_parse_latency(query, &live, &min, &max);
  const GstClockTime ours = settings_snapshot(self).max_latency_ms * GST_MSECOND;
  {
    std::lock_guard<std::mutex> lock(st.lock);
    st.live_known = true;
    st.upstream_live = live;
    st.upstream_min_latency = min;
  }
  if (live) {
    // On live sources a frame leaves within max-latency of its capture, scored or not.
    min += ours;
    if (GST_CLOCK_TIME_IS_VALID(max)) max += ours;
  }
  GST_DEBUG_OBJECT(self, "latency: live %d, min %" GST_TIME_FORMAT ", max %" GST_TIME_FORMAT, live,
                   GST_TIME_ARGS(min), GST_TIME_ARGS(max));
  gst_query_set_latency(query, live, min, max);
  return TRUE;
}

gboolean src_activate_mode(GstPad *pad, GstObject *parent, GstPadMode mode, gboolean active) {
  GstDeepfakeDetect *self = GST_DEEPFAKE_DETECT(parent);
  DetectState &st = self->state;
  if (mode != GST_PAD_MODE_PUSH) return FALSE;
  if (active) {
    {
      std::lock_guard<std::mutex> lock(st.lock);
      st.flushing = false;
      st.srcresult = GST_FLOW_OK;
    }
    return gst_pad_start_task(pad, task_loop, self, nullptr);
  }
  set_flushing(st);
  const gboolean stopped = gst_pad_stop_task(pad);
  clear_in_flight(st);
  return stopped;
}

gboolean sink_activate_mode(GstPad *, GstObject *parent, GstPadMode mode, gboolean active) {
  GstDeepfakeDetect *self = GST_DEEPFAKE_DETECT(parent);
  if (mode != GST_PAD_MODE_PUSH) return FALSE;
  // chain() may be waiting for room in the queue: the flag gets it out. (The pad then takes
  // its stream lock, so chain has returned when deactivation completes.)
  if (!active) set_flushing(self->state);
  return TRUE;
}

// ---- GObject --------------------------------------------------------------------------------

GstStateChangeReturn change_state(GstElement *element, GstStateChange transition) {
  GstDeepfakeDetect *self = GST_DEEPFAKE_DETECT(element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    // Process-wide, so not when the plugin is merely loaded or inspected: when the first
    // element starts, which is before its pipeline (or, in a multi-stream process, usually
    // the others) starts threads that would tie themselves to arenas beyond the limit.
    // DFD_KEEP_MALLOC_DEFAULTS=1 leaves malloc alone (see README).
    dfd::tune_malloc_for_inference();
  }
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !start(self)) {
    return GST_STATE_CHANGE_FAILURE;
  }
  const GstStateChangeReturn ret =
      GST_ELEMENT_CLASS(gst_deepfake_detect_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY ||
      (transition == GST_STATE_CHANGE_READY_TO_PAUSED && ret == GST_STATE_CHANGE_FAILURE)) {
    stop(self);
  }
  return ret;
}

void set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec) {
  GstDeepfakeDetect *self = GST_DEEPFAKE_DETECT(object);
  GST_OBJECT_LOCK(self);
  // What start() reads (model, device, batching, detector) applies from the next start: a
  // change while running (or starting) would be silently deferred, so it is refused, loudly.
  const GstState state = std::max(GST_STATE(self), GST_STATE_NEXT(self));
  if ((pspec->flags & GST_PARAM_MUTABLE_READY) != 0 && state > GST_STATE_READY) {
    GST_OBJECT_UNLOCK(self);
    GST_ELEMENT_WARNING(self, RESOURCE, SETTINGS,
                        ("Property '%s' can only be changed in the NULL or READY state; the "
                         "change is ignored.",
                         pspec->name),
                        ("the element is %s", gst_element_state_get_name(state)));
    return;
  }
  const guint latency = self->state.settings.max_latency_ms;
  const bool known = set_setting(self->state.settings, id, value);
  const bool latency_changed = self->state.settings.max_latency_ms != latency;
  GST_OBJECT_UNLOCK(self);
  if (!known) G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  if (latency_changed) {
    gst_element_post_message(GST_ELEMENT_CAST(self),
                             gst_message_new_latency(GST_OBJECT_CAST(self)));
  }
}

void get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec) {
  GstDeepfakeDetect *self = GST_DEEPFAKE_DETECT(object);
  DetectState &st = self->state;
  switch (id) {
    case PROP_FRAMES_ANALYSED:
      g_value_set_uint64(value, st.frames_analysed.load());
      return;
    case PROP_FRAMES_SKIPPED:
      g_value_set_uint64(value, st.frames_skipped.load());
      return;
    case PROP_FACES_ANALYSED:
      g_value_set_uint64(value, st.faces_analysed.load());
      return;
    case PROP_DETECTION_TIME:
      g_value_set_uint64(value, st.detection_ns.load());
      return;
    case PROP_INFERENCE_TIME:
      g_value_set_uint64(value, st.inference_ns.load());
      return;
    case PROP_BATCHES:
      g_value_set_uint64(value, st.batches.load());
      return;
    case PROP_BATCHED_FACES:
      g_value_set_uint64(value, st.batched_faces.load());
      return;
    default:
      break;
  }
  GST_OBJECT_LOCK(self);
  const bool known = get_setting(st.settings, id, value);
  GST_OBJECT_UNLOCK(self);
  if (!known) G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
}

void finalize(GObject *object) {
  GstDeepfakeDetect *self = GST_DEEPFAKE_DETECT(object);
  // Constructed in place in gst_deepfake_detect_init.
  std::destroy_at(&self->state);
  G_OBJECT_CLASS(gst_deepfake_detect_parent_class)->finalize(object);
}

}  // namespace

static void gst_deepfake_detect_class_init(GstDeepfakeDetectClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GST_DEBUG_CATEGORY_INIT(deepfake_detect_debug, "deepfakedetect", 0, "deepfake detection");

  gobject_class->set_property = set_property;
  gobject_class->get_property = get_property;
  gobject_class->finalize = finalize;
  install_properties(gobject_class);

  gst_element_class_set_static_metadata(
      element_class, "Deepfake detector", "Filter/Analyzer/Video",
      "Finds faces (YuNet, HOG or Haar; or, with inference-region=roi-list, takes the regions "
      "of interest upstream found), tracks them, scores each with a deepfake classifier in "
      "shared batches, and attaches region-of-interest metadata (DL Streamer layout), "
      "relevancy grids and bus messages; frames pass through unchanged",
      "gst-deepfake contributors");
  // gst-inspect-1.0 lists every metadata key: this one shows how the element is used.
  gst_element_class_add_static_metadata(
      element_class, "example",
      "filesrc location=clip.mp4 ! decodebin ! videoconvert ! deepfakedetect ! deepfakeoverlay "
      "! videoconvert ! autovideosink (see gst/README.md)");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  element_class->change_state = change_state;
  gst_type_mark_as_plugin_api(GST_TYPE_DEEPFAKE_DETECTOR, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(inference_region_enum_type(), static_cast<GstPluginAPIFlags>(0));
}

static void gst_deepfake_detect_init(GstDeepfakeDetect *self) {
  // GObject hands out zeroed memory: the C++ members are constructed in it here and destroyed
  // in finalize.
  std::uninitialized_default_construct_n(&self->state, 1);
  self->state.settings.model = dfd::default_model_path();

  self->sinkpad = gst_pad_new_from_static_template(&sink_template, "sink");
  gst_pad_set_chain_function(self->sinkpad, chain);
  gst_pad_set_event_full_function(self->sinkpad, sink_event);
  gst_pad_set_query_function(self->sinkpad, sink_query);
  gst_pad_set_activatemode_function(self->sinkpad, sink_activate_mode);
  GST_PAD_SET_PROXY_CAPS(self->sinkpad);
  gst_element_add_pad(GST_ELEMENT_CAST(self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template(&src_template, "src");
  gst_pad_set_event_function(self->srcpad, src_event);
  gst_pad_set_query_function(self->srcpad, src_query);
  gst_pad_set_activatemode_function(self->srcpad, src_activate_mode);
  GST_PAD_SET_PROXY_CAPS(self->srcpad);
  gst_element_add_pad(GST_ELEMENT_CAST(self), self->srcpad);
}
