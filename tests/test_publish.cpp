// deepfakepublish: the JSON serialiser and alert rule on synthetic ROI metadata, file output
// (JSON lines and one array) through GstHarness, MQTT delivery against a real mosquitto broker
// started by the test on a free 127.0.0.1 port (frames and alerts, a broker stopped and
// restarted mid-run with exact buffer counts and order, a broker down at start, credentials,
// TLS, a host that drops packets), and alerts compared with deepfakedetect's own on the
// bundled clip. The MQTT cases run with --mqtt (the meson test publish-mqtt), which exits 77
// (skip) when /usr/sbin/mosquitto is missing; the others need no broker.
#include <arpa/inet.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/json_strict.h"
#include "deepfakemeta.h"
#include "publish_alerts.h"
#include "publish_json.h"

// Last: its macros clash with standard headers included after it.
#include <gst/check/gstcheck.h>

// gstreamer-check's bundled Check predates ck_assert_double_eq. Exact: every expected value is
// what the serialiser must reproduce bit for bit (JSON numbers round-trip doubles).
#define assert_number_eq(X, Y)                                                  \
  do {                                                                          \
    const double x_ = (X), y_ = (Y);                                            \
    ck_assert_msg(x_ == y_, "%s == %s failed: %.17g != %.17g", #X, #Y, x_, y_); \
  } while (0)

// Check's string assertion keeps only a pointer, which would dangle for a temporary string.
#define assert_text_eq(X, Y)                                                                  \
  do {                                                                                        \
    const std::string x_ = (X), y_ = (Y);                                                     \
    ck_assert_msg(x_ == y_, "%s == %s failed: '%s' != '%s'", #X, #Y, x_.c_str(), y_.c_str()); \
  } while (0)

namespace {

namespace pub = dfd::gst::publish;
using dfd::json::Value;
namespace json = dfd::json;
using Clock = std::chrono::steady_clock;

constexpr int kWidth = 320;
constexpr int kHeight = 240;
constexpr const char *kCaps = "video/x-raw,format=I420,width=320,height=240,framerate=25/1";
constexpr GstClockTime kFrame = GST_SECOND / 25;
const char *const kMosquitto = "/usr/sbin/mosquitto";

// How much slower than a plain build this one runs (DFD_TEST_TIME_SCALE: 4 under the
// sanitizers, 50 under memcheck): waits for something to happen are multiplied by it.
double time_scale() {
  const char *text = std::getenv("DFD_TEST_TIME_SCALE");
  const double scale = text != nullptr ? std::atof(text) : 1.0;
  return scale >= 1.0 ? scale : 1.0;
}

std::chrono::milliseconds scaled(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * time_scale() * 1000));
}

// A push or a stop that waited on the network would take at least the element's reconnection
// delay (1 s in these tests) or its flush timeout (5 s): the bounds below separate those from
// a loaded machine's scheduling delays without being near either.
constexpr double kPushBound = 0.5;

// ---- synthetic deepfakedetect metadata ------------------------------------------------------

struct Face {
  int id = 0;  // 0: no object_id param
  const char *verdict = "unknown";
  double smoothed = 0.0;
  double probability = 0.0;  // fake probability of the newest analysis
  guint x = 0, y = 0, w = 0, h = 0;
};

// The params deepfakedetect's roi_metadata.cpp attaches, with the same names and types.
void add_face(GstBuffer *buffer, const Face &face) {
  GstVideoRegionOfInterestMeta *roi = gst_buffer_add_video_region_of_interest_meta(
      buffer, GST_DEEPFAKE_ROI_TYPE, face.x, face.y, face.w, face.h);
  gst_video_region_of_interest_meta_add_param(
      roi,
      gst_structure_new(GST_DEEPFAKE_PARAM_DETECTION, "x_min", G_TYPE_DOUBLE,
                        static_cast<double>(face.x) / kWidth, "y_min", G_TYPE_DOUBLE,
                        static_cast<double>(face.y) / kHeight, "x_max", G_TYPE_DOUBLE,
                        static_cast<double>(face.x + face.w) / kWidth, "y_max", G_TYPE_DOUBLE,
                        static_cast<double>(face.y + face.h) / kHeight, "confidence", G_TYPE_DOUBLE,
                        0.75, "label_id", G_TYPE_INT, 0, "label", G_TYPE_STRING, "face", nullptr));
  const std::string verdict = face.verdict;
  const bool scored = verdict != "unknown";
  const bool label_fake = face.probability >= 0.55;
  gst_video_region_of_interest_meta_add_param(
      roi,
      gst_structure_new(GST_DEEPFAKE_PARAM_CLASSIFICATION, GST_DEEPFAKE_FIELD_LABEL, G_TYPE_STRING,
                        !scored      ? "unknown"
                        : label_fake ? "fake"
                                     : "real",
                        GST_DEEPFAKE_FIELD_CONFIDENCE, G_TYPE_DOUBLE,
                        !scored      ? 0.0
                        : label_fake ? face.probability
                                     : 1.0 - face.probability,
                        GST_DEEPFAKE_FIELD_FAKE_PROBABILITY, G_TYPE_DOUBLE, face.probability,
                        GST_DEEPFAKE_FIELD_LABEL_ID, G_TYPE_INT,
                        !scored      ? -1
                        : label_fake ? 1
                                     : 0,
                        GST_DEEPFAKE_FIELD_MODEL_NAME, G_TYPE_STRING, "test-model",
                        GST_DEEPFAKE_FIELD_ATTRIBUTE_NAME, G_TYPE_STRING, "deepfake",
                        GST_DEEPFAKE_FIELD_SMOOTHED_SCORE, G_TYPE_DOUBLE, face.smoothed,
                        GST_DEEPFAKE_FIELD_VERDICT, G_TYPE_STRING, face.verdict,
                        GST_DEEPFAKE_FIELD_ANALYSES, G_TYPE_INT, scored ? 3 : 0, nullptr));
  if (face.id != 0) {
    gst_video_region_of_interest_meta_add_param(
        roi, gst_structure_new(GST_DEEPFAKE_PARAM_OBJECT_ID, GST_DEEPFAKE_FIELD_ID, G_TYPE_INT,
                               face.id, nullptr));
  }
}

GstBuffer *frame(int index, const std::vector<Face> &faces) {
  GstBuffer *buffer = gst_buffer_new_allocate(nullptr, kWidth * kHeight * 3 / 2, nullptr);
  gst_buffer_memset(buffer, 0, 0, kWidth * kHeight * 3 / 2);
  GST_BUFFER_PTS(buffer) = index * kFrame;
  GST_BUFFER_DURATION(buffer) = kFrame;
  for (const Face &face : faces) add_face(buffer, face);
  return buffer;
}

Face face(int id, const char *verdict, double smoothed = 0.5) {
  Face f;
  f.id = id;
  f.verdict = verdict;
  f.smoothed = smoothed;
  f.probability = smoothed;
  f.x = 32;
  f.y = 24;
  f.w = 160;
  f.h = 120;
  return f;
}

double number(const Value &object, const char *key) {
  const Value *v = json::find(object, key);
  ck_assert_msg(v != nullptr, "missing \"%s\"", key);
  return json::as_number(*v);
}

std::string text(const Value &object, const char *key) {
  const Value *v = json::find(object, key);
  ck_assert_msg(v != nullptr, "missing \"%s\"", key);
  return json::as_string(*v);
}

std::string read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string temp_dir() {
  char templ[] = "/tmp/dfd-test-publish-XXXXXX";
  ck_assert(mkdtemp(templ) != nullptr);
  return templ;
}

// ---- a real broker and subscriber -----------------------------------------------------------

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool port_open(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// Runs a command to completion (PATH searched, output discarded); fails the test unless it
// exits with 0.
void run(std::vector<std::string> command) {
  std::vector<gchar *> argv;
  for (std::string &arg : command) argv.push_back(arg.data());
  argv.push_back(nullptr);
  gint status = -1;
  GError *error = nullptr;
  const gboolean ok =
      g_spawn_sync(nullptr, argv.data(), nullptr,
                   static_cast<GSpawnFlags>(G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                                            G_SPAWN_STDERR_TO_DEV_NULL),
                   nullptr, nullptr, nullptr, nullptr, &status, &error);
  ck_assert_msg(ok, "cannot run %s: %s", command[0].c_str(), error ? error->message : "");
  ck_assert_msg(g_spawn_check_wait_status(status, nullptr), "%s failed", command[0].c_str());
}

void die_with_parent(gpointer) {
  // A failed check ends the test process without destructors: the broker must not outlive it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
}

// mosquitto on 127.0.0.1:port with a persistent store, so that a subscriber's session and the
// messages queued for it survive a restart (stopped with SIGTERM, which saves the store).
class Broker {
 public:
  // With `user`, only that user with `password` may connect.
  explicit Broker(const std::string &user = "", const std::string &password = "")
      : dir_(temp_dir()), port_(free_port()) {
    if (!user.empty()) run({"mosquitto_passwd", "-b", "-c", dir_ + "/passwd", user, password});
    std::ofstream conf(dir_ + "/mosquitto.conf");
    conf << "listener " << port_ << " 127.0.0.1\n"
         << (user.empty() ? "allow_anonymous true\n"
                          : "allow_anonymous false\npassword_file " + dir_ + "/passwd\n")
         << "persistence true\n"
         << "persistence_location " << dir_ << "/\n"
         << "max_queued_messages 100000\n"
         << "log_dest file " << dir_
         << "/mosquitto.log\n"
         // Run as root (CI), mosquitto would switch to user "mosquitto", which cannot write
         // the store in this directory.
         << (geteuid() == 0 ? "user root\n" : "");
  }
  ~Broker() {
    stop();
    if (GDir *dir = g_dir_open(dir_.c_str(), 0, nullptr)) {
      while (const gchar *name = g_dir_read_name(dir)) std::remove((dir_ + "/" + name).c_str());
      g_dir_close(dir);
    }
    rmdir(dir_.c_str());
  }

  // Makes the listener TLS-only with a certificate for 127.0.0.1 signed by a new CA (call
  // before start()). Returns the CA file; `other_ca()` is a CA that signed nothing here.
  std::string enable_tls() {
    const std::string d = dir_ + "/";
    run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=test-ca", "-keyout", d + "ca.key", "-out", d + "ca.pem"});
    run({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
         d + "server.key", "-out", d + "server.csr"});
    std::ofstream(d + "ext.cnf") << "subjectAltName=IP:127.0.0.1\n";
    run({"openssl", "x509", "-req", "-days", "2", "-in", d + "server.csr", "-CA", d + "ca.pem",
         "-CAkey", d + "ca.key", "-CAcreateserial", "-extfile", d + "ext.cnf", "-out",
         d + "server.pem"});
    run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=other-ca", "-keyout", d + "other.key", "-out", d + "other-ca.pem"});
    // Options after the listener line are that listener's.
    std::ofstream(d + "mosquitto.conf", std::ios::app)
        << "cafile " << d << "ca.pem\ncertfile " << d << "server.pem\nkeyfile " << d
        << "server.key\n";
    return d + "ca.pem";
  }
  std::string other_ca() const { return dir_ + "/other-ca.pem"; }
  Broker(const Broker &) = delete;
  Broker &operator=(const Broker &) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  void start() {
    const std::string conf = dir_ + "/mosquitto.conf";
    gchar *argv[] = {const_cast<gchar *>(kMosquitto), const_cast<gchar *>("-c"),
                     const_cast<gchar *>(conf.c_str()), nullptr};
    GError *error = nullptr;
    const gboolean ok = g_spawn_async(
        nullptr, argv, nullptr,
        static_cast<GSpawnFlags>(G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                                 G_SPAWN_STDERR_TO_DEV_NULL),
        die_with_parent, nullptr, &pid_, &error);
    ck_assert_msg(ok, "cannot start mosquitto: %s", error ? error->message : "");
    const auto deadline = Clock::now() + scaled(10);
    while (!port_open(port_)) {
      ck_assert_msg(Clock::now() < deadline, "mosquitto did not listen on %d: %s", port_,
                    read_file(dir_ + "/mosquitto.log").c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
  }

 private:
  std::string dir_;
  int port_;
  GPid pid_ = 0;
};

struct Received {
  std::string topic;
  Value json;
};

// A libmosquitto subscriber with a persistent session (clean_session false, QoS 1): what is
// published while it is away is queued for it by the broker.
class Subscriber {
 public:
  Subscriber(int port, const std::string &id, std::vector<std::string> topics,
             const std::string &user = "", const std::string &password = "",
             const std::string &ca_file = "")
      : topics_(std::move(topics)) {
    mosquitto_lib_init();
    client_ = mosquitto_new(id.c_str(), false, this);
    if (!user.empty()) mosquitto_username_pw_set(client_, user.c_str(), password.c_str());
    if (!ca_file.empty()) {
      mosquitto_tls_set(client_, ca_file.c_str(), nullptr, nullptr, nullptr, nullptr);
    }
    mosquitto_reconnect_delay_set(client_, 1, 1, false);
    mosquitto_connect_callback_set(client_, [](mosquitto *m, void *self, int rc) {
      if (rc != 0) return;
      for (const std::string &t : static_cast<Subscriber *>(self)->topics_) {
        mosquitto_subscribe(m, nullptr, t.c_str(), 1);
      }
    });
    mosquitto_subscribe_callback_set(client_, [](mosquitto *, void *self, int, int, const int *) {
      auto *s = static_cast<Subscriber *>(self);
      std::lock_guard<std::mutex> guard(s->lock_);
      ++s->subscriptions_;
      s->changed_.notify_all();
    });
    mosquitto_message_callback_set(
        client_, [](mosquitto *, void *self, const mosquitto_message *message) {
          auto *s = static_cast<Subscriber *>(self);
          Received r;
          r.topic = message->topic;
          r.json = dfd::json::parse(std::string(static_cast<const char *>(message->payload),
                                                static_cast<size_t>(message->payloadlen)));
          std::lock_guard<std::mutex> guard(s->lock_);
          s->messages_.push_back(std::move(r));
          s->changed_.notify_all();
        });
    mosquitto_connect_async(client_, "127.0.0.1", port, 30);
    mosquitto_loop_start(client_);
  }
  ~Subscriber() {
    mosquitto_disconnect(client_);
    mosquitto_loop_stop(client_, false);
    mosquitto_destroy(client_);
  }
  Subscriber(const Subscriber &) = delete;
  Subscriber &operator=(const Subscriber &) = delete;

  bool wait_subscribed(int seconds = 10) {
    std::unique_lock<std::mutex> guard(lock_);
    return changed_.wait_for(guard, scaled(seconds),
                             [this] { return subscriptions_ >= topics_.size(); });
  }
  bool wait_for(size_t count, int seconds = 20) {
    std::unique_lock<std::mutex> guard(lock_);
    return changed_.wait_for(guard, scaled(seconds), [&] { return messages_.size() >= count; });
  }
  std::vector<Received> messages() {
    std::lock_guard<std::mutex> guard(lock_);
    return messages_;
  }

 private:
  std::vector<std::string> topics_;
  mosquitto *client_ = nullptr;
  std::mutex lock_;
  std::condition_variable changed_;
  size_t subscriptions_ = 0;
  std::vector<Received> messages_;
};

// ---- the element ----------------------------------------------------------------------------

// Takes `element` (floating or not): the harness holds the only reference.
GstHarness *publisher(GstElement *element) {
  gst_object_ref_sink(element);
  GstHarness *h = gst_harness_new_with_element(element, "sink", "src");
  gst_object_unref(element);
  gst_harness_set_src_caps_str(h, kCaps);
  gst_harness_play(h);
  return h;
}

GstElement *mqtt_element(const Broker &broker, const char *topic, const char *alert_topic,
                         guint max_buffered) {
  GstElement *e = gst_element_factory_make("deepfakepublish", "cam1");
  ck_assert(e != nullptr);
  g_object_set(e, "source-id", "camera-1", "address", broker.address().c_str(), "topic", topic,
               "alert-topic", alert_topic, "qos", 1, "max-buffered-messages", max_buffered,
               "reconnect-min-delay", 1u, "reconnect-max-delay", 1u, nullptr);
  gst_util_set_object_arg(G_OBJECT(e), "method", "mqtt");
  return e;
}

guint64 counter(GstHarness *h, const char *name) {
  guint64 value = 0;
  g_object_get(h->element, name, &value, nullptr);
  return value;
}

// Pushes and checks that the same buffer, with its metadata, comes out; returns the time the
// push took.
double push_through(GstHarness *h, GstBuffer *buffer) {
  const guint metas_before =
      gst_buffer_get_n_meta(buffer, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE);
  const auto t0 = Clock::now();
  ck_assert_int_eq(gst_harness_push(h, buffer), GST_FLOW_OK);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  GstBuffer *out = gst_harness_pull(h);
  ck_assert(out == buffer);
  ck_assert_uint_eq(gst_buffer_get_n_meta(out, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE),
                    metas_before);
  gst_buffer_unref(out);
  return seconds;
}

bool wait_until(const std::function<bool()> &done, int seconds) {
  const auto deadline = Clock::now() + scaled(seconds);
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// How many messages of `type` whose text contains `needle` are on `bus` (all are taken off).
int bus_count(GstBus *bus, GstMessageType type, const char *needle) {
  int found = 0;
  while (GstMessage *m = gst_bus_pop(bus)) {
    if (GST_MESSAGE_TYPE(m) == type) {
      GError *error = nullptr;
      gchar *debug = nullptr;
      if (type == GST_MESSAGE_WARNING) gst_message_parse_warning(m, &error, &debug);
      if (type == GST_MESSAGE_INFO) gst_message_parse_info(m, &error, &debug);
      if (type == GST_MESSAGE_ERROR) gst_message_parse_error(m, &error, &debug);
      if (error != nullptr && std::string(error->message).find(needle) != std::string::npos) {
        ++found;
      }
      g_clear_error(&error);
      g_free(debug);
    }
    gst_message_unref(m);
  }
  return found;
}

// Whether a message of `type` whose text contains `needle` is on `bus` (taken off up to it).
bool bus_has(GstBus *bus, GstMessageType type, const char *needle) {
  bool found = false;
  while (GstMessage *m = gst_bus_pop(bus)) {
    if (GST_MESSAGE_TYPE(m) == type) {
      GError *error = nullptr;
      gchar *debug = nullptr;
      if (type == GST_MESSAGE_WARNING) gst_message_parse_warning(m, &error, &debug);
      if (type == GST_MESSAGE_INFO) gst_message_parse_info(m, &error, &debug);
      if (type == GST_MESSAGE_ERROR) gst_message_parse_error(m, &error, &debug);
      if (error != nullptr && std::string(error->message).find(needle) != std::string::npos) {
        found = true;
      }
      g_clear_error(&error);
      g_free(debug);
    }
    gst_message_unref(m);
    if (found) return true;
  }
  return false;
}

std::vector<double> timestamps(const std::vector<Received> &messages, const std::string &topic) {
  std::vector<double> out;
  for (const Received &r : messages) {
    if (r.topic == topic) out.push_back(number(r.json, "timestamp"));
  }
  return out;
}

// QoS 1 is at-least-once: a broker stopped before the subscriber's acknowledgement reached it
// sends that message again on reconnection. What counts is that every frame arrives, in order.
std::vector<double> without_redeliveries(const std::vector<double> &timestamps) {
  std::vector<double> out;
  for (double t : timestamps) {
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  return out;
}

}  // namespace

// ---- serialiser -----------------------------------------------------------------------------

GST_START_TEST(test_frame_json_fields) {
  GstBuffer *buffer = frame(5, {});
  Face f = face(7, "fake", 0.8125);
  f.probability = 0.875;
  f.x = 80;
  f.y = 60;
  f.w = 160;
  f.h = 120;
  add_face(buffer, f);
  // An ROI from another element, without params: kept, like gvametaconvert does.
  gst_buffer_add_video_region_of_interest_meta(buffer, "person", 1, 2, 3, 4);

  pub::FrameContext context;
  context.width = kWidth;
  context.height = kHeight;
  context.pts = GST_BUFFER_PTS(buffer);
  context.stream_time = 123;
  context.running_time = 456;
  context.source = "cam-a";
  context.wall_clock = pub::iso8601_utc_ms(1764145229123456);
  assert_text_eq(context.wall_clock.c_str(), "2025-11-26T08:20:29.123Z");
  assert_text_eq(pub::iso8601_utc_ms(0).c_str(), "1970-01-01T00:00:00.000Z");

  const std::string dumped = dfd::json::dump(pub::frame_message(pub::roi_objects(buffer), context));
  const Value message = dfd::json::parse(dumped);
  // As gvametaconvert: the stream time; the PTS beside it.
  assert_number_eq(number(message, "timestamp"), 123);
  assert_number_eq(number(message, "pts"), 5.0 * kFrame);
  ck_assert(json::find(message, "stream_time") == nullptr);
  assert_number_eq(number(message, "running_time"), 456);
  assert_text_eq(text(message, "source").c_str(), "cam-a");
  assert_text_eq(text(message, "wall_clock").c_str(), "2025-11-26T08:20:29.123Z");
  const Value &resolution = *message.find("resolution");
  assert_number_eq(number(resolution, "width"), kWidth);
  assert_number_eq(number(resolution, "height"), kHeight);

  const json::Array &objects = json::as_array(*json::find(message, "objects"));
  ck_assert_uint_eq(objects.size(), 2);
  const Value &o = objects[0];
  assert_number_eq(number(o, "x"), 80);
  assert_number_eq(number(o, "y"), 60);
  assert_number_eq(number(o, "w"), 160);
  assert_number_eq(number(o, "h"), 120);
  assert_number_eq(number(o, "id"), 7);
  assert_text_eq(text(o, "roi_type").c_str(), "face");
  const Value &detection = *o.find("detection");
  const Value &box = *detection.find("bounding_box");
  assert_number_eq(number(box, "x_min"), 0.25);
  assert_number_eq(number(box, "y_min"), 0.25);
  assert_number_eq(number(box, "x_max"), 0.75);
  assert_number_eq(number(box, "y_max"), 0.75);
  assert_number_eq(number(detection, "confidence"), 0.75);
  assert_number_eq(number(detection, "label_id"), 0);
  assert_text_eq(text(detection, "label").c_str(), "face");
  const Value &deepfake = *o.find("deepfake");
  assert_text_eq(text(deepfake, "label").c_str(), "fake");
  assert_number_eq(number(deepfake, "label_id"), 1);
  assert_number_eq(number(deepfake, "confidence"), 0.875);
  assert_number_eq(number(deepfake, "fake_probability"), 0.875);
  assert_number_eq(number(deepfake, "smoothed_score"), 0.8125);
  assert_text_eq(text(deepfake, "verdict").c_str(), "fake");
  assert_number_eq(number(deepfake, "analyses"), 3);
  assert_number_eq(number(deepfake, "object_id"), 7);
  assert_text_eq(text(deepfake, "model_name").c_str(), "test-model");
  assert_text_eq(text(*deepfake.find("model"), "name").c_str(), "test-model");

  const Value &other = objects[1];
  assert_number_eq(number(other, "x"), 1);
  assert_number_eq(number(other, "h"), 4);
  assert_text_eq(text(other, "roi_type").c_str(), "person");
  ck_assert(json::find(other, "id") == nullptr);
  ck_assert(json::find(other, "detection") == nullptr);
  gst_buffer_unref(buffer);

  // Invalid times are left out rather than written as 2^64 - 1.
  pub::FrameContext untimed;
  const Value empty = pub::frame_message({}, untimed);
  ck_assert(json::find(empty, "objects") == nullptr);
  ck_assert(json::find(empty, "timestamp") == nullptr);
  ck_assert(json::find(empty, "running_time") == nullptr);
}
GST_END_TEST;

GST_START_TEST(test_verdict_alerts) {
  pub::VerdictWatch watch;
  auto alerts = [&](std::vector<Face> faces) {
    GstBuffer *buffer = frame(0, faces);
    std::vector<pub::Alert> out = watch.update(buffer);
    gst_buffer_unref(buffer);
    return out;
  };
  // Tracks start "real", as the detector's do: unknown and real raise nothing.
  ck_assert_uint_eq(alerts({face(1, "unknown")}).size(), 0);
  ck_assert_uint_eq(alerts({face(1, "real", 0.3)}).size(), 0);
  std::vector<pub::Alert> a = alerts({face(1, "fake", 0.7), face(2, "real", 0.2)});
  ck_assert_uint_eq(a.size(), 1);
  ck_assert_int_eq(a[0].object_id, 1);
  assert_text_eq(a[0].verdict.c_str(), "fake");
  assert_text_eq(a[0].previous_verdict.c_str(), "real");
  assert_number_eq(a[0].smoothed_score, 0.7);
  ck_assert(a[0].has_box);
  assert_number_eq(a[0].x_min, 0.1);
  ck_assert_uint_eq(a[0].w, 160);
  ck_assert_uint_eq(alerts({face(1, "fake", 0.8)}).size(), 0);
  // A face that is not on a frame keeps its verdict.
  ck_assert_uint_eq(alerts({}).size(), 0);
  ck_assert_uint_eq(alerts({face(1, "fake", 0.8)}).size(), 0);
  a = alerts({face(1, "real", 0.4), face(2, "fake", 0.9)});
  ck_assert_uint_eq(a.size(), 2);
  assert_text_eq(a[0].verdict.c_str(), "real");
  ck_assert_int_eq(a[1].object_id, 2);
  assert_text_eq(a[1].verdict.c_str(), "fake");
  // Metas without an object id cannot be followed: no alert.
  ck_assert_uint_eq(alerts({face(0, "fake", 0.9)}).size(), 0);
  watch.reset();
  ck_assert_uint_eq(watch.tracked(), 0);

  pub::FrameContext context;
  context.width = kWidth;
  context.height = kHeight;
  context.pts = 1040;
  context.stream_time = 40;
  context.running_time = 0;
  context.source = "cam";
  context.wall_clock = "2025-11-26T08:20:29.123Z";
  const Value alert = dfd::json::parse(dfd::json::dump(pub::alert_message(a[1], context)));
  assert_text_eq(text(alert, "type").c_str(), "alert");
  assert_text_eq(text(alert, "source").c_str(), "cam");
  assert_text_eq(text(alert, "wall_clock").c_str(), "2025-11-26T08:20:29.123Z");
  assert_number_eq(number(alert, "timestamp"), 40);
  assert_number_eq(number(alert, "pts"), 1040);
  ck_assert(json::find(alert, "stream_time") == nullptr);
  assert_number_eq(number(alert, "running_time"), 0);
  assert_number_eq(number(alert, "id"), 2);
  assert_text_eq(text(alert, "verdict").c_str(), "fake");
  assert_text_eq(text(alert, "previous_verdict").c_str(), "real");
  assert_number_eq(number(alert, "smoothed_score"), 0.9);
  assert_number_eq(number(alert, "fake_probability"), 0.9);
  ck_assert(json::find(alert, "confidence") == nullptr);
  assert_number_eq(number(alert, "x"), 32);
  assert_number_eq(number(*alert.find("bounding_box"), "y_max"), 0.6);
}
GST_END_TEST;

// ---- file output ----------------------------------------------------------------------------

GST_START_TEST(test_file_json_lines) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/out.jsonl";
  GstElement *e = gst_element_factory_make("deepfakepublish", nullptr);
  g_object_set(e, "file-path", path.c_str(), "source-id", "cam-b", nullptr);
  GstHarness *h = publisher(e);
  push_through(h, frame(0, {face(3, "unknown")}));
  push_through(h, frame(1, {}));  // no faces: not published
  push_through(h, frame(2, {face(3, "fake", 0.9)}));
  ck_assert(gst_harness_push_event(h, gst_event_new_eos()));
  ck_assert_uint_eq(counter(h, "messages-published"), 3);
  ck_assert_uint_eq(counter(h, "messages-dropped"), 0);
  gst_harness_teardown(h);

  std::istringstream lines(read_file(path));
  std::vector<Value> parsed;
  for (std::string line; std::getline(lines, line);) parsed.push_back(dfd::json::parse(line));
  ck_assert_uint_eq(parsed.size(), 3);
  assert_number_eq(number(parsed[0], "timestamp"), 0);
  ck_assert(json::find(parsed[0], "type") == nullptr);
  assert_text_eq(text(parsed[0], "source").c_str(), "cam-b");
  assert_number_eq(number(parsed[1], "timestamp"), 2.0 * kFrame);
  assert_text_eq(text(parsed[2], "type").c_str(), "alert");
  assert_number_eq(number(parsed[2], "id"), 3);
  assert_number_eq(number(parsed[2], "timestamp"), 2.0 * kFrame);
  std::remove(path.c_str());
  rmdir(dir.c_str());
}
GST_END_TEST;

GST_START_TEST(test_file_json_array) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/out.json";
  GstElement *e = gst_element_factory_make("deepfakepublish", nullptr);
  g_object_set(e, "file-path", path.c_str(), "publish-empty-frames", TRUE, nullptr);
  gst_util_set_object_arg(G_OBJECT(e), "file-format", "json");
  GstHarness *h = publisher(e);
  const std::string name = GST_OBJECT_NAME(e);
  for (int i = 0; i < 4; ++i) {
    push_through(h, frame(i, i == 1 ? std::vector<Face>{} : std::vector<Face>{face(1, "real")}));
  }
  ck_assert(gst_harness_push_event(h, gst_event_new_eos()));
  // Complete at EOS, before the element stops.
  const Value document = dfd::json::parse(read_file(path));
  gst_harness_teardown(h);
  const json::Array &items = json::as_array(document);
  ck_assert_uint_eq(items.size(), 4);
  ck_assert(json::find(items[1], "objects") == nullptr);  // the empty frame, published on request
  assert_number_eq(number(items[3], "timestamp"), 3.0 * kFrame);
  assert_text_eq(text(items[3], "source").c_str(), name.c_str());

  // A run without messages still leaves valid JSON.
  GstElement *quiet = gst_element_factory_make("deepfakepublish", nullptr);
  g_object_set(quiet, "file-path", path.c_str(), nullptr);
  gst_util_set_object_arg(G_OBJECT(quiet), "file-format", "json");
  h = publisher(quiet);
  push_through(h, frame(0, {}));
  gst_harness_teardown(h);
  ck_assert_uint_eq(json::as_array(dfd::json::parse(read_file(path))).size(), 0);
  std::remove(path.c_str());
  rmdir(dir.c_str());
}
GST_END_TEST;

GST_START_TEST(test_bad_settings_fail_at_start) {
  struct Case {
    const char *property;
    const char *value;
    const char *message;
  } cases[] = {{"address", "localhost", "Bad MQTT address"},
               {"address", "localhost:99999", "Bad MQTT address"},
               {"tls-ca-file", "/nonexistent/ca.pem", "Could not set up MQTT"}};
  for (const Case &c : cases) {
    GstElement *e = gst_element_factory_make("deepfakepublish", nullptr);
    gst_util_set_object_arg(G_OBJECT(e), "method", "mqtt");
    g_object_set(e, c.property, c.value, nullptr);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    ck_assert_int_eq(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
    ck_assert_msg(bus_has(bus, GST_MESSAGE_ERROR, c.message), "%s=%s", c.property, c.value);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_element_set_bus(e, nullptr);
    gst_object_unref(bus);
    gst_object_unref(e);
  }
}
GST_END_TEST;

// ---- MQTT -----------------------------------------------------------------------------------

GST_START_TEST(test_mqtt_frames_and_alerts) {
  Broker broker;
  broker.start();
  Subscriber sub(broker.port(), "test-sub-basic", {"df/frames", "df/alerts"});
  ck_assert(sub.wait_subscribed());
  GstHarness *h = publisher(mqtt_element(broker, "df/frames", "df/alerts", 100));
  // Tracks 1 and 2; 1 turns fake on frame 2 and back to real on frame 4.
  const char *verdicts[] = {"unknown", "real", "fake", "fake", "real"};
  for (int i = 0; i < 5; ++i) {
    push_through(h, frame(i, {face(1, verdicts[i], 0.6), face(2, "real", 0.1)}));
  }
  ck_assert(gst_harness_push_event(h, gst_event_new_eos()));
  ck_assert(sub.wait_for(7));
  ck_assert_uint_eq(counter(h, "messages-published"), 7);
  ck_assert_uint_eq(counter(h, "messages-buffered"), 0);
  ck_assert_uint_eq(counter(h, "messages-dropped"), 0);
  gst_harness_teardown(h);

  const std::vector<Received> got = sub.messages();
  ck_assert_uint_eq(got.size(), 7);
  const std::vector<double> frames = timestamps(got, "df/frames");
  ck_assert_uint_eq(frames.size(), 5);
  for (int i = 0; i < 5; ++i) assert_number_eq(frames[i], i * static_cast<double>(kFrame));
  std::vector<const Value *> alerts;
  for (const Received &r : got) {
    assert_text_eq(text(r.json, "source").c_str(), "camera-1");
    if (r.topic == "df/alerts") alerts.push_back(&r.json);
    if (r.topic == "df/frames") {
      const json::Array &objects = json::as_array(*json::find(r.json, "objects"));
      ck_assert_uint_eq(objects.size(), 2);
      assert_number_eq(number(objects[1], "id"), 2);
    }
  }
  ck_assert_uint_eq(alerts.size(), 2);
  assert_text_eq(text(*alerts[0], "verdict").c_str(), "fake");
  assert_number_eq(number(*alerts[0], "timestamp"), 2.0 * kFrame);
  assert_text_eq(text(*alerts[1], "verdict").c_str(), "real");
  assert_number_eq(number(*alerts[1], "id"), 1);
}
GST_END_TEST;

GST_START_TEST(test_mqtt_broker_restart) {
  Broker broker;
  broker.start();
  Subscriber sub(broker.port(), "test-sub-restart", {"df/frames"});
  ck_assert(sub.wait_subscribed());
  GstElement *e = mqtt_element(broker, "df/frames", "", 5);
  GstBus *bus = gst_bus_new();
  gst_element_set_bus(e, bus);
  GstHarness *h = publisher(e);
  int index = 0;
  for (; index < 3; ++index) push_through(h, frame(index, {face(1, "real")}));
  ck_assert(sub.wait_for(3));
  ck_assert(wait_until([&] { return counter(h, "messages-published") == 3; }, 10));

  broker.stop();
  ck_assert_msg(
      wait_until([&] { return bus_has(bus, GST_MESSAGE_WARNING, "Lost the connection"); }, 10),
      "no warning on disconnect");
  // 12 frames while the broker is away: the buffer keeps the newest 5, in order. Each push
  // returns with its message already counted as buffered (or the oldest as dropped): nothing
  // waits for the network.
  double slowest = 0;
  for (; index < 15; ++index) {
    slowest = std::max(slowest, push_through(h, frame(index, {face(1, "real")})));
    const guint64 pushed = static_cast<guint64>(index - 2);
    ck_assert_uint_eq(counter(h, "messages-buffered"), std::min<guint64>(pushed, 5));
    ck_assert_uint_eq(counter(h, "messages-dropped"), pushed > 5 ? pushed - 5 : 0);
  }
  std::printf("broker down: 12 frames pushed, slowest push %.3f ms\n", slowest * 1e3);
  ck_assert_msg(slowest < kPushBound * time_scale(), "a push took %.3f s while the broker was down",
                slowest);
  ck_assert_uint_eq(counter(h, "messages-buffered"), 5);
  ck_assert_uint_eq(counter(h, "messages-dropped"), 7);
  ck_assert_uint_eq(counter(h, "messages-published"), 3);

  broker.start();
  ck_assert(wait_until([&] { return counter(h, "messages-buffered") == 0; }, 20));
  ck_assert(wait_until([&] { return bus_has(bus, GST_MESSAGE_INFO, "Reconnected"); }, 10));
  for (; index < 18; ++index) push_through(h, frame(index, {face(1, "real")}));
  ck_assert(gst_harness_push_event(h, gst_event_new_eos()));
  const auto frames_received = [&] {
    return without_redeliveries(timestamps(sub.messages(), "df/frames"));
  };
  ck_assert(wait_until([&] { return frames_received().size() >= 11; }, 20));
  ck_assert_uint_eq(counter(h, "messages-published"), 11);
  ck_assert_uint_eq(counter(h, "messages-dropped"), 7);
  gst_harness_teardown(h);

  const std::vector<double> got = frames_received();
  const int expected[] = {0, 1, 2, 10, 11, 12, 13, 14, 15, 16, 17};
  ck_assert_uint_eq(got.size(), 11);
  for (size_t i = 0; i < got.size(); ++i) {
    assert_number_eq(got[i], expected[i] * static_cast<double>(kFrame));
  }
  gst_object_unref(bus);
}
GST_END_TEST;

GST_START_TEST(test_mqtt_broker_down_at_start) {
  Broker broker;
  // The subscriber's session is made first and kept by the broker's store, so that it
  // receives what the element sends as soon as the broker is back.
  broker.start();
  auto sub = std::make_unique<Subscriber>(broker.port(), "test-sub-late",
                                          std::vector<std::string>{"df/late"});
  ck_assert(sub->wait_subscribed());
  broker.stop();

  GstElement *e = mqtt_element(broker, "df/late", "", 100);
  GstBus *bus = gst_bus_new();
  gst_element_set_bus(e, bus);
  // Starts (publisher() requires the state change to succeed): a broker that is down is
  // only a warning.
  GstHarness *h = publisher(e);
  for (int i = 0; i < 4; ++i) push_through(h, frame(i, {face(1, "real")}));
  ck_assert_uint_eq(counter(h, "messages-buffered"), 4);
  ck_assert_uint_eq(counter(h, "messages-published"), 0);
  ck_assert(bus_has(bus, GST_MESSAGE_WARNING, "not reachable yet"));

  broker.start();
  ck_assert(sub->wait_for(4));
  ck_assert(wait_until([&] { return counter(h, "messages-published") == 4; }, 10));
  ck_assert_uint_eq(counter(h, "messages-dropped"), 0);
  gst_harness_teardown(h);
  const std::vector<double> got = timestamps(sub->messages(), "df/late");
  ck_assert_uint_eq(got.size(), 4);
  for (int i = 0; i < 4; ++i) assert_number_eq(got[i], i * static_cast<double>(kFrame));
  sub.reset();
  gst_object_unref(bus);
}
GST_END_TEST;

GST_START_TEST(test_mqtt_credentials) {
  Broker broker("alice", "s3cret");
  broker.start();
  Subscriber sub(broker.port(), "test-sub-auth", {"df/auth"}, "alice", "s3cret");
  ck_assert(sub.wait_subscribed());

  // Refused: one warning (not one per retry), messages kept, no error.
  GstElement *wrong = mqtt_element(broker, "df/auth", "", 10);
  g_object_set(wrong, "username", "alice", "password", "wrong", nullptr);
  GstBus *bus = gst_bus_new();
  gst_element_set_bus(wrong, bus);
  GstHarness *h = publisher(wrong);
  push_through(h, frame(0, {face(1, "real")}));
  std::this_thread::sleep_for(std::chrono::seconds(3));  // a few retries, 1 s apart
  ck_assert_uint_eq(counter(h, "messages-buffered"), 1);
  ck_assert_uint_eq(counter(h, "messages-published"), 0);
  ck_assert_int_eq(bus_count(bus, GST_MESSAGE_WARNING, "refused the connection"), 1);
  // Stopping while disconnected does not wait for the flush (5 s) that a connected broker
  // would get; what never left is counted as dropped.
  const auto t0 = Clock::now();
  ck_assert_int_eq(gst_element_set_state(h->element, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  const double stop_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  ck_assert_msg(stop_seconds < 4.0, "stopping took %.2f s", stop_seconds);
  ck_assert_uint_eq(counter(h, "messages-buffered"), 0);
  ck_assert_uint_eq(counter(h, "messages-dropped"), 1);
  gst_harness_teardown(h);
  gst_object_unref(bus);

  GstElement *right = mqtt_element(broker, "df/auth", "", 10);
  g_object_set(right, "username", "alice", "password", "s3cret", nullptr);
  h = publisher(right);
  push_through(h, frame(1, {face(1, "real")}));
  ck_assert(gst_harness_push_event(h, gst_event_new_eos()));
  ck_assert_uint_eq(counter(h, "messages-published"), 1);
  gst_harness_teardown(h);
  ck_assert(sub.wait_for(1));
  const std::vector<double> got = timestamps(sub.messages(), "df/auth");
  ck_assert_uint_eq(got.size(), 1);
  assert_number_eq(got[0], static_cast<double>(kFrame));
}
GST_END_TEST;

GST_START_TEST(test_mqtt_tls) {
  Broker broker;
  const std::string ca = broker.enable_tls();
  broker.start();
  Subscriber sub(broker.port(), "test-sub-tls", {"df/tls"}, "", "", ca);
  ck_assert(sub.wait_subscribed());

  // A CA that did not sign the broker's certificate: no connection, a warning, no error.
  GstElement *untrusted = mqtt_element(broker, "df/tls", "", 10);
  g_object_set(untrusted, "tls-ca-file", broker.other_ca().c_str(), nullptr);
  GstBus *bus = gst_bus_new();
  gst_element_set_bus(untrusted, bus);
  GstHarness *h = publisher(untrusted);
  ck_assert(bus_has(bus, GST_MESSAGE_WARNING, "not reachable yet"));
  push_through(h, frame(0, {face(1, "real")}));
  ck_assert_uint_eq(counter(h, "messages-buffered"), 1);
  gst_harness_teardown(h);
  gst_object_unref(bus);

  GstElement *trusted = mqtt_element(broker, "df/tls", "", 10);
  g_object_set(trusted, "tls-ca-file", ca.c_str(), nullptr);
  h = publisher(trusted);
  push_through(h, frame(1, {face(1, "real")}));
  ck_assert(gst_harness_push_event(h, gst_event_new_eos()));
  ck_assert_uint_eq(counter(h, "messages-published"), 1);
  gst_harness_teardown(h);
  ck_assert(sub.wait_for(1));
  const std::vector<double> got = timestamps(sub.messages(), "df/tls");
  ck_assert_uint_eq(got.size(), 1);
  assert_number_eq(got[0], static_cast<double>(kFrame));
}
GST_END_TEST;

// A "host that drops packets" on loopback: a listening socket whose accept queue is full, so
// that the kernel ignores further SYNs and connect() hangs.
class Blackhole {
 public:
  Blackhole() : listener_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(listener_, reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
    ck_assert_int_eq(listen(listener_, 0), 0);
    socklen_t len = sizeof addr;
    getsockname(listener_, reinterpret_cast<sockaddr *>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    for (int &fd : fillers_) {
      fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
    }
  }
  ~Blackhole() {
    for (int fd : fillers_) close(fd);
    close(listener_);
  }
  Blackhole(const Blackhole &) = delete;
  Blackhole &operator=(const Blackhole &) = delete;
  int port() const { return port_; }

 private:
  int listener_;
  int port_ = 0;
  int fillers_[3] = {-1, -1, -1};
};

GST_START_TEST(test_mqtt_unresponsive_host_stops_promptly) {
  Blackhole hole;
  GstElement *e = gst_element_factory_make("deepfakepublish", nullptr);
  const std::string address = "127.0.0.1:" + std::to_string(hole.port());
  g_object_set(e, "address", address.c_str(), "reconnect-max-delay", 1u, nullptr);
  gst_util_set_object_arg(G_OBJECT(e), "method", "mqtt");
  GstBus *bus = gst_bus_new();
  gst_element_set_bus(e, bus);
  GstHarness *h = publisher(e);
  ck_assert(bus_has(bus, GST_MESSAGE_WARNING, "not reachable yet"));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // reconnection attempts hang meanwhile
  ck_assert(push_through(h, frame(0, {face(1, "real")})) < kPushBound * time_scale());
  ck_assert_uint_eq(counter(h, "messages-buffered"), 1);
  // A connect() to this host only gives up after minutes: stopping must not wait for it, only
  // for its own 2 s close wait.
  const auto t0 = Clock::now();
  ck_assert_int_eq(gst_element_set_state(h->element, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("unresponsive broker host: stopped in %.2f s\n", seconds);
  ck_assert_msg(seconds < 2.0 + 4.0 * time_scale(), "stopping took %.2f s", seconds);
  ck_assert_uint_eq(counter(h, "messages-dropped"), 1);
  gst_harness_teardown(h);
  gst_object_unref(bus);
}
GST_END_TEST;

// ---- against the detector --------------------------------------------------------------------

// deepfakedetect with the shipped model on the bundled clip: the alerts the publisher derives
// from the metadata are exactly the detector's own deepfake-alert bus messages. threshold=0
// forces them (every smoothed score is at or above it, so each face turns fake after
// verdict-frames analyses): whether the model calls the clip's real face fake is not the point.
GST_START_TEST(test_alerts_match_detector) {
  const char *data = std::getenv("DFD_TEST_DATA");
  ck_assert(data != nullptr);
  const std::string dir = temp_dir();
  const std::string path = dir + "/detector.jsonl";
  const std::string description = std::string("filesrc location=") + data +
                                  "/videos/liveportrait-d18.mp4 ! decodebin ! videoconvert ! "
                                  "deepfakedetect threshold=0 ! deepfakepublish file-path=" +
                                  path + " ! fakesink";
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(description.c_str(), &error);
  ck_assert_msg(pipeline != nullptr, "%s", error ? error->message : "");
  GstBus *bus = gst_element_get_bus(pipeline);
  ck_assert_int_ne(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  struct Change {
    double id, pts, smoothed;
    std::string verdict;
  };
  std::vector<Change> posted;
  bool done = false;
  while (!done) {
    GstMessage *m = gst_bus_timed_pop(bus, 240 * GST_SECOND);
    ck_assert_msg(m != nullptr, "no EOS within 240 s");
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
      gst_message_parse_error(m, &error, nullptr);
      ck_abort_msg("pipeline error: %s", error->message);
    }
    done = GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS;
    const GstStructure *s = gst_message_get_structure(m);
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ELEMENT && gst_structure_has_name(s, "deepfake-alert")) {
      guint64 id = 0, pts = 0;
      double smoothed = 0;
      gst_structure_get(s, "object_id", G_TYPE_UINT64, &id, "pts", G_TYPE_UINT64, &pts,
                        "smoothed_score", G_TYPE_DOUBLE, &smoothed, nullptr);
      posted.push_back({static_cast<double>(id), static_cast<double>(pts), smoothed,
                        gst_structure_get_string(s, "verdict")});
    }
    gst_message_unref(m);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(pipeline);

  std::vector<Change> published;
  size_t frames = 0;
  std::istringstream lines(read_file(path));
  for (std::string line; std::getline(lines, line);) {
    const Value v = dfd::json::parse(line);
    if (json::find(v, "type") == nullptr) {
      ++frames;
      continue;
    }
    published.push_back(
        {number(v, "id"), number(v, "pts"), number(v, "smoothed_score"), text(v, "verdict")});
  }
  std::printf("detector: %zu frame messages, %zu alerts posted, %zu published\n", frames,
              posted.size(), published.size());
  ck_assert_uint_gt(frames, 0);
  ck_assert_uint_gt(posted.size(), 0);
  ck_assert_uint_eq(published.size(), posted.size());
  for (const Change &change : posted) ck_assert_str_eq(change.verdict.c_str(), "fake");
  for (size_t i = 0; i < posted.size(); ++i) {
    assert_number_eq(published[i].id, posted[i].id);
    assert_number_eq(published[i].pts, posted[i].pts);
    assert_text_eq(published[i].verdict, posted[i].verdict);
    // The scores are float32 in the detector; JSON keeps a float32's shortest exact digits.
    assert_number_eq(static_cast<float>(published[i].smoothed),
                     static_cast<float>(posted[i].smoothed));
  }
  std::remove(path.c_str());
  rmdir(dir.c_str());
}
GST_END_TEST;

// The broker-free cases (JSON, files, against the detector), or with `broker` the MQTT ones,
// which need mosquitto: two meson tests, so that only the second skips without it.
static Suite *publish_suite(bool broker) {
  Suite *s = suite_create("deepfakepublish");
  if (broker) {
    TCase *mqtt = tcase_create("mqtt");
    tcase_set_timeout(mqtt, 120);
    tcase_add_test(mqtt, test_mqtt_frames_and_alerts);
    tcase_add_test(mqtt, test_mqtt_broker_restart);
    tcase_add_test(mqtt, test_mqtt_broker_down_at_start);
    tcase_add_test(mqtt, test_mqtt_credentials);
    tcase_add_test(mqtt, test_mqtt_tls);
    tcase_add_test(mqtt, test_mqtt_unresponsive_host_stops_promptly);
    suite_add_tcase(s, mqtt);
    return s;
  }
  TCase *json = tcase_create("json");
  tcase_add_test(json, test_frame_json_fields);
  tcase_add_test(json, test_verdict_alerts);
  suite_add_tcase(s, json);
  TCase *file = tcase_create("file");
  tcase_set_timeout(file, 60);
  tcase_add_test(file, test_file_json_lines);
  tcase_add_test(file, test_file_json_array);
  tcase_add_test(file, test_bad_settings_fail_at_start);
  suite_add_tcase(s, file);
  TCase *detector = tcase_create("detector");
  tcase_set_timeout(detector, 300);
  tcase_add_test(detector, test_alerts_match_detector);
  suite_add_tcase(s, detector);
  return s;
}

// Usage: test-publish [--mqtt]
int main(int argc, char **argv) {
  const bool broker = argc > 1 && std::string(argv[1]) == "--mqtt";
  if (broker) {
    if (access(kMosquitto, X_OK) != 0) {
      std::printf("SKIP: %s is not installed (Debian package mosquitto)\n", kMosquitto);
      return 77;
    }
    argv[1] = argv[0];
    ++argv;
    --argc;
  }
  gst_check_init(&argc, &argv);
  return gst_check_run_suite(publish_suite(broker), broker ? "publish-mqtt" : "publish", __FILE__);
}
