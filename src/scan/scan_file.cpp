#include "scan/scan_file.h"

#include <gst/video/video.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "gstptr.h"
#include "scan/detector_element.h"
#include "scan/error_text.h"
#include "scan/frame_clock.h"

namespace dfd::scan {

namespace {

using dfd::gst::CapsPtr;
using dfd::gst::ObjectUnref;

using ElementPtr = std::unique_ptr<GstElement, ObjectUnref>;
using BusPtr = std::unique_ptr<GstBus, ObjectUnref>;
using PadPtr = std::unique_ptr<GstPad, ObjectUnref>;
using MessagePtr = std::unique_ptr<GstMessage, dfd::gst::MiniObjectUnref>;

// Shared by the callbacks. The detector's message and the buffer probe both run on the
// detector's src-pad task (the message is posted just before its frame is pushed), so the
// frame count at message time is that frame's index and needs no lock.
struct Run {
  GstSegment segment;  // the detector's output segment, for stream times
  FrameClock clock;
  FileScan *result = nullptr;
  ScanProgress *progress = nullptr;
  GstElement *pipeline = nullptr;
  GstElement *detect = nullptr;
  GstElement *convert = nullptr;
  GstElement *sink = nullptr;  // the end of the video branch
};

uint64_t get_time(const GstStructure *s, const char *field) {
  guint64 value = GST_CLOCK_TIME_NONE;
  gst_structure_get_uint64(s, field, &value);
  return GST_CLOCK_TIME_IS_VALID(value) ? value : kNoTime;
}

FaceObservation parse_face(const GstStructure *s) {
  FaceObservation face;
  guint64 id = 0;
  gboolean scored = FALSE;
  gst_structure_get_uint64(s, "object_id", &id);
  gst_structure_get_int(s, "x", &face.x);
  gst_structure_get_int(s, "y", &face.y);
  gst_structure_get_int(s, "w", &face.width);
  gst_structure_get_int(s, "h", &face.height);
  gst_structure_get_double(s, "detection_confidence", &face.detection_confidence);
  gst_structure_get_boolean(s, "scored", &scored);
  gst_structure_get_double(s, "fake_probability", &face.score);
  gst_structure_get_double(s, "confidence", &face.confidence);
  gst_structure_get_double(s, "smoothed_score", &face.smoothed);
  gst_structure_get_int(s, "analyses", &face.analyses);
  const gchar *label = gst_structure_get_string(s, "label");
  const gchar *verdict = gst_structure_get_string(s, "verdict");
  face.object_id = id;
  face.scored = scored == TRUE;
  face.label = label != nullptr ? label : "unknown";
  face.verdict = verdict != nullptr ? verdict : "unknown";
  return face;
}

AnalysedFrame parse_frame(const GstStructure *s, uint64_t index) {
  AnalysedFrame frame;
  frame.index = index;
  frame.pts = get_time(s, "pts");
  frame.stream_time = get_time(s, "timestamp");  // stream time, as gvametaconvert's
  frame.running_time = get_time(s, "running_time");
  frame.duration = get_time(s, "duration");
  guint64 analysed = 0, skipped = 0;
  gst_structure_get_uint64(s, "frames_analysed", &analysed);
  gst_structure_get_uint64(s, "frames_skipped", &skipped);
  frame.frames_analysed = analysed;
  frame.frames_skipped = skipped;
  const GValue *faces = gst_structure_get_value(s, "faces");
  if (faces != nullptr && GST_VALUE_HOLDS_ARRAY(faces)) {
    const guint n = gst_value_array_get_size(faces);
    for (guint i = 0; i < n; ++i) {
      const GValue *item = gst_value_array_get_value(faces, i);
      if (GST_VALUE_HOLDS_STRUCTURE(item)) {
        frame.faces.push_back(parse_face(gst_value_get_structure(item)));
      }
    }
  }
  return frame;
}

GstBusSyncReply on_sync_message(GstBus *, GstMessage *message, gpointer data) {
  Run &run = *static_cast<Run *>(data);
  if (GST_MESSAGE_TYPE(message) != GST_MESSAGE_ELEMENT ||
      GST_MESSAGE_SRC(message) != GST_OBJECT_CAST(run.detect)) {
    return GST_BUS_PASS;
  }
  const GstStructure *s = gst_message_get_structure(message);
  if (s != nullptr && gst_structure_has_name(s, "deepfake")) {
    run.result->frames.push_back(parse_frame(s, run.progress->frames.load()));
    run.progress->analysed.store(run.result->frames.size());
  }
  // Verdict alerts are not needed: the summary is made from the per-frame messages.
  return GST_BUS_DROP;
}

GstPadProbeReturn on_data(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  Run &run = *static_cast<Run *>(data);
  if ((info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) != 0) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(event) == GST_EVENT_SEGMENT) gst_event_copy_segment(event, &run.segment);
    return GST_PAD_PROBE_OK;
  }
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  if (buffer == nullptr) return GST_PAD_PROBE_OK;
  const uint64_t index = run.progress->frames.load();
  if (index == 0) {
    const CapsPtr caps(gst_pad_get_current_caps(pad));
    GstVideoInfo video;
    if (caps && gst_video_info_from_caps(&video, caps.get())) {
      run.result->width = GST_VIDEO_INFO_WIDTH(&video);
      run.result->height = GST_VIDEO_INFO_HEIGHT(&video);
      if (GST_VIDEO_INFO_FPS_N(&video) > 0 && GST_VIDEO_INFO_FPS_D(&video) > 0) {
        run.result->frame_rate =
            static_cast<double>(GST_VIDEO_INFO_FPS_N(&video)) / GST_VIDEO_INFO_FPS_D(&video);
        run.progress->frame_rate.store(run.result->frame_rate);
        run.clock.set_frame_duration(gst_util_uint64_scale_int(
            GST_SECOND, GST_VIDEO_INFO_FPS_D(&video), GST_VIDEO_INFO_FPS_N(&video)));
      }
    }
  }
  uint64_t stream_time = kNoTime;
  if (GST_BUFFER_PTS_IS_VALID(buffer) && run.segment.format == GST_FORMAT_TIME) {
    const guint64 t =
        gst_segment_to_stream_time(&run.segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buffer));
    if (GST_CLOCK_TIME_IS_VALID(t)) stream_time = t;
  }
  const uint64_t position = run.clock.next(
      stream_time, GST_BUFFER_DURATION_IS_VALID(buffer) ? GST_BUFFER_DURATION(buffer) : kNoTime);
  // The frame's message, if it was analysed, came just before it.
  if (!run.result->frames.empty() && run.result->frames.back().index == index) {
    run.result->frames.back().position = position;
  }
  run.progress->position.store(position);
  run.result->decoded_until = run.clock.end();
  run.progress->frames.fetch_add(1);
  return GST_PAD_PROBE_OK;
}

void post_error(GstElement *from, const std::string &text) {
  GError *error = g_error_new_literal(GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED, text.c_str());
  gst_element_post_message(from, gst_message_new_error(GST_OBJECT_CAST(from), error, nullptr));
  g_error_free(error);
}

// Streams other than the first video stream (audio, subtitles, a second video) go to a
// fakesink of their own, so that the demuxer never sees "not linked" on them.
void sink_unused(Run &run, GstPad *pad) {
  GstElement *sink = gst_element_factory_make("fakesink", nullptr);
  if (sink == nullptr) return;
  g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
  gst_bin_add(GST_BIN(run.pipeline), sink);
  const PadPtr sink_pad(gst_element_get_static_pad(sink, "sink"));
  gst_pad_link(pad, sink_pad.get());
  gst_element_sync_state_with_parent(sink);
}

void on_pad_added(GstElement *decoder, GstPad *pad, gpointer data) {
  Run &run = *static_cast<Run *>(data);
  CapsPtr caps(gst_pad_get_current_caps(pad));
  if (!caps) caps.reset(gst_pad_query_caps(pad, nullptr));
  const GstStructure *s =
      caps && gst_caps_get_size(caps.get()) > 0 ? gst_caps_get_structure(caps.get(), 0) : nullptr;
  const bool video = s != nullptr && gst_structure_has_name(s, "video/x-raw");
  const PadPtr convert_pad(gst_element_get_static_pad(run.convert, "sink"));
  if (!video || gst_pad_is_linked(convert_pad.get())) {
    sink_unused(run, pad);
    return;
  }
  const GstPadLinkReturn linked = gst_pad_link(pad, convert_pad.get());
  if (GST_PAD_LINK_FAILED(linked)) {
    post_error(decoder,
               std::string("cannot link the decoded video: ") + gst_pad_link_get_name(linked));
  }
}

void send_eos_to_sink_pad(GstElement *element) {
  const PadPtr pad(gst_element_get_static_pad(element, "sink"));
  if (pad) gst_pad_send_event(pad.get(), gst_event_new_eos());
}

// Ends the scan early but properly. An EOS sent to the pipeline would go to filesrc, which a
// demuxer pulling from it (qtdemux does) never hears, so EOS enters every branch after the
// decoder instead: the video branch at its start, so that the frames in flight are still scored
// and an annotated MP4 is finished, and the unused streams' fakesinks directly.
void end_streams(Run &run) {
  send_eos_to_sink_pad(run.convert);
  GstIterator *sinks = gst_bin_iterate_sinks(GST_BIN(run.pipeline));
  gst_iterator_foreach(
      sinks,
      [](const GValue *item, gpointer data) {
        auto *element = static_cast<GstElement *>(g_value_get_object(item));
        if (element != static_cast<Run *>(data)->sink) send_eos_to_sink_pad(element);
      },
      &run);
  gst_iterator_free(sinks);
}

// The elements after the decoder; false when one is missing from the registry.
bool build(Run &run, const std::string &path, const ScanSettings &settings, std::string &error) {
  GstBin *bin = GST_BIN(run.pipeline);
  GstElement *source = gst_element_factory_make("filesrc", nullptr);
  GstElement *decoder = gst_element_factory_make("decodebin", nullptr);
  run.convert = gst_element_factory_make("videoconvert", nullptr);
  const bool annotate = !settings.annotate_path.empty();
  run.detect = make_detector(settings, annotate);
  std::vector<GstElement *> tail = {run.convert, run.detect};
  if (annotate) {
    GstElement *encoder = gst_element_factory_make("x264enc", nullptr);
    if (encoder != nullptr) gst_util_set_object_arg(G_OBJECT(encoder), "speed-preset", "veryfast");
    GstElement *sink = gst_element_factory_make("filesink", nullptr);
    if (sink != nullptr) g_object_set(sink, "location", settings.annotate_path.c_str(), nullptr);
    tail.insert(tail.end(), {gst_element_factory_make("deepfakeoverlay", nullptr),
                             gst_element_factory_make("videoconvert", nullptr), encoder,
                             gst_element_factory_make("mp4mux", nullptr), sink});
  } else {
    GstElement *sink = gst_element_factory_make("fakesink", nullptr);
    if (sink != nullptr) g_object_set(sink, "sync", FALSE, nullptr);
    tail.push_back(sink);
  }
  run.sink = tail.back();
  std::vector<GstElement *> all = {source, decoder};
  all.insert(all.end(), tail.begin(), tail.end());
  bool complete = true;
  for (GstElement *element : all) {
    if (element == nullptr) {
      complete = false;
    } else {
      gst_bin_add(bin, element);
    }
  }
  if (!complete) {
    error = annotate ? "missing GStreamer elements (deepfakedetect, deepfakeoverlay, x264enc from "
                       "gstreamer1.0-plugins-ugly, mp4mux, decodebin, videoconvert)"
                     : "missing GStreamer elements (deepfakedetect, decodebin, videoconvert)";
    return false;
  }
  g_object_set(source, "location", path.c_str(), nullptr);
  for (size_t i = 0; i + 1 < tail.size(); ++i) {
    if (!gst_element_link(tail[i], tail[i + 1])) {
      error = std::string("cannot link ") + GST_ELEMENT_NAME(tail[i]) + " to " +
              GST_ELEMENT_NAME(tail[i + 1]);
      return false;
    }
  }
  if (!gst_element_link(source, decoder)) {
    error = "cannot link filesrc to decodebin";
    return false;
  }
  g_signal_connect(decoder, "pad-added", G_CALLBACK(on_pad_added), &run);
  return true;
}

// A demuxer meeting the end of a cut-off file often just stops: decoding ends early without
// an error. Judged against the video stream's declared duration, with slack for containers
// whose last frame ends a little before it.
std::string truncation(uint64_t decoded_until, uint64_t duration) {
  if (decoded_until == kNoTime || duration == kNoTime) return {};
  const uint64_t slack = std::max<uint64_t>(GST_SECOND, duration / 10);
  if (decoded_until + slack >= duration) return {};
  char text[128];
  std::snprintf(text, sizeof text,
                "decoding stopped at %.3f s of the %.3f s the file declares (truncated file?)",
                static_cast<double>(decoded_until) / GST_SECOND,
                static_cast<double>(duration) / GST_SECOND);
  return text;
}

}  // namespace

FileScan scan_file(const std::string &path, const ScanSettings &settings, ScanProgress &progress,
                   const std::atomic<bool> &stop) {
  FileScan result;
  result.path = path;
  const auto begin = std::chrono::steady_clock::now();
  const auto finish = [&]() {
    result.frames_decoded = progress.frames.load();
    result.duration = progress.duration.load();
    result.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    return std::move(result);
  };
  std::error_code fs_error;
  if (!std::filesystem::is_regular_file(path, fs_error)) {
    result.error = std::filesystem::exists(path, fs_error) ? "not a regular file" : "no such file";
    return finish();
  }

  const ElementPtr pipeline(GST_ELEMENT(gst_object_ref_sink(gst_pipeline_new(nullptr))));
  Run run;
  run.result = &result;
  run.progress = &progress;
  run.pipeline = pipeline.get();
  if (!build(run, path, settings, result.error)) return finish();

  const BusPtr bus(gst_element_get_bus(pipeline.get()));
  gst_bus_set_sync_handler(bus.get(), on_sync_message, &run, nullptr);
  const PadPtr detect_src(gst_element_get_static_pad(run.detect, "src"));
  gst_segment_init(&run.segment, GST_FORMAT_UNDEFINED);
  gst_pad_add_probe(
      detect_src.get(),
      static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      on_data, &run, nullptr);

  gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);
  bool eos_sent = false;
  auto eos_deadline = std::chrono::steady_clock::time_point::max();
  for (;;) {
    if (stop.load() && !eos_sent) {
      // A second Ctrl-C ends the program at once.
      end_streams(run);
      eos_sent = true;
      result.interrupted = true;
      eos_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    }
    if (std::chrono::steady_clock::now() > eos_deadline) break;
    const MessagePtr message(gst_bus_timed_pop_filtered(
        bus.get(), 100 * GST_MSECOND,
        static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_ASYNC_DONE |
                                    GST_MESSAGE_DURATION_CHANGED)));
    if (!message) continue;
    if (GST_MESSAGE_TYPE(message.get()) == GST_MESSAGE_ERROR) {
      result.error = error_text(message.get());
      break;
    }
    if (GST_MESSAGE_TYPE(message.get()) == GST_MESSAGE_EOS) break;
    // Asked through the detector, so it is the video stream's duration (the pipeline's is the
    // longest stream's, audio included).
    gint64 duration = -1;
    if (gst_element_query_duration(run.detect, GST_FORMAT_TIME, &duration) && duration > 0) {
      progress.duration.store(static_cast<uint64_t>(duration));
    }
  }
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  gst_bus_set_sync_handler(bus.get(), nullptr, nullptr, nullptr);
  if (result.error.empty() && !result.interrupted) {
    if (progress.frames.load() == 0) {
      result.error = "no video frame could be decoded (not a video file?)";
    } else if (const std::string cut = truncation(result.decoded_until, progress.duration.load());
               !cut.empty()) {
      result.error = cut;
    }
  }
  return finish();
}

}  // namespace dfd::scan
