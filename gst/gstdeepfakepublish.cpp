// deepfakepublish: a passthrough GstBaseTransform that turns each frame's ROI metadata into a
// JSON message and verdict changes into alerts, and writes them to a file or an MQTT broker.
// Buffers are only read: never mapped, modified or dropped. MQTT I/O happens on
// libmosquitto's thread (mqtt_client.h), so a slow or absent broker never holds up streaming.
#include "gstdeepfakepublish.h"

#include <gst/video/video.h>

#include <cerrno>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "mqtt_client.h"
#include "publish_alerts.h"
#include "publish_file.h"
#include "publish_json.h"

/**
 * SECTION:element-deepfakepublish
 * @title: deepfakepublish
 * @short_description: publishes deepfakedetect's results as JSON to a file or an MQTT broker
 *
 * deepfakepublish serialises each frame's regions of interest to JSON in DL Streamer
 * gvametaconvert's layout (objects with x, y, w, h, id, roi_type, detection and a `deepfake`
 * object; resolution, timestamp (stream time), pts, running_time, source, wall_clock) and
 * publishes it as gvametapublish does: method=file writes JSON lines or one JSON array to a
 * file or stdout, method=mqtt sends it to a broker through a bounded buffer that survives
 * outages. When a face's verdict changes it also publishes an alert (to alert-topic). Frames
 * pass through untouched.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! deepfakedetect ! \
 *     deepfakepublish file-path=stdout ! fakesink
 * ]| Prints one JSON line per frame with faces, and the alerts.
 * |[
 * gst-launch-1.0 rtspsrc location=rtsp://camera/stream ! decodebin ! videoconvert ! \
 *     deepfakedetect ! deepfakepublish method=mqtt address=localhost:1883 \
 *     topic=deepfake/frames alert-topic=deepfake/alerts source-id=camera-1 ! fakesink
 * ]| Publishes a camera's results and verdict changes to an MQTT broker.
 *
 * Since: 0.1.0
 */

GST_DEBUG_CATEGORY_STATIC(deepfake_publish_debug);
#define GST_CAT_DEFAULT deepfake_publish_debug

namespace {

namespace pub = dfd::gst::publish;

enum class Method { File = 0, Mqtt = 1 };
enum class FileFormat { Json = 0, JsonLines = 1 };

// How long EOS and stop wait for a connected broker to acknowledge what was sent: long enough
// for a local broker to take a full buffer, short enough that shutting down never hangs.
constexpr auto kFlushTimeout = std::chrono::seconds(5);
// How long start waits for the first connection before warning that the broker is away.
constexpr auto kConnectWait = std::chrono::seconds(2);

struct PublishSettings {
  Method method = Method::File;
  std::string file_path = "stdout";
  FileFormat file_format = FileFormat::JsonLines;
  std::string address = "localhost:1883";
  std::string topic = "deepfake";
  std::string alert_topic = "deepfake/alerts";
  int qos = 1;
  std::string client_id;
  std::string username;
  std::string password;
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  guint max_buffered = 1000;
  guint reconnect_min_delay = 1;
  guint reconnect_max_delay = 30;
  std::string source_id;  // empty: the element's name
  bool publish_empty = false;
};

// Streaming-side state, guarded by `lock`: the streaming thread, state changes and counter
// reads meet here. Nothing waits on the network under it (the flush at EOS and stop runs on a
// reference taken out of it), so reading a counter never stalls.
struct PublishState {
  std::mutex lock;
  PublishSettings active;  // the settings taken at start
  GstVideoInfo info{};
  bool have_info = false;
  std::unique_ptr<pub::FileOutput> file;
  std::shared_ptr<dfd::gst::MqttPublisher> mqtt;
  pub::VerdictWatch watch;
  dfd::gst::MqttCounters counters;  // file output's, and the broker's after stop
  bool write_failed = false;        // a file write error was reported
  bool finished = false;            // EOS finished the output and nothing came after it
};

}  // namespace

struct _GstDeepfakePublish {
  GstBaseTransform parent;
  PublishSettings settings;  // GST_OBJECT_LOCK
  PublishState state;
};

enum {
  PROP_0,
  PROP_METHOD,
  PROP_FILE_PATH,
  PROP_FILE_FORMAT,
  PROP_ADDRESS,
  PROP_TOPIC,
  PROP_ALERT_TOPIC,
  PROP_QOS,
  PROP_CLIENT_ID,
  PROP_USERNAME,
  PROP_PASSWORD,
  PROP_TLS_CA_FILE,
  PROP_TLS_CERT_FILE,
  PROP_TLS_KEY_FILE,
  PROP_MAX_BUFFERED,
  PROP_RECONNECT_MIN_DELAY,
  PROP_RECONNECT_MAX_DELAY,
  PROP_SOURCE_ID,
  PROP_PUBLISH_EMPTY,
  PROP_MESSAGES_PUBLISHED,
  PROP_MESSAGES_BUFFERED,
  PROP_MESSAGES_DROPPED,
};

GType gst_deepfake_publish_method_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(Method::File), "Write to a file or stdout (file-path, file-format)",
       "file"},
      {static_cast<gint>(Method::Mqtt), "Publish to an MQTT broker (address, topic, ...)", "mqtt"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type, g_enum_register_static("GstDeepfakePublishMethod", values));
  }
  return type;
}

GType gst_deepfake_publish_file_format_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(FileFormat::Json),
       "One JSON array over the whole run, closed at EOS or stop", "json"},
      {static_cast<gint>(FileFormat::JsonLines), "One JSON document per line", "json-lines"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type, g_enum_register_static("GstDeepfakePublishFileFormat", values));
  }
  return type;
}

G_DEFINE_TYPE(GstDeepfakePublish, gst_deepfake_publish, GST_TYPE_BASE_TRANSFORM)
GST_ELEMENT_REGISTER_DEFINE(deepfakepublish, "deepfakepublish", GST_RANK_NONE,
                            GST_TYPE_DEEPFAKE_PUBLISH)

// Any raw video, any memory: the element reads metadata only and never maps a frame.
static GstStaticPadTemplate publish_sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-raw(ANY)"));
static GstStaticPadTemplate publish_src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-raw(ANY)"));

namespace {

GstDeepfakePublish *as_publish(gpointer object) {
  return GST_DEEPFAKE_PUBLISH(object);
}

const char *event_text(dfd::gst::MqttPublisher::Event event) {
  switch (event) {
    case dfd::gst::MqttPublisher::Event::Connected:
      return "connected";
    case dfd::gst::MqttPublisher::Event::Reconnected:
      return "reconnected";
    case dfd::gst::MqttPublisher::Event::Refused:
      return "refused";
    case dfd::gst::MqttPublisher::Event::Disconnected:
      return "disconnected";
  }
  return "";
}

// Runs on libmosquitto's network thread: only posts messages.
void report_broker_event(GstDeepfakePublish *self, const std::string &address, guint buffer,
                         dfd::gst::MqttPublisher::Event event, const std::string &detail) {
  using Event = dfd::gst::MqttPublisher::Event;
  GST_INFO_OBJECT(self, "MQTT broker %s: %s %s", address.c_str(), event_text(event),
                  detail.c_str());
  switch (event) {
    case Event::Connected:
      GST_ELEMENT_INFO(self, RESOURCE, OPEN_WRITE,
                       ("Connected to MQTT broker %s.", address.c_str()), (nullptr));
      break;
    case Event::Reconnected:
      GST_ELEMENT_INFO(
          self, RESOURCE, OPEN_WRITE,
          ("Reconnected to MQTT broker %s; sending buffered messages.", address.c_str()),
          (nullptr));
      break;
    case Event::Refused:
      GST_ELEMENT_WARNING(self, RESOURCE, OPEN_WRITE,
                          ("MQTT broker %s refused the connection (%s). Buffering up to %u "
                           "messages and retrying.",
                           address.c_str(), detail.c_str(), buffer),
                          (nullptr));
      break;
    case Event::Disconnected:
      GST_ELEMENT_WARNING(self, RESOURCE, WRITE,
                          ("Lost the connection to MQTT broker %s (%s). Buffering up to %u "
                           "messages and reconnecting.",
                           address.c_str(), detail.c_str(), buffer),
                          (nullptr));
      break;
  }
}

// With st.lock held.
void emit(GstDeepfakePublish *self, PublishState &st, const std::string &topic,
          const dfd::json::Value &message) {
  const std::string text = dfd::json::dump(message);
  GST_LOG_OBJECT(self, "%s", text.c_str());
  if (st.mqtt) {
    st.mqtt->publish(topic, text);
    return;
  }
  if (!st.file) return;
  if (st.file->write(text)) {
    ++st.counters.published;
    return;
  }
  const int error = errno;
  ++st.counters.dropped;
  if (!st.write_failed) {
    st.write_failed = true;
    GST_ELEMENT_WARNING(
        self, RESOURCE, WRITE,
        ("Could not write to '%s'; messages are being lost.", st.active.file_path.c_str()),
        ("%s", g_strerror(error)));
  }
}

pub::FrameContext frame_context(GstDeepfakePublish *self, PublishState &st, GstBuffer *buffer) {
  pub::FrameContext context;
  context.width = GST_VIDEO_INFO_WIDTH(&st.info);
  context.height = GST_VIDEO_INFO_HEIGHT(&st.info);
  context.pts = GST_BUFFER_PTS(buffer);
  const GstSegment &segment = GST_BASE_TRANSFORM(self)->segment;
  if (segment.format == GST_FORMAT_TIME && GST_CLOCK_TIME_IS_VALID(context.pts)) {
    context.stream_time = gst_segment_to_stream_time(&segment, GST_FORMAT_TIME, context.pts);
    context.running_time = gst_segment_to_running_time(&segment, GST_FORMAT_TIME, context.pts);
  }
  context.source = st.active.source_id;
  context.wall_clock = pub::iso8601_utc_ms(g_get_real_time());
  return context;
}

GstFlowReturn transform_ip(GstBaseTransform *trans, GstBuffer *buffer) {
  GstDeepfakePublish *self = as_publish(trans);
  PublishState &st = self->state;
  std::lock_guard<std::mutex> guard(st.lock);
  if (!st.have_info) return GST_FLOW_OK;
  st.finished = false;
  try {
    const pub::FrameContext context = frame_context(self, st, buffer);
    dfd::json::Array objects = pub::roi_objects(buffer);
    const std::vector<pub::Alert> alerts = st.watch.update(buffer);
    if (!objects.empty() || st.active.publish_empty) {
      emit(self, st, st.active.topic, pub::frame_message(std::move(objects), context));
    }
    // Alerts go to their own topic; with none set, MQTT consumers read verdicts from frames.
    if (!st.mqtt || !st.active.alert_topic.empty()) {
      for (const pub::Alert &alert : alerts) {
        GST_INFO_OBJECT(self, "object %d is now %s", alert.object_id, alert.verdict.c_str());
        emit(self, st, st.active.alert_topic, pub::alert_message(alert, context));
      }
    }
  } catch (const std::exception &e) {
    // Serialising only allocates; the frame still goes on.
    GST_ELEMENT_WARNING(self, CORE, FAILED, ("Could not publish a frame's metadata."),
                        ("%s", e.what()));
  }
  return GST_FLOW_OK;
}

gboolean set_caps(GstBaseTransform *trans, GstCaps *incaps, GstCaps *) {
  GstDeepfakePublish *self = as_publish(trans);
  GstVideoInfo info;
  if (!gst_video_info_from_caps(&info, incaps)) {
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("Caps are not raw video."),
                      ("%" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  std::lock_guard<std::mutex> guard(self->state.lock);
  self->state.info = info;
  self->state.have_info = true;
  return TRUE;
}

bool start_mqtt(GstDeepfakePublish *self, PublishState &st) {
  const PublishSettings &s = st.active;
  dfd::gst::MqttSettings mqtt;
  try {
    mqtt.broker = dfd::gst::parse_broker_address(s.address);
  } catch (const std::exception &e) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("Bad MQTT address '%s'.", s.address.c_str()),
                      ("%s", e.what()));
    return false;
  }
  if (s.topic.empty()) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("The MQTT topic is empty."), (nullptr));
    return false;
  }
  mqtt.client_id = s.client_id;
  mqtt.username = s.username;
  mqtt.password = s.password;
  mqtt.tls_ca_file = s.tls_ca_file;
  mqtt.tls_cert_file = s.tls_cert_file;
  mqtt.tls_key_file = s.tls_key_file;
  mqtt.qos = s.qos;
  mqtt.max_buffered = s.max_buffered;
  mqtt.reconnect_min_delay = s.reconnect_min_delay;
  mqtt.reconnect_max_delay = s.reconnect_max_delay;
  const std::string address = s.address;
  const guint buffer = s.max_buffered;
  try {
    st.mqtt = std::make_shared<dfd::gst::MqttPublisher>(
        mqtt,
        [self, address, buffer](dfd::gst::MqttPublisher::Event event, const std::string &detail) {
          report_broker_event(self, address, buffer, event, detail);
        });
  } catch (const std::exception &e) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
                      ("Could not set up MQTT publishing to %s.", s.address.c_str()),
                      ("%s", e.what()));
    return false;
  }
  return true;
}

// A short wait, so that a broker that is down gets its warning at start, while a reachable
// one (milliseconds away) costs nothing. Not connecting is no error: buffer and retry.
void check_broker(GstDeepfakePublish *self, const dfd::gst::MqttPublisher &mqtt,
                  const PublishSettings &s) {
  // A refusal already has its own warning.
  if (mqtt.wait_connected(kConnectWait) || mqtt.refused()) return;
  const std::string reason = mqtt.initial_error().empty() ? "no answer" : mqtt.initial_error();
  GST_ELEMENT_WARNING(self, RESOURCE, OPEN_WRITE,
                      ("MQTT broker %s is not reachable yet (%s). Buffering up to %u messages "
                       "and retrying.",
                       s.address.c_str(), reason.c_str(), s.max_buffered),
                      (nullptr));
}

gboolean start(GstBaseTransform *trans) {
  GstDeepfakePublish *self = as_publish(trans);
  PublishState &st = self->state;
  std::unique_lock<std::mutex> guard(st.lock);
  GST_OBJECT_LOCK(self);
  st.active = self->settings;
  if (st.active.source_id.empty()) st.active.source_id = GST_OBJECT_NAME(self);
  GST_OBJECT_UNLOCK(self);
  st.counters = {};
  st.write_failed = false;
  st.finished = false;
  st.watch.reset();
  if (st.active.method == Method::Mqtt) {
    if (!start_mqtt(self, st)) return FALSE;
    // Waited for outside the lock, so that counters stay readable meanwhile.
    const std::shared_ptr<dfd::gst::MqttPublisher> mqtt = st.mqtt;
    const PublishSettings settings = st.active;
    guard.unlock();
    check_broker(self, *mqtt, settings);
    return TRUE;
  }
  try {
    st.file = std::make_unique<pub::FileOutput>(st.active.file_path,
                                                st.active.file_format == FileFormat::Json);
  } catch (const std::exception &e) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("Could not open the output file."),
                      ("%s", e.what()));
    return FALSE;
  }
  return TRUE;
}

// Closes the JSON array and gives a connected broker a bounded time to take the rest (while
// disconnected nothing can be sent, so nothing is waited for). Called on the streaming thread
// (EOS) or after it stopped (stop), so nothing else writes meanwhile.
void finish_output(GstDeepfakePublish *self, PublishState &st) {
  std::shared_ptr<dfd::gst::MqttPublisher> mqtt;
  {
    std::lock_guard<std::mutex> guard(st.lock);
    if (st.finished) return;
    st.finished = true;
    if (st.file && !st.file->finish()) {
      GST_ELEMENT_WARNING(self, RESOURCE, WRITE,
                          ("Could not finish '%s'.", st.active.file_path.c_str()), (nullptr));
    }
    mqtt = st.mqtt;
  }
  if (mqtt && !mqtt->flush(kFlushTimeout)) {
    const dfd::gst::MqttCounters c = mqtt->counters();
    GST_WARNING_OBJECT(self,
                       "not everything reached the broker: %" G_GUINT64_FORMAT
                       " buffered, %" G_GUINT64_FORMAT " published",
                       c.buffered, c.published);
  }
}

gboolean stop(GstBaseTransform *trans) {
  GstDeepfakePublish *self = as_publish(trans);
  PublishState &st = self->state;
  finish_output(self, st);
  std::shared_ptr<dfd::gst::MqttPublisher> mqtt;
  {
    std::lock_guard<std::mutex> guard(st.lock);
    if (st.mqtt) {
      st.mqtt->discard_buffered();
      st.counters = st.mqtt->counters();
    }
    mqtt = std::move(st.mqtt);
    st.file.reset();
    st.have_info = false;
  }
  // Disconnecting joins libmosquitto's thread: outside the lock, whose holders it may be
  // reporting to.
  mqtt.reset();
  return TRUE;
}

gboolean sink_event(GstBaseTransform *trans, GstEvent *event) {
  GstDeepfakePublish *self = as_publish(trans);
  PublishState &st = self->state;
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_EOS:
      finish_output(self, st);
      break;
    case GST_EVENT_FLUSH_STOP: {
      std::lock_guard<std::mutex> guard(st.lock);
      st.watch.reset();
      break;
    }
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS(gst_deepfake_publish_parent_class)->sink_event(trans, event);
}

guint64 counter(GstDeepfakePublish *self, guint id) {
  PublishState &st = self->state;
  std::lock_guard<std::mutex> guard(st.lock);
  const dfd::gst::MqttCounters c = st.mqtt ? st.mqtt->counters() : st.counters;
  switch (id) {
    case PROP_MESSAGES_PUBLISHED:
      return c.published;
    case PROP_MESSAGES_BUFFERED:
      return c.buffered;
    default:
      return c.dropped;
  }
}

void set_string(std::string &target, const GValue *value) {
  const gchar *s = g_value_get_string(value);
  target = s != nullptr ? s : "";
}

void set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec) {
  GstDeepfakePublish *self = as_publish(object);
  GST_OBJECT_LOCK(self);
  PublishSettings &s = self->settings;
  switch (id) {
    case PROP_METHOD:
      s.method = static_cast<Method>(g_value_get_enum(value));
      break;
    case PROP_FILE_PATH:
      set_string(s.file_path, value);
      if (s.file_path.empty()) s.file_path = "stdout";
      break;
    case PROP_FILE_FORMAT:
      s.file_format = static_cast<FileFormat>(g_value_get_enum(value));
      break;
    case PROP_ADDRESS:
      set_string(s.address, value);
      break;
    case PROP_TOPIC:
      set_string(s.topic, value);
      break;
    case PROP_ALERT_TOPIC:
      set_string(s.alert_topic, value);
      break;
    case PROP_QOS:
      s.qos = g_value_get_int(value);
      break;
    case PROP_CLIENT_ID:
      set_string(s.client_id, value);
      break;
    case PROP_USERNAME:
      set_string(s.username, value);
      break;
    case PROP_PASSWORD:
      set_string(s.password, value);
      break;
    case PROP_TLS_CA_FILE:
      set_string(s.tls_ca_file, value);
      break;
    case PROP_TLS_CERT_FILE:
      set_string(s.tls_cert_file, value);
      break;
    case PROP_TLS_KEY_FILE:
      set_string(s.tls_key_file, value);
      break;
    case PROP_MAX_BUFFERED:
      s.max_buffered = g_value_get_uint(value);
      break;
    case PROP_RECONNECT_MIN_DELAY:
      s.reconnect_min_delay = g_value_get_uint(value);
      break;
    case PROP_RECONNECT_MAX_DELAY:
      s.reconnect_max_delay = g_value_get_uint(value);
      break;
    case PROP_SOURCE_ID:
      set_string(s.source_id, value);
      break;
    case PROP_PUBLISH_EMPTY:
      s.publish_empty = g_value_get_boolean(value) != FALSE;
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK(self);
}

void get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec) {
  GstDeepfakePublish *self = as_publish(object);
  if (id == PROP_MESSAGES_PUBLISHED || id == PROP_MESSAGES_BUFFERED ||
      id == PROP_MESSAGES_DROPPED) {
    g_value_set_uint64(value, counter(self, id));
    return;
  }
  GST_OBJECT_LOCK(self);
  const PublishSettings &s = self->settings;
  switch (id) {
    case PROP_METHOD:
      g_value_set_enum(value, static_cast<gint>(s.method));
      break;
    case PROP_FILE_PATH:
      g_value_set_string(value, s.file_path.c_str());
      break;
    case PROP_FILE_FORMAT:
      g_value_set_enum(value, static_cast<gint>(s.file_format));
      break;
    case PROP_ADDRESS:
      g_value_set_string(value, s.address.c_str());
      break;
    case PROP_TOPIC:
      g_value_set_string(value, s.topic.c_str());
      break;
    case PROP_ALERT_TOPIC:
      g_value_set_string(value, s.alert_topic.c_str());
      break;
    case PROP_QOS:
      g_value_set_int(value, s.qos);
      break;
    case PROP_CLIENT_ID:
      g_value_set_string(value, s.client_id.empty() ? nullptr : s.client_id.c_str());
      break;
    case PROP_USERNAME:
      g_value_set_string(value, s.username.empty() ? nullptr : s.username.c_str());
      break;
    case PROP_TLS_CA_FILE:
      g_value_set_string(value, s.tls_ca_file.empty() ? nullptr : s.tls_ca_file.c_str());
      break;
    case PROP_TLS_CERT_FILE:
      g_value_set_string(value, s.tls_cert_file.empty() ? nullptr : s.tls_cert_file.c_str());
      break;
    case PROP_TLS_KEY_FILE:
      g_value_set_string(value, s.tls_key_file.empty() ? nullptr : s.tls_key_file.c_str());
      break;
    case PROP_MAX_BUFFERED:
      g_value_set_uint(value, s.max_buffered);
      break;
    case PROP_RECONNECT_MIN_DELAY:
      g_value_set_uint(value, s.reconnect_min_delay);
      break;
    case PROP_RECONNECT_MAX_DELAY:
      g_value_set_uint(value, s.reconnect_max_delay);
      break;
    case PROP_SOURCE_ID:
      g_value_set_string(value, s.source_id.empty() ? nullptr : s.source_id.c_str());
      break;
    case PROP_PUBLISH_EMPTY:
      g_value_set_boolean(value, s.publish_empty ? TRUE : FALSE);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK(self);
}

void finalize(GObject *object) {
  GstDeepfakePublish *self = as_publish(object);
  // Constructed in place in gst_deepfake_publish_init.
  std::destroy_at(&self->state);
  std::destroy_at(&self->settings);
  G_OBJECT_CLASS(gst_deepfake_publish_parent_class)->finalize(object);
}

// Read at start (READY -> PAUSED): changing them later takes effect on the next start.
constexpr auto kFlags =
    static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
constexpr auto kCounterFlags = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

void install_string(GObjectClass *klass, guint id, const char *name, const char *nick,
                    const char *blurb, const char *default_value, GParamFlags flags = kFlags) {
  g_object_class_install_property(klass, id,
                                  g_param_spec_string(name, nick, blurb, default_value, flags));
}

void install_properties(GObjectClass *klass) {
  const PublishSettings d;
  g_object_class_install_property(
      klass, PROP_METHOD,
      g_param_spec_enum("method", "Method",
                        "Where messages go: 'file' writes them to file-path (stdout by default) "
                        "in file-format; 'mqtt' publishes frames to 'topic' and alerts to "
                        "'alert-topic' on the broker at 'address'",
                        GST_TYPE_DEEPFAKE_PUBLISH_METHOD, static_cast<gint>(d.method), kFlags));
  install_string(klass, PROP_FILE_PATH, "file-path", "File path",
                 "method=file: the file to write (created or truncated at start); \"stdout\" or "
                 "\"-\" writes to standard output",
                 d.file_path.c_str());
  g_object_class_install_property(
      klass, PROP_FILE_FORMAT,
      g_param_spec_enum("file-format", "File format",
                        "method=file: 'json-lines' writes one JSON document per line and flushes "
                        "it (frames, and alerts with \"type\":\"alert\"); 'json' writes one JSON "
                        "array over the whole run, closed at EOS or stop so the file parses",
                        GST_TYPE_DEEPFAKE_PUBLISH_FILE_FORMAT, static_cast<gint>(d.file_format),
                        kFlags));
  install_string(klass, PROP_ADDRESS, "address", "Address",
                 "method=mqtt: the broker as \"host:port\" (\"[ipv6]:port\" for IPv6 "
                 "addresses). A malformed address is an error at start; a broker that is down "
                 "is not (messages are buffered and the connection retried)",
                 d.address.c_str());
  install_string(klass, PROP_TOPIC, "topic", "Topic",
                 "method=mqtt: the topic of the per-frame messages (gvametaconvert layout)",
                 d.topic.c_str());
  install_string(klass, PROP_ALERT_TOPIC, "alert-topic", "Alert topic",
                 "method=mqtt: the topic of verdict alerts (a face's verdict changed); empty: "
                 "alerts are not published, the per-frame messages still carry every verdict",
                 d.alert_topic.c_str());
  g_object_class_install_property(
      klass, PROP_QOS,
      g_param_spec_int("qos", "QoS",
                       "method=mqtt: MQTT quality of service: 0 at most once, 1 at least once "
                       "(messages in flight when the connection drops are sent again), 2 "
                       "exactly once",
                       0, 2, d.qos, kFlags));
  install_string(klass, PROP_CLIENT_ID, "client-id", "Client id",
                 "method=mqtt: the MQTT client id; unset: libmosquitto generates a random one",
                 nullptr);
  install_string(klass, PROP_USERNAME, "username", "Username",
                 "method=mqtt: user name for the broker; unset: no authentication", nullptr);
  g_object_class_install_property(
      klass, PROP_PASSWORD,
      g_param_spec_string("password", "Password",
                          "method=mqtt: password for 'username' (write-only, so that it is not "
                          "printed by gst-launch -v or gst-inspect)",
                          nullptr,
                          static_cast<GParamFlags>(G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS |
                                                   GST_PARAM_MUTABLE_READY)));
  install_string(klass, PROP_TLS_CA_FILE, "tls-ca-file", "TLS CA file",
                 "method=mqtt: PEM file of the certificate authorities that signed the "
                 "broker's certificate; setting it turns TLS on. Unreadable: error at start",
                 nullptr);
  install_string(klass, PROP_TLS_CERT_FILE, "tls-cert-file", "TLS certificate file",
                 "method=mqtt: PEM client certificate for brokers that require one (with "
                 "tls-key-file and tls-ca-file). Unreadable: error at start",
                 nullptr);
  install_string(klass, PROP_TLS_KEY_FILE, "tls-key-file", "TLS key file",
                 "method=mqtt: PEM private key of tls-cert-file (unencrypted). Unreadable: "
                 "error at start",
                 nullptr);
  g_object_class_install_property(
      klass, PROP_MAX_BUFFERED,
      g_param_spec_uint("max-buffered-messages", "Max buffered messages",
                        "method=mqtt: messages kept while the broker is not connected; when "
                        "full, the oldest is dropped (counted in messages-dropped). They are "
                        "sent in order on reconnection",
                        1, G_MAXINT, d.max_buffered, kFlags));
  g_object_class_install_property(
      klass, PROP_RECONNECT_MIN_DELAY,
      g_param_spec_uint("reconnect-min-delay", "Reconnect min delay",
                        "method=mqtt: seconds before the first reconnection attempt; the delay "
                        "doubles after each failure up to reconnect-max-delay",
                        1, 3600, d.reconnect_min_delay, kFlags));
  g_object_class_install_property(
      klass, PROP_RECONNECT_MAX_DELAY,
      g_param_spec_uint("reconnect-max-delay", "Reconnect max delay",
                        "method=mqtt: the longest wait, in seconds, between two reconnection "
                        "attempts",
                        1, 3600, d.reconnect_max_delay, kFlags));
  install_string(klass, PROP_SOURCE_ID, "source-id", "Source id",
                 "Identifies this stream in every message (the JSON \"source\" field, "
                 "frames and alerts); unset: the element's name",
                 nullptr);
  g_object_class_install_property(
      klass, PROP_PUBLISH_EMPTY,
      g_param_spec_boolean("publish-empty-frames", "Publish empty frames",
                           "Also publish frames without any region of interest (no \"objects\" "
                           "field), e.g. as a heartbeat; by default only frames with faces are "
                           "published",
                           d.publish_empty, kFlags));
  g_object_class_install_property(
      klass, PROP_MESSAGES_PUBLISHED,
      g_param_spec_uint64("messages-published", "Messages published",
                          "Messages delivered since start: written to the file, or acknowledged "
                          "by the broker (QoS 1 and 2) or written to its socket (QoS 0)",
                          0, G_MAXUINT64, 0, kCounterFlags));
  g_object_class_install_property(
      klass, PROP_MESSAGES_BUFFERED,
      g_param_spec_uint64("messages-buffered", "Messages buffered",
                          "method=mqtt: messages waiting for the broker to be connected (at "
                          "most max-buffered-messages)",
                          0, G_MAXUINT64, 0, kCounterFlags));
  g_object_class_install_property(
      klass, PROP_MESSAGES_DROPPED,
      g_param_spec_uint64("messages-dropped", "Messages dropped",
                          "Messages lost since start: pushed out of the full buffer while the "
                          "broker was away (oldest first), still buffered when the element "
                          "stopped while disconnected, QoS 0 messages unsent when the "
                          "connection dropped, or file writes that failed",
                          0, G_MAXUINT64, 0, kCounterFlags));
}

}  // namespace

static void gst_deepfake_publish_class_init(GstDeepfakePublishClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *transform_class = GST_BASE_TRANSFORM_CLASS(klass);
  GST_DEBUG_CATEGORY_INIT(deepfake_publish_debug, "deepfakepublish", 0, "deepfake publishing");

  gobject_class->set_property = set_property;
  gobject_class->get_property = get_property;
  gobject_class->finalize = finalize;
  install_properties(gobject_class);

  gst_element_class_set_static_metadata(
      element_class, "Deepfake metadata publisher", "Filter/Metadata/Video",
      "Serialises deepfakedetect's per-frame face metadata to JSON in DL Streamer "
      "gvametaconvert's layout, derives verdict alerts, and writes both to a file/stdout "
      "(JSON lines or one array) or publishes them to an MQTT broker with a bounded buffer "
      "and automatic reconnection; frames pass through untouched",
      "gst-deepfake contributors");
  // gst-inspect-1.0 lists every metadata key: this one shows how the element is used.
  gst_element_class_add_static_metadata(
      element_class, "example",
      "... ! deepfakedetect ! deepfakepublish method=mqtt address=localhost:1883 "
      "topic=deepfake/frames alert-topic=deepfake/alerts ! fakesink (see gst/README.md)");
  gst_element_class_add_static_pad_template(element_class, &publish_sink_template);
  gst_element_class_add_static_pad_template(element_class, &publish_src_template);

  transform_class->passthrough_on_same_caps = TRUE;
  transform_class->transform_ip_on_passthrough = TRUE;
  transform_class->transform_ip = transform_ip;
  transform_class->set_caps = set_caps;
  transform_class->start = start;
  transform_class->stop = stop;
  transform_class->sink_event = sink_event;
  gst_type_mark_as_plugin_api(GST_TYPE_DEEPFAKE_PUBLISH_METHOD, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(GST_TYPE_DEEPFAKE_PUBLISH_FILE_FORMAT,
                              static_cast<GstPluginAPIFlags>(0));
}

static void gst_deepfake_publish_init(GstDeepfakePublish *self) {
  // GObject hands out zeroed memory: the C++ members are constructed in it here and destroyed
  // in finalize.
  std::uninitialized_default_construct_n(&self->settings, 1);
  std::uninitialized_default_construct_n(&self->state, 1);
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}
