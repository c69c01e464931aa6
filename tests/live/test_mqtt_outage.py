#!/usr/bin/python3
"""deepfakepublish against a real mosquitto, read by a real mosquitto_sub, with the broker
stopped in the middle of the clip and started again later:

- the pipeline keeps its pace through the outage (frames arrive as often as before and after
  it, with no long gap) and reaches EOS;
- every frame message and every alert reaches mosquitto_sub (QoS 1 may deliver some twice),
  in order, and the element counts them all as published and none as dropped;
- while the broker is away the messages wait in the element's buffer;
- the alerts mosquitto_sub receives are exactly deepfakedetect's own deepfake-alert messages.
  They are forced with threshold=0 (each face turns fake after verdict-frames analyses), so
  that the test does not need the model to be wrong about the clip's real face.

The broker keeps its store in a writable folder, so that the subscriber's session (QoS 1,
clean session off) survives the restart: without it, whatever the element sends between the
restart and mosquitto_sub's reconnection has no subscriber to go to.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livetest as lt  # noqa: E402

import gi  # noqa: E402

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

STOP_AT_FRAME = 50
RESTART_AT_FRAME = 130
CLIP_FRAMES = 216  # liveportrait-d18.mp4, 30 fps
CLIP_SECONDS = 7.2


def write_config(workdir, port):
    path = os.path.join(workdir, "mosquitto.conf")
    with open(path, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                f"persistence_location {workdir}/\nmax_queued_messages 100000\n"
                f"log_dest file {workdir}/mosquitto.log\n")
        # As root, mosquitto would switch to user "mosquitto", which cannot write the store.
        if os.geteuid() == 0:
            f.write("user root\n")
    return path


def wait_for_port(port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", "probe",
                                "-m", "x"], capture_output=True)
        if probe.returncode == 0:
            return True
        time.sleep(0.1)
    return False


def main():
    for tool in ("mosquitto", "mosquitto_sub", "mosquitto_pub"):
        if shutil.which(tool) is None:
            lt.skip(f"{tool} missing (mosquitto, mosquitto-clients)")
    Gst.init(None)
    lt.require_plugin(Gst)
    if Gst.ElementFactory.find("deepfakepublish") is None:
        lt.skip("deepfakepublish not built (libmosquitto-dev missing)")
    lt.require_elements(Gst, ["qtdemux", "avdec_h264"],
                        "gstreamer1.0-plugins-good, gstreamer1.0-libav")

    workdir = tempfile.mkdtemp(prefix="dfd-mqtt-outage-")
    port = lt.free_port()
    config = write_config(workdir, port)
    received_path = os.path.join(workdir, "received.txt")
    broker = lt.start(["mosquitto", "-c", config], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL)
    sub = None
    try:
        lt.check(wait_for_port(port, 10 * lt.TIME_SCALE), f"mosquitto listens on port {port}")
        with open(received_path, "w") as received:
            sub = lt.start(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-c",
                            "-i", "dfd-outage-sub", "-t", "deepfake", "-t", "deepfake/alerts",
                            "-v"], stdout=received, stderr=subprocess.STDOUT)
        time.sleep(1.0)  # its session and subscriptions exist before anything is published

        pipeline = Gst.parse_launch(
            f"filesrc location={lt.CLIP} ! qtdemux ! avdec_h264 ! videoconvert ! "
            "deepfakedetect batch-size=1 threshold=0 ! deepfakepublish name=publish method=mqtt "
            f"address=127.0.0.1:{port} topic=deepfake alert-topic=deepfake/alerts "
            "source-id=cam1 qos=1 reconnect-min-delay=1 reconnect-max-delay=2 ! "
            "identity name=tap ! fakesink sync=true")
        publish = pipeline.get_by_name("publish")
        arrivals = []
        pipeline.get_by_name("tap").get_static_pad("src").add_probe(
            Gst.PadProbeType.BUFFER,
            lambda pad, info: arrivals.append(time.monotonic()) or Gst.PadProbeReturn.OK)
        bus = pipeline.get_bus()
        pipeline.set_state(Gst.State.PLAYING)
        started = time.monotonic()
        phase = "up"  # then "down", then "back"
        buffered_during_outage = 0
        error = None
        posted_alerts = set()  # (timestamp, object id) of the detector's deepfake-alert messages
        while True:
            message = bus.timed_pop_filtered(
                50 * Gst.MSECOND,
                Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.ELEMENT)
            if message is not None and message.type == Gst.MessageType.ELEMENT:
                s = message.get_structure()
                if s.get_name() == "deepfake-alert":
                    posted_alerts.add((s.get_value("timestamp"), s.get_value("object_id")))
                message = None
            if phase == "up" and len(arrivals) >= STOP_AT_FRAME:
                lt.stop(broker)
                phase = "down"
                lt.log(f"broker stopped after frame {len(arrivals)}")
            elif phase == "down" and len(arrivals) >= RESTART_AT_FRAME:
                buffered_during_outage = publish.get_property("messages-buffered")
                broker = lt.start(["mosquitto", "-c", config], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
                phase = "back"
                lt.log(f"broker restarted after frame {len(arrivals)}, "
                       f"{buffered_during_outage} messages buffered")
            if message is not None:
                if message.type == Gst.MessageType.ERROR:
                    error = message.parse_error()[0].message
                break
            if time.monotonic() - started > 60 * lt.TIME_SCALE:
                error = "no EOS within 60 s"
                break
        counts = {name: publish.get_property(name)
                  for name in ("messages-published", "messages-dropped", "messages-buffered")}
        pipeline.set_state(Gst.State.NULL)
        lt.check(error is None, f"the pipeline reached EOS without an error ({error})")
        lt.check(len(arrivals) == CLIP_FRAMES, f"{len(arrivals)} of {CLIP_FRAMES} frames passed")
        lt.check(buffered_during_outage > 0, f"{buffered_during_outage} messages waited in the "
                 "buffer while the broker was away")
        # The outage must not change the pace: frames keep arriving as often as before and
        # after it (compared with the pipeline's own pace, which a sanitizer build slows ten
        # times). The first frames are left out: they include the model's warm-up.
        intervals = [b - a for a, b in zip(arrivals, arrivals[1:])]
        during = intervals[STOP_AT_FRAME:RESTART_AT_FRAME - 1]
        outside = intervals[10:STOP_AT_FRAME - 1] + intervals[RESTART_AT_FRAME:]
        mean = lambda values: sum(values) / len(values)  # noqa: E731
        lt.log(f"the clip's {CLIP_SECONDS} s played in {arrivals[-1] - arrivals[0]:.2f} s")
        lt.check(mean(during) < 1.5 * mean(outside),
                 f"mean time between frames {mean(during) * 1000:.0f} ms during the outage, "
                 f"{mean(outside) * 1000:.0f} ms outside it")
        lt.check(max(during) < max(0.5 * lt.TIME_SCALE, 3 * max(outside)),
                 f"longest gap between frames {max(during) * 1000:.0f} ms during the outage, "
                 f"{max(outside) * 1000:.0f} ms outside it")
        lt.log(f"counters: {counts}")
        lt.check(counts["messages-dropped"] == 0 and counts["messages-buffered"] == 0,
                 "nothing dropped, nothing left in the buffer")

        # mosquitto_sub gets the last messages a moment after the element's acknowledgements.
        def read_received():
            frames, alerts, sources = [], set(), set()
            with open(received_path) as f:
                for line in f:
                    topic, payload = line.rstrip("\n").split(" ", 1)
                    document = json.loads(payload)
                    sources.add(document.get("source"))
                    if topic == "deepfake":
                        frames.append(document["timestamp"])
                    elif topic == "deepfake/alerts":
                        alerts.add((document["timestamp"], document["id"]))
            return frames, alerts, sources

        deadline = time.monotonic() + 10 * lt.TIME_SCALE
        while True:
            frames, alerts, sources = read_received()
            if len(set(frames)) + len(alerts) >= counts["messages-published"] or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.2)
        first_deliveries, seen = [], set()
        for timestamp in frames:
            if timestamp not in seen:
                seen.add(timestamp)
                first_deliveries.append(timestamp)
        lt.log(f"mosquitto_sub: {len(frames)} frame messages ({len(seen)} distinct), "
               f"{len(alerts)} alerts")
        lt.check(len(seen) == CLIP_FRAMES, "every frame's message reached mosquitto_sub")
        lt.check(first_deliveries == sorted(seen), "first deliveries in frame order")
        lt.log(f"deepfakedetect posted {len(posted_alerts)} alerts")
        lt.check(len(posted_alerts) > 0, "threshold=0 made the detector post alerts")
        lt.check(alerts == posted_alerts,
                 "the alerts on their own topic are exactly the detector's (timestamp, id)")
        lt.check(sources == {"cam1"}, f"every message names its source ({sources})")
        lt.check(counts["messages-published"] == len(seen) + len(alerts),
                 "the element counted as published exactly what was delivered")
    finally:
        if sub is not None:
            lt.stop(sub)
        if broker is not None:
            lt.stop(broker)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
