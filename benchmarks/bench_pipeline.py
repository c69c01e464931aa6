#!/usr/bin/python3
"""deepfakedetect in a pipeline: end-to-end throughput on files, and added latency when live.

file: filesrc ! decodebin ! deepfakedetect ! fakesink (no clock sync), as fast as it goes.
  Prints frames/s and the element's own cumulative timings (detection-time: the detection
  thread's detection, tracking and crops; inference-time: the model's batches), so that the
  detection share and the analysis share of the run are separate.

live: the file's first --frames frames are decoded once into memory, then replayed at the
  file's frame rate by `appsrc is-live=true do-timestamp=true` (forwards then backwards, so
  faces move smoothly and keep their tracks), through deepfakedetect and a queue into
  `fakesink sync=true` (the queue, unbounded as the replay is short, keeps the sink's clock
  wait out of the element's pushes, as a queue before a sink does in a real pipeline). Pad probes timestamp every buffer into and out of deepfakedetect: the added
  latency is out minus in, per buffer (p50/p99/max). Frames lost are frames pushed into the
  element that never came out (must be 0). Re-scores per track per second: from the
  `deepfake` bus messages (one per analysed frame), the growth of each track's count of
  scores (`analyses`) between its first and last message, over that time.

Interpreter: Debian's /usr/bin/python3 (python3-gi, gir1.2-gstreamer-1.0). The plugin is found
through GST_PLUGIN_PATH (run-benchmarks sets it to the build tree). Prints one JSON object.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GObject, Gst  # noqa: E402

STATS = ("frames-analysed", "frames-skipped", "faces-analysed", "detection-time", "inference-time")


def element_props(text):
    props = {}
    for item in text.split():
        key, _, value = item.partition("=")
        props[key] = value
    return props


def apply_props(element, props):
    for key, value in props.items():
        spec = element.find_property(key)
        if spec is None:
            sys.exit("deepfakedetect has no property '%s'" % key)
        vtype = spec.value_type
        if vtype in (GObject.TYPE_INT, GObject.TYPE_UINT, GObject.TYPE_INT64, GObject.TYPE_UINT64):
            element.set_property(key, int(value))
        elif vtype == GObject.TYPE_DOUBLE:
            element.set_property(key, float(value))
        elif vtype == GObject.TYPE_BOOLEAN:
            element.set_property(key, value.lower() in ("1", "true", "yes"))
        else:
            Gst.util_set_object_arg(element, key, value)


def read_stats(element):
    out = {}
    for key in STATS:
        if element.find_property(key) is not None:
            out[key] = element.get_property(key)
    return out


def run_pipeline(pipeline, timeout_s, on_message=None):
    """Plays `pipeline` until EOS; returns the wall seconds. Errors end the program."""
    bus = pipeline.get_bus()
    start = time.monotonic()
    pipeline.set_state(Gst.State.PLAYING)
    deadline = start + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            pipeline.set_state(Gst.State.NULL)
            sys.exit("timed out after %.0f s" % timeout_s)
        msg = bus.timed_pop_filtered(int(min(left, 1.0) * Gst.SECOND),
                                     Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.ELEMENT)
        if msg is None:
            continue
        if msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            pipeline.set_state(Gst.State.NULL)
            sys.exit("pipeline error: %s (%s)" % (err.message, debug))
        if msg.type == Gst.MessageType.ELEMENT:
            if on_message is not None:
                on_message(msg)
            continue
        return time.monotonic() - start


def track_rates(first_seen, last_seen):
    """Scores per second for each track seen for at least a second."""
    rates = {}
    for track, (t0, n0) in first_seen.items():
        t1, n1 = last_seen[track]
        if t1 - t0 >= 1.0:
            rates[track] = (n1 - n0) / (t1 - t0)
    return rates


def bench_file(args, props):
    limit = " ! identity eos-after=%d" % args.max_frames if args.max_frames > 0 else ""
    pipeline = Gst.parse_launch(
        "filesrc location=\"%s\" ! decodebin%s ! deepfakedetect name=detect ! fakesink name=sink sync=false"
        % (args.video, limit))
    detect = pipeline.get_by_name("detect")
    apply_props(detect, props)
    detect.set_property("post-messages", False)
    frames = [0]

    def count(pad, info):
        frames[0] += 1
        return Gst.PadProbeReturn.OK

    detect.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, count)
    wall = run_pipeline(pipeline, args.timeout)
    stats = read_stats(detect)
    pipeline.set_state(Gst.State.NULL)
    return {"frames": frames[0], "seconds": wall, "frames_per_second": frames[0] / wall, "stats": stats}


def decode_frames(path, count):
    """The first `count` decoded frames of `path` (native decoder format) and their caps."""
    pipeline = Gst.parse_launch(
        "filesrc location=\"%s\" ! decodebin ! appsink name=out sync=false max-buffers=0" % path)
    sink = pipeline.get_by_name("out")
    pipeline.set_state(Gst.State.PLAYING)
    frames = []
    caps = None
    while len(frames) < count:
        sample = sink.emit("try-pull-sample", 10 * Gst.SECOND)
        if sample is None:
            break
        caps = sample.get_caps()
        frames.append(sample.get_buffer())
    pipeline.set_state(Gst.State.NULL)
    if not frames:
        sys.exit("no frames decoded from " + path)
    return frames, caps


def bench_live(args, props):
    frames, caps = decode_frames(args.video, args.frames)
    structure = caps.get_structure(0)
    ok, num, den = structure.get_fraction("framerate")
    if not ok or num <= 0:
        num, den = 25, 1
    frame_s = den / num
    pipeline = Gst.parse_launch(
        "appsrc name=src is-live=true do-timestamp=true format=time ! deepfakedetect name=detect ! "
        "queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! fakesink name=sink sync=true")
    src = pipeline.get_by_name("src")
    src.set_property("caps", caps)
    detect = pipeline.get_by_name("detect")
    apply_props(detect, props)

    lock = threading.Lock()
    entered = {}
    latencies = []
    capture_latencies = []
    out_count = [0]

    def running_time_now():
        clock = pipeline.get_clock()
        return clock.get_time() - pipeline.get_base_time() if clock is not None else None

    def on_in(pad, info):
        buf = info.get_buffer()
        with lock:
            entered[buf.pts] = time.monotonic()
        return Gst.PadProbeReturn.OK

    def on_out(pad, info):
        now = time.monotonic()
        now_running = running_time_now()
        buf = info.get_buffer()
        with lock:
            start = entered.pop(buf.pts, None)
            out_count[0] += 1
            if start is not None:
                latencies.append(1000.0 * (now - start))
            # do-timestamp stamps each buffer with the running time of its push into appsrc:
            # this also counts time spent queued upstream while the element held its input.
            if now_running is not None and buf.pts != Gst.CLOCK_TIME_NONE:
                capture_latencies.append((now_running - buf.pts) / 1e6)
        return Gst.PadProbeReturn.OK

    detect.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_in)
    detect.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_out)

    first_seen, last_seen = {}, {}

    def on_message(msg):
        s = msg.get_structure()
        if s is None or s.get_name() != "deepfake" or msg.src != detect:
            return
        t = time.monotonic()
        faces = s.get_value("faces")
        for face in faces:
            track = face.get_uint64("object_id")[1]
            # The track's count of scores so far: faces listed were not all scored this frame.
            if face.has_field("analyses"):
                analyses = face.get_int("analyses")[1]
            else:
                # Older builds lack the field but scored every face of every analysed frame.
                analyses = last_seen[track][1] + 1 if track in last_seen else 1
            if track not in first_seen:
                first_seen[track] = (t, analyses)
            last_seen[track] = (t, analyses)

    total = int(round(args.seconds / frame_s))
    # Forwards then backwards: the replay has no jump back to the first frame.
    order = list(range(len(frames))) + list(range(len(frames) - 2, 0, -1))
    pushed = [0]

    def feed():
        start = time.monotonic()
        for i in range(total):
            due = start + i * frame_s
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            buf = frames[order[i % len(order)]].copy()  # shallow: the memory is shared
            # do-timestamp only stamps buffers without timestamps: drop the file's.
            buf.pts = Gst.CLOCK_TIME_NONE
            buf.dts = Gst.CLOCK_TIME_NONE
            buf.duration = int(frame_s * Gst.SECOND)
            if src.emit("push-buffer", buf) != Gst.FlowReturn.OK:
                break
            pushed[0] += 1
        src.emit("end-of-stream")

    feeder = threading.Thread(target=feed)
    pipeline.set_state(Gst.State.PLAYING)
    feeder.start()
    wall = run_pipeline(pipeline, args.timeout, on_message)
    feeder.join()
    stats = read_stats(detect)
    pipeline.set_state(Gst.State.NULL)

    def summary(values):
        v = sorted(values)
        if not v:
            return {}

        def pct(p):
            return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]

        return {"p50": pct(50), "p95": pct(95), "p99": pct(99), "max": v[-1], "mean": statistics.fmean(v)}

    rates = track_rates(first_seen, last_seen)
    return {
        "frames_pushed": pushed[0],
        "frames_out": out_count[0],
        "frames_lost": pushed[0] - out_count[0],
        "seconds": wall,
        "fps": num / den,
        "latency_ms": summary(latencies),
        "capture_to_out_ms": summary(capture_latencies),
        "tracks": len(rates),
        "rescores_per_track_per_second": {"min": min(rates.values()) if rates else 0.0,
                                          "mean": statistics.fmean(rates.values()) if rates else 0.0},
        "stats": stats,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("file", "live"))
    parser.add_argument("--video", required=True)
    parser.add_argument("--props", default="", help="deepfakedetect properties, 'name=value ...'")
    parser.add_argument("--seconds", type=float, default=20.0, help="live: replay length")
    parser.add_argument("--frames", type=int, default=75, help="live: frames decoded into memory")
    parser.add_argument("--max-frames", type=int, default=0, help="file: stop after this many frames (0: all)")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    Gst.init(None)
    if Gst.ElementFactory.find("deepfakedetect") is None:
        sys.exit("deepfakedetect not found: set GST_PLUGIN_PATH to <build>/gst")
    props = element_props(args.props)
    result = bench_file(args, props) if args.mode == "file" else bench_live(args, props)
    result.update({"mode": args.mode, "video": os.path.basename(args.video), "props": args.props})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
