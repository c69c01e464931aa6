#!/usr/bin/python3
"""deepfakedetect behind a real RTSP stream: pipelines/rtsp-serve.py serves a clip on a free
loopback port, and rtspsrc latency=200 ! decodebin ! videoconvert ! deepfakedetect
max-latency=200 ! fakesink sync=true plays it. Prints one JSON line: the pipeline's reported
latency, each frame's delay at the sink (arrival on the pipeline clock minus its running
time: the sink renders it at running time + latency, so a delay above the reported latency
is a late frame) as p50/p95/max after the warm-up, frames per second, the longest gap between
frames, and the detector's counters.

    /usr/bin/python3 benchmarks/bench_rtsp.py [--clip FILE] [--seconds 12] [--warmup 3]

Timings on a shared machine are noisy; tests/live/test_rtsp_latency.py runs the same pipeline
and checks what does not depend on the machine's speed. GST_PLUGIN_PATH must find the plugin.
"""

import argparse
import json
import os
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
RTSP_LATENCY_MS = 200
DETECT_MAX_LATENCY_MS = 200


def serve(clip):
    """Starts rtsp-serve.py on a free port: (process, URL), or (process, None)."""
    server = subprocess.Popen(["/usr/bin/python3", os.path.join(REPO, "pipelines", "rtsp-serve.py"),
                               clip, "--port", "0"], stdout=subprocess.PIPE, text=True)
    return server, server.stdout.readline().strip() or None


def measure(Gst, url, seconds, warmup, first_frame_timeout, fail):
    """Plays the stream for warmup + seconds after its first frame. `fail(reason)` must not
    return. -> dict with the latency query, (monotonic arrival, delay ns) per frame, the
    number of faces in each `deepfake` message, and the detector's counters."""
    pipeline = Gst.parse_launch(
        f"rtspsrc location={url} latency={RTSP_LATENCY_MS} ! application/x-rtp,media=video "
        "! decodebin ! videoconvert "
        f"! deepfakedetect name=detect batch-size=1 max-latency={DETECT_MAX_LATENCY_MS} "
        "! fakesink name=sink sync=true")
    detect = pipeline.get_by_name("detect")
    sink_pad = pipeline.get_by_name("sink").get_static_pad("sink")
    state = {"segment": None, "frames": []}

    def on_event(_pad, info):
        event = info.get_event()
        if event.type == Gst.EventType.SEGMENT:
            state["segment"] = event.parse_segment()
        return Gst.PadProbeReturn.OK

    def on_buffer(_pad, info):
        buffer = info.get_buffer()
        segment = state["segment"]
        clock = pipeline.get_clock()
        if segment is None or clock is None or buffer.pts == Gst.CLOCK_TIME_NONE:
            return Gst.PadProbeReturn.OK
        now = clock.get_time() - pipeline.get_base_time()
        running = segment.to_running_time(Gst.Format.TIME, buffer.pts)
        state["frames"].append((time.monotonic(), now - running))
        return Gst.PadProbeReturn.OK

    sink_pad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_event)
    sink_pad.add_probe(Gst.PadProbeType.BUFFER, on_buffer)

    messages = []
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    started = time.monotonic()
    latency = None
    try:
        while True:
            msg = bus.timed_pop(100 * Gst.MSECOND)
            if msg is not None:
                if msg.type == Gst.MessageType.ERROR:
                    err, debug = msg.parse_error()
                    fail(f"pipeline error from {msg.src.get_name()}: {err.message} ({debug})")
                if msg.type == Gst.MessageType.EOS:
                    fail("unexpected EOS from a looping live stream")
                if msg.type == Gst.MessageType.ELEMENT and msg.src == detect:
                    s = msg.get_structure()
                    if s.get_name() == "deepfake":
                        messages.append(len(s.get_value("faces")))
            frames = state["frames"]
            if not frames:
                if time.monotonic() - started > first_frame_timeout:
                    fail(f"no frame reached the sink within {first_frame_timeout:.0f} s")
                continue
            elapsed = time.monotonic() - frames[0][0]
            if latency is None and elapsed > warmup:
                query = Gst.Query.new_latency()
                if not pipeline.query(query):
                    fail("the pipeline did not answer the latency query")
                latency = query.parse_latency()
            if elapsed > warmup + seconds:
                break
        counters = {name: detect.get_property(name) for name in ("frames-analysed", "frames-skipped")}
    finally:
        pipeline.set_state(Gst.State.NULL)
    return {"latency": latency, "frames": list(state["frames"]), "messages": messages, **counters}


def figures(result, warmup):
    live, min_latency, max_latency = result["latency"]
    frames = result["frames"]
    first = frames[0][0]
    warm = sorted(d / 1e6 for t, d in frames if t - first >= warmup)
    gaps = [b[0] - a[0] for a, b in zip(frames, frames[1:])]
    min_ms = min_latency / 1e6
    return {
        "live": live, "reported_latency_ms": min_ms,
        "max_latency_ms": None if max_latency == 2**64 - 1 else max_latency / 1e6,
        "frames": len(frames), "frames_after_warmup": len(warm),
        "fps_after_warmup": len(warm) / max(1e-9, frames[-1][0] - first - warmup),
        "delay_ms": {"p50": warm[len(warm) // 2], "p95": warm[int(0.95 * (len(warm) - 1))],
                     "max": warm[-1]} if warm else None,
        "late_frames": sum(d > min_ms for d in warm),
        "largest_gap_ms": max(gaps, default=0) * 1000,
        "deepfake_messages": len(result["messages"]),
        "messages_with_faces": sum(n > 0 for n in result["messages"]),
        "frames_analysed": result["frames-analysed"], "frames_skipped": result["frames-skipped"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", default=os.path.join(REPO, "tests", "data", "videos", "liveportrait-d18.mp4"))
    parser.add_argument("--seconds", type=float, default=12.0, help="measured after the warm-up")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds after the first frame not measured")
    args = parser.parse_args()
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)

    def fail(reason):
        sys.exit(f"bench_rtsp: {reason}")

    server, url = serve(args.clip)
    try:
        if url is None:
            fail("rtsp-serve.py printed no URL")
        result = measure(Gst, url, args.seconds, args.warmup, 60.0, fail)
    finally:
        server.terminate()
        server.wait(15)
    print(json.dumps(figures(result, args.warmup)))


if __name__ == "__main__":
    main()
