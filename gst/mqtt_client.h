// An MQTT publisher for deepfakepublish, on libmosquitto. libmosquitto's own network thread
// connects, reconnects with backoff and does all socket I/O, so publish() never waits on the
// network. libmosquitto would queue without limit while disconnected, so this class hands it
// messages only while its own connected flag is set, and otherwise keeps them in a bounded
// buffer (oldest dropped first) that is flushed, in order, on the next connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace dfd::gst {

struct BrokerAddress {
  std::string host;
  int port = 0;
};

// "host:port" or "[ipv6]:port", port 1..65535. Throws std::invalid_argument saying what is
// wrong.
BrokerAddress parse_broker_address(const std::string &address);

struct MqttSettings {
  BrokerAddress broker;
  std::string client_id;  // empty: libmosquitto generates one
  std::string username;   // empty: no authentication
  std::string password;
  std::string tls_ca_file;  // non-empty: TLS, the broker's certificate checked against it
  std::string tls_cert_file;
  std::string tls_key_file;
  int qos = 1;
  size_t max_buffered = 1000;
  unsigned reconnect_min_delay = 1;  // seconds
  unsigned reconnect_max_delay = 30;
  unsigned keepalive = 30;
};

struct MqttCounters {
  uint64_t published = 0;  // acknowledged by the broker (QoS 1, 2) or written out (QoS 0)
  uint64_t buffered = 0;   // waiting in the bounded buffer for a connection
  uint64_t dropped = 0;    // pushed out of the full buffer
};

class MqttPublisher {
 public:
  enum class Event {
    Connected,     // first connection
    Reconnected,   // after a loss
    Refused,       // the broker answered but refused (credentials, protocol); once per outage
    Disconnected,  // an established connection was lost
  };
  // Called from libmosquitto's network thread, never with this class's state lock held, and
  // never after the destructor returned.
  using EventHandler = std::function<void(Event, const std::string &detail)>;

  // Checks the settings (TLS files readable, key with certificate), starts the network thread
  // and an asynchronous connection. A broker that is not reachable is not an error: messages
  // are buffered and the thread keeps retrying. Throws std::runtime_error on bad settings.
  MqttPublisher(const MqttSettings &settings, EventHandler on_event);
  // Disconnects and stops the network thread (call flush() first to wait for deliveries).
  // Returns within about two seconds even when that thread is stuck in connect() to a host
  // that drops packets: the thread then finishes alone, and no event is reported after return.
  ~MqttPublisher();
  MqttPublisher(const MqttPublisher &) = delete;
  MqttPublisher &operator=(const MqttPublisher &) = delete;

  // Never blocks on the network.
  void publish(const std::string &topic, std::string payload);

  // While connected, waits at most `timeout` for the buffer to drain and for everything handed
  // to libmosquitto to be acknowledged. Returns whether everything was; false at once while
  // disconnected (nothing can drain then).
  bool flush(std::chrono::milliseconds timeout);

  // Waits at most `timeout` for the first connection, or for the broker to refuse it; whether
  // it is up.
  bool wait_connected(std::chrono::milliseconds timeout) const;
  // The broker refused the latest attempt (and a Refused event was sent).
  bool refused() const;

  // Counts what is still buffered as dropped and forgets it (at shutdown while disconnected).
  void discard_buffered();

  MqttCounters counters() const;
  bool connected() const;

  // Empty when the first connection attempt could start, else why not (the thread retries).
  std::string initial_error() const;

 private:
  // What libmosquitto's thread works on. Shared, so that a shutdown stuck in the network can
  // be left to finish on its own (see the destructor).
  struct Session;
  std::shared_ptr<Session> session_;
};

}  // namespace dfd::gst
