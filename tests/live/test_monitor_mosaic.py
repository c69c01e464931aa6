#!/usr/bin/python3
"""Runs pipelines/monitor-mosaic.sh itself, headless, on four copies of the bundled clip:

- every stream delivers all its frames: each detector posts a `deepfake` message per frame (a
  file is not live, so none is skipped), with increasing timestamps up to the clip's end;
- the mosaic reaches the sink: its last frame (kept as a JPEG) shows video in all four tiles;
- with the deepfakepublish element in the build, each stream's analysis and verdict changes
  arrive on a real mosquitto broker (started on a free loopback port), tagged camN.

With --model-loads (the separate test live-monitor-mosaic-model-loads, the only part that needs
strace and ptrace): the four detectors share one model: under strace the model file is opened
once by the time all four have analysed a frame, and (the control) four times when
MODEL_INSTANCE_ID is empty.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livetest as lt  # noqa: E402

import gi  # noqa: E402

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

SCRIPT = os.path.join(lt.PIPELINES, "monitor-mosaic.sh")
RUN_TIMEOUT_S = 200 * lt.TIME_SCALE
MESSAGE = re.compile(
    r'from element "detect(\d)" \(element\): deepfake, timestamp=\(guint64\)(\d+), '
    r"pts=\(guint64\)(\d+),.*frames_skipped=\(guint64\)(\d+)")
ALERT = re.compile(r'from element "detect(\d)" \(element\): deepfake-alert,')
UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def clip_frames():
    """The bundled clip's frame count, counted by decoding it."""
    pipeline = Gst.parse_launch(f"filesrc location={lt.CLIP} ! decodebin ! fakesink name=sink "
                                "sync=false")
    count = [0]

    def on_buffer(_pad, _info):
        count[0] += 1
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("sink").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER,
                                                                  on_buffer)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS:
        lt.fail("cannot decode the bundled clip")
    return count[0]


def model_opens(strace_log):
    """Successful opens of the model file (the element's default, or $DEEPFAKE_MODEL)."""
    model = os.path.basename(Gst.ElementFactory.make("deepfakedetect").get_property("model"))
    with open(strace_log, encoding="utf-8", errors="replace") as f:
        return sum(1 for line in f if model in line and "= -1" not in line
                   and "openat(" in line)


def tile_means(jpeg):
    """Mean luma of the central third of each 2x2 tile of the mosaic picture."""
    pipeline = Gst.parse_launch(
        f"filesrc location={jpeg} ! jpegdec ! videoconvert ! video/x-raw,format=GRAY8 "
        "! appsink name=out")
    pipeline.set_state(Gst.State.PLAYING)
    sample = pipeline.get_by_name("out").emit("try-pull-sample", 20 * Gst.SECOND)
    pipeline.set_state(Gst.State.NULL)
    if sample is None:
        lt.fail(f"cannot decode {jpeg}")
    s = sample.get_caps().get_structure(0)
    width, height = s.get_value("width"), s.get_value("height")
    ok, info = sample.get_buffer().map(Gst.MapFlags.READ)
    data = bytes(info.data)
    sample.get_buffer().unmap(info)
    stride = (width + 3) // 4 * 4  # GRAY8 rows are padded to 4 bytes
    tw, th = width // 2, height // 2
    means = []
    for ty in range(2):
        for tx in range(2):
            total = n = 0
            for y in range(ty * th + th // 3, ty * th + 2 * th // 3, 4):
                row = data[y * stride:(y + 1) * stride]
                for x in range(tx * tw + tw // 3, tx * tw + 2 * tw // 3, 4):
                    total += row[x]
                    n += 1
            means.append(total / n)
    return means


def run_script(env, out_path, strace_log=None, stop_when=None):
    """Runs the script (under strace when strace_log is given); returns (exit status,
    stdout+stderr text, seconds). stop_when(output so far) ends it early."""
    trace = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=openat", "-o", strace_log] \
        if strace_log else []
    with open(out_path, "wb") as out:
        proc = lt.start(trace + [SCRIPT] + [lt.CLIP] * 4, stdout=out, stderr=out, env=env)
        started = time.monotonic()
        while proc.poll() is None:
            if time.monotonic() - started > RUN_TIMEOUT_S:
                lt.stop(proc, signal.SIGKILL)
                lt.fail(f"monitor-mosaic.sh did not finish within {RUN_TIMEOUT_S:.0f} s")
            if stop_when is not None and stop_when(read_text(out_path)):
                lt.stop(proc, signal.SIGKILL)
                break
            time.sleep(0.5)
    return proc.returncode, read_text(out_path), time.monotonic() - started


def read_text(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def script_env(workdir):
    env = dict(os.environ, MESSAGES="1", BATCH_SIZE="4", DETECT_OPTS="",
               SINK="jpegenc ! multifilesink max-files=1 location="
                    + os.path.join(workdir, "mosaic-%05d.jpg"))
    for name in ("MODEL_INSTANCE_ID", "MQTT", "TILE", "OVERLAY_OPTS"):
        env.pop(name, None)
    return env


def start_broker(workdir):
    """mosquitto on a free loopback port and a subscriber writing every message to a file."""
    port = lt.free_port()
    config = os.path.join(workdir, "mosquitto.conf")
    with open(config, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker = lt.start(["mosquitto", "-c", config], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL)
    received = os.path.join(workdir, "mqtt.txt")
    sub = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with open(received, "wb") as out:
            sub = lt.start(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                            "-v", "-t", "deepfake", "-t", "deepfake/alerts"],
                           stdout=out, stderr=subprocess.DEVNULL)
        time.sleep(1)
        if sub.poll() is None:
            return broker, sub, port, received
    lt.stop(broker)
    lt.fail("mosquitto_sub could not connect to the test broker")


def main():
    Gst.init(None)
    lt.require_elements(Gst, ["compositor", "uridecodebin", "avdec_h264", "jpegenc"],
                        "gstreamer1.0-plugins-base, gstreamer1.0-plugins-good, "
                        "gstreamer1.0-libav")
    lt.require_plugin(Gst)
    if "--model-loads" in sys.argv[1:]:
        return model_loads()
    mqtt = Gst.ElementFactory.find("deepfakepublish") is not None
    if mqtt and (shutil.which("mosquitto") is None or shutil.which("mosquitto_sub") is None):
        lt.skip("mosquitto or mosquitto_sub missing (mosquitto, mosquitto-clients)")
    if not mqtt:
        lt.log("note: deepfakepublish is not in this build: the MQTT path is not exercised")

    frames = clip_frames()
    clip_s = frames / 30.0
    lt.log(f"clip: {frames} frames")
    workdir = tempfile.mkdtemp(prefix="dfd-monitor-")
    broker = sub = None
    try:
        env = script_env(workdir)
        if mqtt:
            broker, sub, port, received = start_broker(workdir)
            env["MQTT"] = f"127.0.0.1:{port}"
        status, output, seconds = run_script(env, os.path.join(workdir, "shared.out"))
        lt.log(f"shared run: exit {status} after {seconds:.1f} s")
        if status != 0:
            lt.log(output[-3000:])
        lt.check(status == 0 and "Got EOS" in output, "monitor-mosaic.sh ran to the end")

        per_stream = {i: [] for i in range(1, 5)}
        for m in MESSAGE.finditer(output):
            # (pts, stream time, frames skipped): `timestamp` is the stream time.
            per_stream[int(m.group(1))].append(
                (int(m.group(3)), int(m.group(2)), int(m.group(4))))
        for i, msgs in per_stream.items():
            pts = [m[0] for m in msgs]
            last_stream_s = msgs[-1][1] / 1e9 if msgs else 0
            lt.log(f"detect{i}: {len(msgs)} deepfake messages, last stream-time "
                   f"{last_stream_s:.2f} s, frames-skipped {msgs[-1][2] if msgs else '-'}")
            lt.check(len(msgs) == frames, f"cam{i}: one deepfake message per frame ({frames})")
            lt.check(all(a < b for a, b in zip(pts, pts[1:])), f"cam{i}: timestamps increase")
            lt.check(last_stream_s >= clip_s - 0.2, f"cam{i}: analysed to the clip's end")
            lt.check(msgs[-1][2] == 0, f"cam{i}: no frame skipped (a file is not live)")

        mosaics = sorted(f for f in os.listdir(workdir) if f.startswith("mosaic-"))
        lt.check(len(mosaics) == 1, "the mosaic reached the sink")
        count = int(mosaics[0][len("mosaic-"):-len(".jpg")]) + 1
        means = tile_means(os.path.join(workdir, mosaics[0]))
        lt.log(f"mosaic: {count} frames; last frame's tile centres, mean luma: "
               + ", ".join(f"{m:.0f}" for m in means))
        lt.check(count >= frames, f"the mosaic has a frame per input frame ({count})")
        lt.check(all(m > 40 for m in means), "all four tiles show video (not the black background)")

        if mqtt:
            time.sleep(1)
            lt.stop(sub)
            sub = None
            bus_alerts = {f"cam{i}": 0 for i in range(1, 5)}
            for m in ALERT.finditer(output):
                bus_alerts[f"cam{m.group(1)}"] += 1
            check_mqtt(received, bus_alerts)
    finally:
        for proc in (sub, broker):
            if proc is not None:
                lt.stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def model_loads():
    """The four detectors load the model once with the script's shared model-instance-id, four
    times without it (the control: the count really measures sharing)."""
    if shutil.which("strace") is None:
        lt.skip("strace missing (Debian package strace): counting model loads needs it")
    if subprocess.run(["strace", "-f", "-qq", "-e", "trace=none", "true"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
        lt.skip("strace cannot trace here (ptrace not permitted)")
    workdir = tempfile.mkdtemp(prefix="dfd-monitor-loads-")
    try:
        env = script_env(workdir)
        # Every detector has its model once it has analysed a frame: the count is final then.
        all_four = lambda output: {int(m.group(1)) for m in MESSAGE.finditer(output)} == {1, 2, 3, 4}  # noqa: E731
        log = os.path.join(workdir, "shared.strace")
        run_script(env, log + ".out", log, stop_when=all_four)
        shared_opens = model_opens(log)
        lt.log(f"model file opened {shared_opens} time(s) with a shared model-instance-id")
        lt.check(shared_opens == 1, "the four detectors loaded the model once")

        env["MODEL_INSTANCE_ID"] = ""
        log = os.path.join(workdir, "private.strace")
        run_script(env, log + ".out", log, stop_when=all_four)
        private_opens = model_opens(log)
        lt.log(f"model file opened {private_opens} time(s) with private instances")
        lt.check(private_opens == 4, "the control (private instances) loads it four times")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def check_mqtt(received, bus_alerts):
    """The broker got each stream's frames and alerts: one alert per deepfake-alert bus message,
    each with its verdict, stream time and a UTC ISO 8601 wall-clock time."""
    frames = {f"cam{i}": 0 for i in range(1, 5)}
    alerts = {f"cam{i}": 0 for i in range(1, 5)}
    malformed = []
    with open(received, encoding="utf-8", errors="replace") as f:
        for line in f:
            topic, _, payload = line.rstrip("\n").partition(" ")
            try:
                doc = json.loads(payload)
            except ValueError:
                lt.fail(f"MQTT payload on {topic} is not JSON: {payload[:200]}")
            source = doc.get("source")
            if topic == "deepfake" and source in frames:
                frames[source] += 1
            elif topic == "deepfake/alerts" and source in alerts:
                alerts[source] += 1
                if (doc.get("type") != "alert" or doc.get("verdict") not in ("fake", "real")
                        or "timestamp" not in doc or "pts" not in doc
                        or not UTC.match(str(doc.get("wall_clock")))):
                    malformed.append(payload)
    lt.log(f"MQTT: frame messages per source {frames}, alerts per source {alerts}; "
           f"deepfake-alert bus messages {bus_alerts}")
    lt.check(all(n > 0 for n in frames.values()), "every stream published its analysis")
    lt.check(alerts == bus_alerts, "one MQTT alert per verdict change, for every stream")
    lt.check(not malformed, f"alerts carry verdict, stream time and UTC wall clock "
                            f"({len(malformed)} do not{': ' + malformed[0] if malformed else ''})")


if __name__ == "__main__":
    main()
