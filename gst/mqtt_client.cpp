#include "mqtt_client.h"

#include <mosquitto.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

namespace dfd::gst {

namespace {

void init_library() {
  // mosquitto_lib_init is not thread-safe and must run once per process; it is never undone,
  // since another element may still be using the library.
  static const int once = mosquitto_lib_init();
  (void)once;
}

void check_readable(const std::string &path, const char *what) {
  if (path.empty()) return;
  if (access(path.c_str(), R_OK) != 0) {
    throw std::runtime_error(std::string(what) + " '" + path +
                             "' is not readable: " + std::strerror(errno));
  }
}

std::string error_text(int rc) {
  // MOSQ_ERR_ERRNO means the reason is in errno (connection refused, host unreachable...).
  if (rc == MOSQ_ERR_ERRNO) return std::strerror(errno);
  return mosquitto_strerror(rc);
}

}  // namespace

BrokerAddress parse_broker_address(const std::string &address) {
  BrokerAddress out;
  std::string port_text;
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      throw std::invalid_argument("expected \"[ipv6-address]:port\"");
    }
    out.host = address.substr(1, close - 1);
    port_text = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("expected \"host:port\"");
    out.host = address.substr(0, colon);
    port_text = address.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) {
      throw std::invalid_argument("an IPv6 address must be in brackets: \"[address]:port\"");
    }
  }
  if (out.host.empty()) throw std::invalid_argument("the host is empty");
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    throw std::invalid_argument("the port '" + port_text + "' is not a number");
  }
  out.port = std::atoi(port_text.c_str());
  if (out.port < 1 || out.port > 65535) {
    throw std::invalid_argument("the port " + port_text + " is outside 1..65535");
  }
  return out;
}

struct MqttPublisher::Session {
  struct Message {
    std::string topic;
    std::string payload;
  };

  Session(const MqttSettings &s, EventHandler handler)
      : settings(s), on_event(std::move(handler)) {}
  ~Session() {
    if (client != nullptr) mosquitto_destroy(client);
  }
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  static void on_connect(struct mosquitto *, void *object, int rc);
  static void on_disconnect(struct mosquitto *, void *object, int rc);
  static void on_publish(struct mosquitto *, void *object, int mid);

  // With `lock` held. False when libmosquitto refused it (then the caller buffers it).
  bool send_locked(const Message &message) {
    const int rc = mosquitto_publish(client, nullptr, message.topic.c_str(),
                                     static_cast<int>(message.payload.size()),
                                     message.payload.data(), settings.qos, false);
    if (rc != MOSQ_ERR_SUCCESS) return false;
    ++handed;
    return true;
  }
  void buffer_locked(Message message) {
    if (buffer.size() >= settings.max_buffered) {
      buffer.pop_front();
      ++dropped;
    }
    buffer.push_back(std::move(message));
  }

  // Event reports go through `report_lock`, so that stop_reporting() can guarantee that none
  // is running or will run.
  void report(Event event, const std::string &detail) {
    std::lock_guard<std::mutex> guard(report_lock);
    if (reporting && on_event) on_event(event, detail);
  }
  void stop_reporting() {
    std::lock_guard<std::mutex> guard(report_lock);
    reporting = false;
  }

  // Ends the network thread: a clean disconnect when connected. May block for as long as a
  // connect() in progress does.
  void close() {
    mosquitto_disconnect(client);
    mosquitto_loop_stop(client, false);
  }

  const MqttSettings settings;
  const EventHandler on_event;
  struct mosquitto *client = nullptr;
  std::string initial_error;  // written before the thread can call back

  std::mutex report_lock;
  bool reporting = true;

  mutable std::mutex lock;
  mutable std::condition_variable changed;
  std::deque<Message> buffer;
  bool connected = false;
  bool ever_connected = false;
  bool refusal_reported = false;  // one Refused event per outage, not one per retry
  uint64_t handed = 0;            // accepted by mosquitto_publish
  uint64_t published = 0;         // on_publish callbacks
  uint64_t dropped = 0;
};

namespace {

// How long the destructor waits for libmosquitto's thread to end before leaving it to finish
// alone (stuck in a connect() to a host that drops packets, it could take minutes).
constexpr auto kCloseWait = std::chrono::seconds(2);

}  // namespace

MqttPublisher::MqttPublisher(const MqttSettings &settings, EventHandler on_event) {
  if (settings.qos < 0 || settings.qos > 2) throw std::runtime_error("qos must be 0, 1 or 2");
  if (settings.max_buffered == 0) throw std::runtime_error("max-buffered-messages must be > 0");
  check_readable(settings.tls_ca_file, "TLS CA file");
  check_readable(settings.tls_cert_file, "TLS certificate file");
  check_readable(settings.tls_key_file, "TLS key file");
  if (settings.tls_cert_file.empty() != settings.tls_key_file.empty()) {
    throw std::runtime_error("tls-cert-file and tls-key-file must be set together");
  }
  if (!settings.tls_cert_file.empty() && settings.tls_ca_file.empty()) {
    throw std::runtime_error("a client certificate needs tls-ca-file (TLS is off without it)");
  }

  init_library();
  session_ = std::make_shared<Session>(settings, std::move(on_event));
  Session &s = *session_;
  s.client =
      mosquitto_new(settings.client_id.empty() ? nullptr : settings.client_id.c_str(), true, &s);
  if (s.client == nullptr) throw std::runtime_error("could not create an MQTT client");
  int rc = MOSQ_ERR_SUCCESS;
  if (!settings.username.empty()) {
    rc = mosquitto_username_pw_set(s.client, settings.username.c_str(),
                                   settings.password.empty() ? nullptr : settings.password.c_str());
    if (rc != MOSQ_ERR_SUCCESS) throw std::runtime_error("username: " + error_text(rc));
  }
  if (!settings.tls_ca_file.empty()) {
    rc = mosquitto_tls_set(
        s.client, settings.tls_ca_file.c_str(), nullptr,
        settings.tls_cert_file.empty() ? nullptr : settings.tls_cert_file.c_str(),
        settings.tls_key_file.empty() ? nullptr : settings.tls_key_file.c_str(), nullptr);
    if (rc != MOSQ_ERR_SUCCESS) throw std::runtime_error("TLS set-up: " + error_text(rc));
  }
  const unsigned min_delay = std::max(1u, settings.reconnect_min_delay);
  mosquitto_reconnect_delay_set(s.client, min_delay,
                                std::max(min_delay, settings.reconnect_max_delay), true);
  mosquitto_connect_callback_set(s.client, &Session::on_connect);
  mosquitto_disconnect_callback_set(s.client, &Session::on_disconnect);
  mosquitto_publish_callback_set(s.client, &Session::on_publish);

  // The thread starts first: it then waits for the connection request and, should the first
  // attempt fail (broker down), keeps retrying with the reconnect delays. In the other order
  // libmosquitto never retries a failed first attempt (mosquitto issue #1903).
  rc = mosquitto_loop_start(s.client);
  if (rc != MOSQ_ERR_SUCCESS) throw std::runtime_error("network thread: " + error_text(rc));
  rc = mosquitto_connect_async(s.client, settings.broker.host.c_str(), settings.broker.port,
                               static_cast<int>(settings.keepalive));
  if (rc != MOSQ_ERR_SUCCESS) {
    std::lock_guard<std::mutex> guard(s.lock);
    s.initial_error = error_text(rc);
  }
}

MqttPublisher::~MqttPublisher() {
  session_->stop_reporting();
  // The closing thread holds its own reference: if it outlives the wait, it still ends the
  // network thread and frees the client when connect() finally gives up.
  auto closed = std::make_shared<std::promise<void>>();
  std::future<void> done = closed->get_future();
  std::thread closer([session = session_, closed] {
    session->close();
    closed->set_value();
  });
  if (done.wait_for(kCloseWait) == std::future_status::ready) {
    closer.join();
  } else {
    closer.detach();
  }
}

void MqttPublisher::publish(const std::string &topic, std::string payload) {
  Session &s = *session_;
  Session::Message message{topic, std::move(payload)};
  std::lock_guard<std::mutex> guard(s.lock);
  // While connected the buffer is empty (on_connect drains it under this lock), so sending
  // directly keeps the order.
  if (s.connected && s.buffer.empty() && s.send_locked(message)) return;
  s.buffer_locked(std::move(message));
}

void MqttPublisher::Session::on_connect(struct mosquitto *, void *object, int rc) {
  auto *s = static_cast<Session *>(object);
  Event event = Event::Refused;
  bool report = true;
  {
    std::lock_guard<std::mutex> guard(s->lock);
    if (rc == 0) {
      event = s->ever_connected ? Event::Reconnected : Event::Connected;
      s->connected = true;
      s->ever_connected = true;
      s->refusal_reported = false;
      while (!s->buffer.empty() && s->send_locked(s->buffer.front())) s->buffer.pop_front();
    } else {
      report = !s->refusal_reported;
      s->refusal_reported = true;
    }
  }
  s->changed.notify_all();
  if (report) s->report(event, rc == 0 ? std::string() : mosquitto_connack_string(rc));
}

void MqttPublisher::Session::on_disconnect(struct mosquitto *, void *object, int rc) {
  auto *s = static_cast<Session *>(object);
  bool report = false;
  {
    std::lock_guard<std::mutex> guard(s->lock);
    report = s->connected;
    s->connected = false;
    // QoS 0 messages that libmosquitto had not written yet are discarded on reconnect without
    // a callback; QoS 1 and 2 ones stay in its session and are sent again.
    if (s->settings.qos == 0 && s->handed > s->published) {
      s->dropped += s->handed - s->published;
      s->handed = s->published;
    }
  }
  s->changed.notify_all();
  // A disconnect we asked for comes after stop_reporting(), so it is not reported.
  if (report) s->report(Event::Disconnected, error_text(rc));
}

void MqttPublisher::Session::on_publish(struct mosquitto *, void *object, int) {
  auto *s = static_cast<Session *>(object);
  {
    std::lock_guard<std::mutex> guard(s->lock);
    ++s->published;
  }
  s->changed.notify_all();
}

bool MqttPublisher::flush(std::chrono::milliseconds timeout) {
  Session &s = *session_;
  std::unique_lock<std::mutex> guard(s.lock);
  return s.changed.wait_for(guard, timeout, [&s] {
    return !s.connected || (s.buffer.empty() && s.published >= s.handed);
  }) && s.connected;
}

bool MqttPublisher::wait_connected(std::chrono::milliseconds timeout) const {
  Session &s = *session_;
  std::unique_lock<std::mutex> guard(s.lock);
  return s.changed.wait_for(guard, timeout, [&s] { return s.connected || s.refusal_reported; }) &&
         s.connected;
}

bool MqttPublisher::refused() const {
  std::lock_guard<std::mutex> guard(session_->lock);
  return session_->refusal_reported && !session_->connected;
}

void MqttPublisher::discard_buffered() {
  Session &s = *session_;
  std::lock_guard<std::mutex> guard(s.lock);
  s.dropped += s.buffer.size();
  s.buffer.clear();
}

MqttCounters MqttPublisher::counters() const {
  const Session &s = *session_;
  std::lock_guard<std::mutex> guard(s.lock);
  return {s.published, static_cast<uint64_t>(s.buffer.size()), s.dropped};
}

bool MqttPublisher::connected() const {
  std::lock_guard<std::mutex> guard(session_->lock);
  return session_->connected;
}

std::string MqttPublisher::initial_error() const {
  std::lock_guard<std::mutex> guard(session_->lock);
  return session_->initial_error;
}

}  // namespace dfd::gst
