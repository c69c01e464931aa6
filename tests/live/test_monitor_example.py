#!/usr/bin/python3
"""pipelines/deepfake-monitor.py, the PyGObject example, on the bundled clip: it must print a
`deepfake` message per analysed frame, the ROI metadata (detection, classification, object id
and relevancy params) on every buffer, each face's relevancy grid drawn from Python, alerts,
and a consistent summary, and exit 0; on a file that is not a video it must exit 1 with the
pipeline's error; Ctrl-C must drain and exit 0.

Alerts are forced with threshold=0 (every smoothed score is at or above it, so each face turns
fake after verdict-frames analyses): the test needs alerts to print, not a model that is wrong
about the clip's face.
"""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livetest as lt  # noqa: E402

import gi  # noqa: E402

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

EXAMPLE = [os.path.join(lt.PIPELINES, "deepfake-monitor.py")]
ROI = re.compile(
    r"^buffer pts \S+ roi \d+ face \d+,\d+ \d+x\d+ \| detection \[[\d.]+,[\d.]+ - [\d.]+,[\d.]+\]"
    r" confidence [\d.]+ \| deepfake: (fake|real|unknown) \(label_id -?\d\) confidence [\d.]+ "
    r"fake_probability [\d.]+ smoothed [\d.]+ verdict \w+ analyses \d+ model \S+ \| "
    r"object_id \d+ \| relevancy (\d+)x(\d+) mean [\d.]+ peak at \d+,\d+$")
FRAME = re.compile(r"^frame pts \S+ stream \S+ analysed \d+ skipped \d+: #\d+ box ")
GRID_ROW = re.compile(r"^  \|([ .:\-=+*#%@]+)\|$")
SUMMARY = re.compile(
    r"^summary: (\d+) buffers \((\d+) with ROIs, (\d+) ROIs, (\d+) relevancy grids drawn\), "
    r"(\d+) deepfake messages, (\d+) alerts; detector: (\d+) frames analysed, (\d+) skipped, "
    r"(\d+) faces scored$")


def run(args, timeout=180):
    proc = subprocess.run(EXAMPLE + args, capture_output=True, text=True,
                          timeout=timeout * lt.TIME_SCALE)
    return proc.returncode, proc.stdout.splitlines(), proc.stderr


def main():
    Gst.init(None)
    lt.require_elements(Gst, ["uridecodebin", "avdec_h264"],
                        "gstreamer1.0-plugins-base, gstreamer1.0-libav")
    lt.require_plugin(Gst)

    started = time.monotonic()
    status, lines, stderr = run([lt.CLIP, "--detect-opts", "batch-size=1 threshold=0",
                                 "--relevancy"])
    lt.log(f"on the clip: exit {status} in {time.monotonic() - started:.1f} s, "
           f"{len(lines)} lines; first lines:")
    for line in lines[:3]:
        lt.log("  " + line)
    lt.check(status == 0, "exit status 0 at end of stream")
    rois = [line for line in lines if line.startswith("buffer pts")]
    frames = [line for line in lines if line.startswith("frame pts")]
    alerts = [line for line in lines if line.startswith("ALERT object")]
    summary = [SUMMARY.match(line) for line in lines if line.startswith("summary:")]
    lt.log(f"{len(rois)} ROI lines, {len(frames)} frame lines, {len(alerts)} alerts")
    if alerts:
        lt.log("  " + alerts[0])
    lt.check(len(summary) == 1 and summary[0] is not None, "one summary line")
    buffers, with_rois, roi_count, grids, messages, alert_count, analysed, skipped, faces = (
        int(g) for g in summary[0].groups())
    lt.check(all(ROI.match(line) for line in rois) and len(rois) == roi_count,
             "every ROI line has its detection, deepfake, object_id and relevancy params")
    # Each ROI line is followed by its grid: as many text rows as the grid has, each as wide.
    drawn = 0
    for i, line in enumerate(lines):
        m = ROI.match(line)
        if not m:
            continue
        width, height = int(m.group(2)), int(m.group(3))
        rows = [GRID_ROW.match(row) for row in lines[i + 1:i + 1 + height]]
        if all(r is not None and len(r.group(1)) == width for r in rows) and len(rows) == height:
            drawn += 1
    lt.log(f"relevancy grids drawn from Python: {drawn} (summary says {grids})")
    lt.check(drawn == grids == roi_count, "every face's relevancy grid is printed from Python")
    lt.check(buffers >= 200 and with_rois >= buffers * 9 // 10,
             f"ROI metadata on most buffers ({with_rois} of {buffers}: the clip shows one face)")
    lt.check(all(FRAME.match(line) for line in frames) and len(frames) == messages == analysed,
             "one deepfake message per analysed frame, each with its face")
    lt.check(skipped == 0 and analysed == buffers, "a file: every frame analysed")
    lt.check(len(alerts) == alert_count and alert_count >= 1, "verdict changes are printed")
    lt.check(all(" is now fake " in line for line in alerts),
             "at threshold 0 every verdict change is to fake")

    status, lines, stderr = run([os.path.join(lt.SOURCE_ROOT, "meson.build")])
    lt.log(f"on a file that is not a video: exit {status}: {stderr.strip().splitlines()[:1]}")
    lt.check(status == 1 and "error from" in stderr, "a pipeline error exits 1 and says why")

    proc = lt.start(EXAMPLE + [lt.CLIP, "--no-roi"], stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE)
    first = lt.read_line(proc, 120)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60 * lt.TIME_SCALE)
    except subprocess.TimeoutExpired:
        lt.stop(proc, signal.SIGKILL)
        lt.fail("Ctrl-C did not end the example within 60 s")
    lt.log(f"Ctrl-C after '{first}': exit {proc.returncode}; {err.decode().strip()}")
    lt.check(first is not None and proc.returncode == 0 and b"summary:" in out,
             "Ctrl-C drains the pipeline, prints the summary and exits 0")


if __name__ == "__main__":
    main()
