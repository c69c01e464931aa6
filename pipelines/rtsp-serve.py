#!/usr/bin/python3
"""Serves a video file as a live RTSP stream, in a loop, so the live pipelines can be tried and
tested without a camera.

    pipelines/rtsp-serve.py FILE [--port 8554] [--mount /stream] [--address 127.0.0.1]

Prints the stream's URL (rtsp://ADDRESS:PORT/MOUNT) on stdout once it is served, then runs until
Ctrl-C or SIGTERM. --port 0 picks a free port (the printed URL has it). Only the video is served,
as H.264 (x264enc, zerolatency, a keyframe every second so that clients start quickly).

It behaves like an IP camera: the file is played in real time and looped by one player
pipeline whether or not anyone watches, and each client joins the stream where it is now (one
shared encoder for all clients). The player hands its frames to the RTSP media through
intervideosink/intervideosrc, a live source, so the server never seeks the file on a client's
PLAY request and the RTP timestamps keep running across loops.

Debian packages: python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-bad (inter),
gstreamer1.0-plugins-ugly (x264enc). Uses Debian's /usr/bin/python3, which sees python3-gi.
"""

import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


class LoopingPlayer:
    """Plays FILE in real time into an intervideosink channel, forever.

    Looping uses segment seeks: at the end of the file the demuxer posts SEGMENT_DONE instead of
    EOS, and a non-flushing seek back to the start continues the running time, so the frames
    leave at an even pace with no gap or jump in timestamps. Formats that cannot do segment
    seeks reach EOS and are restarted with a flushing seek.
    """

    def __init__(self, path, channel, on_error):
        self.on_error = on_error
        self.pipeline = Gst.Pipeline.new("player")
        src = Gst.ElementFactory.make("uridecodebin", None)
        src.set_property("uri", Gst.filename_to_uri(os.path.abspath(path)))
        self.convert = Gst.ElementFactory.make("videoconvert", None)
        capsfilter = Gst.ElementFactory.make("capsfilter", None)
        capsfilter.set_property("caps", Gst.Caps.from_string("video/x-raw,format=I420"))
        self.sink = Gst.ElementFactory.make("intervideosink", None)
        self.sink.set_property("channel", channel)
        for element in (src, self.convert, capsfilter, self.sink):
            self.pipeline.add(element)
        self.convert.link(capsfilter)
        capsfilter.link(self.sink)
        src.connect("pad-added", self._pad_added)

    def _pad_added(self, _src, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        # Audio and other streams stay unlinked: decodebin carries on without them.
        if caps.get_structure(0).get_name().startswith("video/"):
            pad.link(self.convert.get_static_pad("sink"))

    def preroll(self):
        """Goes to PAUSED and returns the decoded video's caps (None on failure)."""
        if self.pipeline.set_state(Gst.State.PAUSED) == Gst.StateChangeReturn.FAILURE:
            return None
        bus = self.pipeline.get_bus()
        msg = bus.timed_pop_filtered(
            30 * Gst.SECOND, Gst.MessageType.ASYNC_DONE | Gst.MessageType.ERROR)
        if msg is None or msg.type == Gst.MessageType.ERROR:
            if msg is not None:
                err, debug = msg.parse_error()
                print(f"rtsp-serve: cannot play the file: {err.message} ({debug})", file=sys.stderr)
            return None
        return self.sink.get_static_pad("sink").get_current_caps()

    def play(self):
        # Watched from the main loop from now on; preroll() popped its messages itself.
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self._on_message)
        self._seek(Gst.SeekFlags.FLUSH)
        self.pipeline.set_state(Gst.State.PLAYING)

    def stop(self):
        self.pipeline.set_state(Gst.State.NULL)

    def _seek(self, flags):
        self.pipeline.seek(1.0, Gst.Format.TIME, flags | Gst.SeekFlags.SEGMENT,
                           Gst.SeekType.SET, 0, Gst.SeekType.NONE, -1)

    def _on_message(self, _bus, msg):
        if msg.type == Gst.MessageType.SEGMENT_DONE:
            self._seek(Gst.SeekFlags.NONE)
        elif msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            self.on_error(f"{err.message} ({debug})")
        elif msg.type == Gst.MessageType.EOS:
            # Formats without segment seeks (GIF, for one) end instead: start them over with a
            # flushing seek. intervideosrc keeps sending the last frame meanwhile, so clients
            # see a short freeze, not a gap.
            self._seek(Gst.SeekFlags.FLUSH)


def main():
    parser = argparse.ArgumentParser(
        description="Serve a video file as a looping live RTSP stream.")
    parser.add_argument("file", help="video file (anything decodebin plays)")
    parser.add_argument("--port", type=int, default=8554, help="TCP port (0: a free one)")
    parser.add_argument("--address", default="127.0.0.1",
                        help="address to listen on (default: loopback only)")
    parser.add_argument("--mount", default="/stream", help="path of the stream")
    parser.add_argument("--bitrate", type=int, default=2000, help="H.264 bitrate in kbit/s")
    args = parser.parse_args()
    if not os.access(args.file, os.R_OK):
        print(f"rtsp-serve: cannot read {args.file}", file=sys.stderr)
        return 1
    if not args.mount.startswith("/"):
        args.mount = "/" + args.mount

    Gst.init(None)
    for name in ("intervideosink", "intervideosrc", "x264enc", "rtph264pay"):
        if Gst.ElementFactory.find(name) is None:
            print(f"rtsp-serve: GStreamer element {name} is missing", file=sys.stderr)
            return 1

    loop = GLib.MainLoop()
    status = {"code": 0}

    def fail(text):
        print(f"rtsp-serve: {text}", file=sys.stderr)
        status["code"] = 1
        loop.quit()

    channel = f"rtsp-serve-{os.getpid()}"
    player = LoopingPlayer(args.file, channel, fail)
    caps = player.preroll()
    if caps is None:
        player.stop()
        return 1
    s = caps.get_structure(0)
    _, width = s.get_int("width")
    _, height = s.get_int("height")
    _, fps_n, fps_d = s.get_fraction("framerate")
    if fps_n <= 0:
        fps_n, fps_d = 25, 1

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( intervideosrc channel={channel} "
        f"! video/x-raw,format=I420,width={width},height={height},framerate={fps_n}/{fps_d} "
        f"! x264enc tune=zerolatency speed-preset=ultrafast bitrate={args.bitrate} "
        f"key-int-max={max(1, round(fps_n / fps_d))} "
        "! rtph264pay name=pay0 pt=96 config-interval=-1 )")
    # One encoder for every client, as with a camera.
    factory.set_shared(True)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    server.get_mount_points().add_factory(args.mount, factory)
    if server.attach(None) == 0:
        print(f"rtsp-serve: cannot listen on {args.address}:{args.port}", file=sys.stderr)
        player.stop()
        return 1

    player.play()
    host = f"[{args.address}]" if ":" in args.address else args.address
    print(f"rtsp://{host}:{server.get_bound_port()}{args.mount}", flush=True)

    for signum in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, lambda *_: loop.quit() or False)
    loop.run()
    player.stop()
    return status["code"]


if __name__ == "__main__":
    sys.exit(main())
