#!/usr/bin/python3
"""The live scripts end to end, headless: pipelines/rtsp-serve.py serves the bundled clip,
pipelines/live-rtsp.sh analyses it and re-streams the annotated video as H.264 RTP
(OUTPUT=udp://), and pipelines/live-udp.sh receives that stream and analyses it again. Both
must keep posting `deepfake` messages with the clip's face until stopped, and stop cleanly on
Ctrl-C (SIGINT becomes EOS). live-camera.sh must refuse a device that does not exist.

Both run at least 20 s and until each has posted 20 messages with a face: a live source is
analysed as often as the machine allows, so a loaded machine needs longer for the same count
(up to MAX_RUN_S), rather than failing a rate that only an idle machine reaches.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livetest as lt  # noqa: E402

import gi  # noqa: E402

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

RUN_S = 20 * lt.TIME_SCALE
MAX_RUN_S = 200 * lt.TIME_SCALE
WANTED = 20  # messages with a face, per script
MESSAGE = re.compile(r"\(element\): deepfake, timestamp=\(guint64\)\d+, pts=\(guint64\)(\d+), "
                     r".*faces=(.*)$")


def messages(text):
    """(pts, has a face) for each deepfake message in gst-launch -m output."""
    return [(int(m.group(1)), "object_id" in m.group(2))
            for m in (MESSAGE.search(line) for line in text.splitlines()) if m]


class Output:
    """A process's stdout, collected by a thread so that it can be read while it runs."""

    def __init__(self, proc):
        self.chunks = []
        self.thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for chunk in iter(lambda: stream.read1(65536), b""):
            self.chunks.append(chunk)

    def text(self):
        return b"".join(self.chunks).decode(errors="replace")


def main():
    Gst.init(None)
    try:
        gi.require_version("GstRtspServer", "1.0")
    except ValueError:
        lt.skip("GstRtspServer introspection data missing (gir1.2-gst-rtsp-server-1.0)")
    lt.require_elements(Gst, ["rtspsrc", "udpsrc", "rtph264depay", "avdec_h264"],
                        "gstreamer1.0-plugins-good, gstreamer1.0-libav")
    lt.require_elements(Gst, ["intervideosrc", "x264enc"],
                        "gstreamer1.0-plugins-bad, gstreamer1.0-plugins-ugly")
    lt.require_plugin(Gst)

    status = subprocess.run([os.path.join(lt.PIPELINES, "live-camera.sh"), "/dev/video-none"],
                               capture_output=True, text=True, timeout=60)
    lt.log(f"live-camera.sh /dev/video-none: exit {status.returncode}: {status.stderr.strip()}")
    lt.check(status.returncode == 1 and "no camera" in status.stderr,
             "a missing camera is refused with a clear message")

    udp_port = lt.free_port(socket.SOCK_DGRAM)
    env = dict(os.environ, MESSAGES="1", SINK="fakesink sync=true",
               DETECT_OPTS="batch-size=1 min-face-size=160", OVERLAY_OPTS="")
    server = lt.start(["/usr/bin/python3", os.path.join(lt.PIPELINES, "rtsp-serve.py"), lt.CLIP,
                       "--port", "0"], stdout=subprocess.PIPE)
    procs = []
    try:
        url = lt.read_line(server, 30)
        if url is None:
            lt.fail("rtsp-serve.py printed no URL")
        lt.log(f"server: {url}; re-stream to udp://127.0.0.1:{udp_port}")
        # The receiver first, so that it sees the stream from its first keyframe.
        receiver = lt.start([os.path.join(lt.PIPELINES, "live-udp.sh"),
                             f"udp://127.0.0.1:{udp_port}"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        procs.append(receiver)
        sender = lt.start([os.path.join(lt.PIPELINES, "live-rtsp.sh"), url],
                          # Boxes and labels only: the blended heatmap hides the face from the
                          # receiver's HOG detector, and a face found there proves the
                          # pictures came through.
                          env=dict(env, OUTPUT=f"udp://127.0.0.1:{udp_port}",
                                   OVERLAY_OPTS="draw-heatmap=false"),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        procs.append(sender)
        collected = {"live-rtsp.sh": Output(sender), "live-udp.sh": Output(receiver)}
        started = time.monotonic()
        while True:
            elapsed = time.monotonic() - started
            faces = {name: sum(f for _, f in messages(out.text())) for name, out in collected.items()}
            if elapsed >= RUN_S and all(n >= WANTED for n in faces.values()):
                break
            if elapsed >= MAX_RUN_S or sender.poll() is not None or receiver.poll() is not None:
                break
            time.sleep(0.5)
        lt.log(f"stopping after {elapsed:.1f} s; messages with a face so far: {faces}")
        outputs = {}
        for name, proc in (("live-rtsp.sh", sender), ("live-udp.sh", receiver)):
            alive = proc.poll() is None
            proc.send_signal(signal.SIGINT)  # the script exec'd gst-launch-1.0 -e
            try:
                proc.wait(timeout=30 * lt.TIME_SCALE)
            except subprocess.TimeoutExpired:
                lt.stop(proc, signal.SIGKILL)
                lt.fail(f"{name} did not stop within {30 * lt.TIME_SCALE:.0f} s of Ctrl-C")
            collected[name].thread.join(30)
            text = collected[name].text()
            outputs[name] = text
            msgs = messages(text)
            span = (msgs[-1][0] - msgs[0][0]) / 1e9 if len(msgs) > 1 else 0
            lt.log(f"{name}: {len(msgs)} deepfake messages ({sum(f for _, f in msgs)} with a "
                   f"face) spanning {span:.1f} s of stream; exit {proc.returncode}")
            if not alive or proc.returncode != 0:
                lt.log(text[-3000:])
            lt.check(alive, f"{name} was still running after {elapsed:.0f} s")
            lt.check(proc.returncode == 0 and "Execution ended" in text,
                     f"{name} stopped cleanly on Ctrl-C")
            lt.check(sum(f for _, f in msgs) >= WANTED and sum(f for _, f in msgs) >= len(msgs) // 2,
                     f"{name}: deepfake messages, most with the clip's face")
            lt.check(span >= RUN_S / 3, f"{name}: analysis went on through the run")
    finally:
        for proc in procs:
            lt.stop(proc, signal.SIGKILL)
        lt.stop(server)


if __name__ == "__main__":
    main()
