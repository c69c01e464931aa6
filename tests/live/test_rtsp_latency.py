#!/usr/bin/python3
"""A real RTSP server (pipelines/rtsp-serve.py on a free loopback port) serves the bundled clip;
rtspsrc -> decodebin -> deepfakedetect -> fakesink (sync) must report itself live with a latency
that covers the jitter buffer and the detector's budget, and frames and `deepfake` messages with
the clip's face must keep arriving, without an error or an end of stream.

How late the frames are on this machine (delay percentiles, frame rate, gaps) is a figure, not
a check: this test logs it, and benchmarks/bench_rtsp.py (run-benchmarks --sections rtsp)
reports it. The pipeline and its measurement are bench_rtsp.py's.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livetest as lt  # noqa: E402

sys.path.insert(0, os.path.join(lt.SOURCE_ROOT, "benchmarks"))
import bench_rtsp  # noqa: E402

import gi  # noqa: E402

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

WARMUP_S = 3.0
MEASURE_S = 12.0 * lt.TIME_SCALE
FIRST_FRAME_TIMEOUT_S = 60.0 * lt.TIME_SCALE


def main():
    Gst.init(None)
    try:
        gi.require_version("GstRtspServer", "1.0")
    except ValueError:
        lt.skip("GstRtspServer introspection data missing (gir1.2-gst-rtsp-server-1.0)")
    lt.require_elements(Gst, ["rtspsrc", "rtph264depay", "avdec_h264"],
                        "gstreamer1.0-plugins-good, gstreamer1.0-libav")
    lt.require_elements(Gst, ["intervideosrc", "x264enc"],
                        "gstreamer1.0-plugins-bad, gstreamer1.0-plugins-ugly")
    lt.require_plugin(Gst)

    server = lt.start(["/usr/bin/python3", os.path.join(lt.PIPELINES, "rtsp-serve.py"), lt.CLIP,
                       "--port", "0"], stdout=subprocess.PIPE)
    try:
        url = lt.read_line(server, 30)
        if url is None:
            lt.fail("rtsp-serve.py printed no URL")
        lt.log(f"server: {url}")
        run(url)
    finally:
        lt.stop(server)


def run(url):
    result = bench_rtsp.measure(Gst, url, MEASURE_S, WARMUP_S, FIRST_FRAME_TIMEOUT_S, lt.fail)
    f = bench_rtsp.figures(result, WARMUP_S)
    lt.log(f"figures (not judged; see benchmarks/bench_rtsp.py): {f}")
    budget = bench_rtsp.RTSP_LATENCY_MS + bench_rtsp.DETECT_MAX_LATENCY_MS
    lt.check(f["live"], "the pipeline reports itself live")
    lt.check(f["reported_latency_ms"] >= budget,
             f"reported latency {f['reported_latency_ms']:.0f} ms covers the jitter buffer "
             f"({bench_rtsp.RTSP_LATENCY_MS} ms) and the detector's max-latency "
             f"({bench_rtsp.DETECT_MAX_LATENCY_MS} ms)")
    lt.check(f["reported_latency_ms"] <= budget + 1000,
             f"reported latency {f['reported_latency_ms']:.0f} ms is bounded")
    # Counts, not rates: a loaded machine delivers fewer in the same time, a stalled pipeline none.
    lt.check(f["frames_after_warmup"] >= 30, f"frames keep reaching the sink ({f['frames_after_warmup']} "
                                             f"after the warm-up)")
    lt.check(f["deepfake_messages"] >= 5 and f["messages_with_faces"] >= f["deepfake_messages"] // 2,
             f"deepfake messages arrive ({f['deepfake_messages']}), most with the clip's face "
             f"({f['messages_with_faces']})")


if __name__ == "__main__":
    main()
