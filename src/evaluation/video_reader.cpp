#include "evaluation/video_reader.h"

#include <gst/app/gstappsink.h>

#include <mutex>
#include <stdexcept>

#include "framecv.h"
#include "gst_frame_view.h"

namespace dfd::eval {

namespace {

using dfd::gst::BufferPtr;
using dfd::gst::CapsPtr;
using dfd::gst::MiniObjectUnref;
using MessagePtr = std::unique_ptr<GstMessage, MiniObjectUnref>;
using SamplePtr = std::unique_ptr<GstSample, MiniObjectUnref>;

// How long one wait for a frame lasts before the bus is read for an error again.
constexpr GstClockTime kPollTime = 100 * GST_MSECOND;

void ensure_gst() {
  static std::once_flag once;
  std::call_once(once, [] {
    GError *error = nullptr;
    if (!gst_init_check(nullptr, nullptr, &error)) {
      const std::string text = error != nullptr ? error->message : "unknown reason";
      if (error != nullptr) g_error_free(error);
      throw std::runtime_error("cannot initialise GStreamer: " + text);
    }
  });
}

// A decoded frame that keeps its sample (and so its buffer) alive while it is read.
class SampleFrame final : public FrameView {
 public:
  SampleFrame(SamplePtr sample, const GstVideoInfo &info)
      : sample_(std::move(sample)),
        info_(info),
        view_(&info_, gst_sample_get_buffer(sample_.get())) {}
  bool ok() const { return view_.ok(); }
  cv::Size size() const override { return view_.size(); }
  cv::Mat gray() const override { return view_.gray(); }
  cv::Mat bgr_region(const cv::Rect &region) const override { return view_.bgr_region(region); }

 private:
  SamplePtr sample_;
  GstVideoInfo info_;
  dfd::gst::GstFrameView view_;
};

std::string error_text(GstMessage *message) {
  GError *error = nullptr;
  gchar *debug = nullptr;
  gst_message_parse_error(message, &error, &debug);
  std::string text = error != nullptr ? error->message : "unknown error";
  if (error != nullptr) g_error_free(error);
  g_free(debug);
  return text;
}

// Links the first decoded video stream to videoconvert; every other stream goes to a fakesink.
void on_pad_added(GstElement *, GstPad *pad, gpointer data) {
  auto *pipeline = static_cast<GstElement *>(data);
  CapsPtr caps(gst_pad_get_current_caps(pad));
  if (!caps) caps.reset(gst_pad_query_caps(pad, nullptr));
  const GstStructure *s =
      caps && gst_caps_get_size(caps.get()) > 0 ? gst_caps_get_structure(caps.get(), 0) : nullptr;
  GstElement *convert = gst_bin_get_by_name(GST_BIN(pipeline), "convert");
  GstPad *convert_pad = gst_element_get_static_pad(convert, "sink");
  if (s != nullptr && gst_structure_has_name(s, "video/x-raw") && !gst_pad_is_linked(convert_pad)) {
    gst_pad_link(pad, convert_pad);
  } else if (GstElement *sink = gst_element_factory_make("fakesink", nullptr)) {
    g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
    gst_bin_add(GST_BIN(pipeline), sink);
    GstPad *sink_pad = gst_element_get_static_pad(sink, "sink");
    gst_pad_link(pad, sink_pad);
    gst_object_unref(sink_pad);
    gst_element_sync_state_with_parent(sink);
  }
  gst_object_unref(convert_pad);
  gst_object_unref(convert);
}

}  // namespace

VideoReader::VideoReader(const std::string &path) : path_(path) {
  ensure_gst();
  // As deepfake-scan's pipeline: filesrc ! decodebin, the first video stream to videoconvert,
  // the others to fakesinks so the demuxer never meets "not linked". The appsink accepts what
  // deepfakedetect's sink pad does, so videoconvert negotiates the same format.
  const std::string description =
      std::string(
          "filesrc name=source ! decodebin name=decode  videoconvert name=convert ! "
          "appsink name=sink sync=false max-buffers=4 caps=\"video/x-raw, "
          "format=(string)") +
      DFD_GST_VIDEO_FORMATS + "\"";
  GError *error = nullptr;
  pipeline_ = gst_parse_launch(description.c_str(), &error);
  if (error != nullptr) {
    const std::string text = error->message;
    g_error_free(error);
    if (pipeline_ != nullptr) gst_object_unref(pipeline_);
    pipeline_ = nullptr;
    throw std::runtime_error("cannot build a decoding pipeline: " + text);
  }
  GstElement *source = gst_bin_get_by_name(GST_BIN(pipeline_), "source");
  g_object_set(source, "location", path.c_str(), nullptr);
  gst_object_unref(source);
  GstElement *decode = gst_bin_get_by_name(GST_BIN(pipeline_), "decode");
  g_signal_connect(decode, "pad-added", G_CALLBACK(on_pad_added), pipeline_);
  gst_object_unref(decode);
  sink_ = gst_bin_get_by_name(GST_BIN(pipeline_), "sink");
  gst_element_set_state(pipeline_, GST_STATE_PAUSED);
  // Prerolled, or failed: the frame rate and duration are known once the first frame is in.
  GstBus *bus = gst_element_get_bus(pipeline_);
  const MessagePtr message(gst_bus_timed_pop_filtered(
      bus, GST_CLOCK_TIME_NONE,
      static_cast<GstMessageType>(GST_MESSAGE_ASYNC_DONE | GST_MESSAGE_ERROR | GST_MESSAGE_EOS)));
  gst_object_unref(bus);
  if (message && GST_MESSAGE_TYPE(message.get()) == GST_MESSAGE_ERROR) {
    const std::string text = error_text(message.get());
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    gst_object_unref(sink_);
    gst_object_unref(pipeline_);
    throw std::runtime_error(text);
  }
  gint64 duration = -1;
  const SamplePtr preroll(gst_app_sink_pull_preroll(GST_APP_SINK(sink_)));
  GstVideoInfo info;
  if (preroll && gst_video_info_from_caps(&info, gst_sample_get_caps(preroll.get())) &&
      GST_VIDEO_INFO_FPS_N(&info) > 0 && GST_VIDEO_INFO_FPS_D(&info) > 0 &&
      gst_element_query_duration(pipeline_, GST_FORMAT_TIME, &duration) && duration > 0) {
    frame_count_ = static_cast<double>(duration) / GST_SECOND * GST_VIDEO_INFO_FPS_N(&info) /
                   GST_VIDEO_INFO_FPS_D(&info);
  }
  gst_element_set_state(pipeline_, GST_STATE_PLAYING);
}

VideoReader::~VideoReader() {
  gst_element_set_state(pipeline_, GST_STATE_NULL);
  gst_object_unref(sink_);
  gst_object_unref(pipeline_);
}

std::unique_ptr<FrameView> VideoReader::next() {
  if (ended_) return nullptr;
  GstBus *bus = gst_element_get_bus(pipeline_);
  for (;;) {
    SamplePtr sample(gst_app_sink_try_pull_sample(GST_APP_SINK(sink_), kPollTime));
    if (sample) {
      gst_object_unref(bus);
      GstVideoInfo info;
      if (!gst_video_info_from_caps(&info, gst_sample_get_caps(sample.get()))) {
        throw std::runtime_error("a decoded frame without video caps");
      }
      auto frame = std::make_unique<SampleFrame>(std::move(sample), info);
      if (!frame->ok()) throw std::runtime_error("cannot map a decoded frame");
      return frame;
    }
    const MessagePtr error(gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR));
    if (error) {
      gst_object_unref(bus);
      ended_ = true;
      throw std::runtime_error("decoding failed: " + error_text(error.get()));
    }
    if (gst_app_sink_is_eos(GST_APP_SINK(sink_))) {
      gst_object_unref(bus);
      ended_ = true;
      return nullptr;
    }
  }
}

}  // namespace dfd::eval
