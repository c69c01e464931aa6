#!/usr/bin/python3
"""Runs deepfakedetect on a file or stream and prints what an application gets from it: the
`deepfake` (per analysed frame) and `deepfake-alert` (verdict change) bus messages, and the
region-of-interest metadata on every buffer.

    pipelines/deepfake-monitor.py SOURCE [options]

SOURCE is a file path or a URI (file://, rtsp://, http://, ...). Options:
    --detect-opts "batch-size=1 threshold=0.6"   deepfakedetect properties
    --display            show the video with deepfakeoverlay's drawings (default: no window)
    --no-roi             do not print the per-buffer metadata
    --no-frames          do not print the per-frame `deepfake` messages (alerts still print)
    --relevancy          also draw each face's relevancy grid, one text row per grid row

Exit status: 0 at end of stream, or after Ctrl-C once the pipeline has drained (a second
Ctrl-C stops at once, status 130); 1 on a pipeline error; 2 on bad arguments.

How the metadata is read (GStreamer 1.22's Python bindings): a pad probe on deepfakedetect's
source pad looks at every buffer. PyGObject cannot walk a buffer's metas (gst_buffer_iterate_meta
takes an opaque state pointer, and foreach_meta wants a writable buffer), so the probe counts the
GstVideoRegionOfInterestMeta with Gst.Buffer.get_n_meta and fetches them by id with
GstVideo.buffer_get_video_region_of_interest_meta_id. deepfakedetect numbers its ROIs from one
above the highest id already on the buffer, so the ids are a short run of small integers. Each
ROI's param structures come from get_param(): `detection`, `deepfake` (the classification:
label, confidence (of the label), fake_probability, smoothed_score, verdict, analyses,
label_id, model_name, attribute_name), `object_id`, and `relevancy`: the face's relevancy grid
(width, height and a Gst.ValueArray of width x height floats in [0, 1], row-major), the same
grid as the GstDeepfakeRelevancyMeta, which has no introspection data.

Debian packages: python3-gi, gir1.2-gstreamer-1.0, gir1.2-gst-plugins-base-1.0 (GstVideo).
Uses Debian's /usr/bin/python3, which sees python3-gi. The plugin is found through
GST_PLUGIN_PATH (e.g. GST_PLUGIN_PATH=build/gst) or its installed location.
"""

import argparse
import os
import signal
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstVideo  # noqa: E402


_output_lock = threading.Lock()


def emit(line, stream=sys.stdout):
    """Prints one whole line: the pad probe (streaming thread) and the bus handler (main loop)
    print concurrently, and print() alone can interleave their text and newlines."""
    with _output_lock:
        stream.write(line + "\n")
        stream.flush()


def fmt_time(ns):
    """Clock time as H:MM:SS.mmm, or '-' when unset (GST_CLOCK_TIME_NONE)."""
    if ns is None or ns == Gst.CLOCK_TIME_NONE or ns < 0:
        return "-"
    ms = ns // Gst.MSECOND
    return f"{ms // 3600000}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def field(structure, name, default=None):
    return structure.get_value(name) if structure.has_field(name) else default


def describe_face(face):
    """One face of a `deepfake` message."""
    scored = field(face, "scored", False)
    score = (f"fake_probability {field(face, 'fake_probability'):.3f}" if scored
             else "not scored yet")
    return (f"#{field(face, 'object_id')} box {field(face, 'x')},{field(face, 'y')} "
            f"{field(face, 'w')}x{field(face, 'h')} {score} "
            f"smoothed {field(face, 'smoothed_score', 0.0):.3f} "
            f"label {field(face, 'label')} confidence {field(face, 'confidence', 0.0):.3f} "
            f"verdict {field(face, 'verdict')} analyses {field(face, 'analyses')}")


# Ten levels, light to dark: one character per grid cell.
SHADES = " .:-=+*#%@"


def relevancy_grid(roi):
    """(width, height, values) of the ROI's `relevancy` param, or None."""
    param = roi.get_param("relevancy")
    if param is None:
        return None
    width, height = field(param, "width", 0), field(param, "height", 0)
    values = list(field(param, "values", []).array) if param.has_field("values") else []
    if width <= 0 or height <= 0 or len(values) != width * height:
        return None
    return width, height, values


def draw_grid(width, height, values):
    """The grid as text rows, one character per cell (SHADES)."""
    rows = []
    for y in range(height):
        row = values[y * width:(y + 1) * width]
        rows.append("".join(SHADES[min(len(SHADES) - 1, int(v * len(SHADES)))] for v in row))
    return rows


def rois_of(buffer, api):
    """The buffer's region-of-interest metas (see the module comment for the id scan)."""
    wanted = buffer.get_n_meta(api)
    found = []
    roi_id = 0
    # Bounded: ids beyond wanted + 4096 would mean ids from some other numbering scheme.
    while len(found) < wanted and roi_id <= wanted + 4096:
        roi = GstVideo.buffer_get_video_region_of_interest_meta_id(buffer, roi_id)
        if roi is not None:
            found.append(roi)
        roi_id += 1
    return found, wanted


def describe_roi(roi):
    kind = GLib.quark_to_string(roi.roi_type)
    parts = [f"roi {roi.id} {kind} {roi.x},{roi.y} {roi.w}x{roi.h}"]
    detection = roi.get_param("detection")
    if detection is not None:
        parts.append(
            f"detection [{field(detection, 'x_min'):.3f},{field(detection, 'y_min'):.3f} - "
            f"{field(detection, 'x_max'):.3f},{field(detection, 'y_max'):.3f}] "
            f"confidence {field(detection, 'confidence'):.3f}")
    classification = roi.get_param("deepfake")
    if classification is not None:
        parts.append(
            f"{field(classification, 'attribute_name')}: {field(classification, 'label')} "
            f"(label_id {field(classification, 'label_id')}) confidence "
            f"{field(classification, 'confidence'):.3f} fake_probability "
            f"{field(classification, 'fake_probability'):.3f} smoothed "
            f"{field(classification, 'smoothed_score'):.3f} verdict "
            f"{field(classification, 'verdict')} analyses {field(classification, 'analyses')} "
            f"model {field(classification, 'model_name')}")
    object_id = roi.get_param("object_id")
    if object_id is not None:
        parts.append(f"object_id {field(object_id, 'id')}")
    grid = relevancy_grid(roi)
    if grid is not None:
        width, height, values = grid
        hot = max(range(len(values)), key=values.__getitem__)
        parts.append(f"relevancy {width}x{height} mean {sum(values) / len(values):.3f} "
                     f"peak at {hot % width},{hot // width}")
    return " | ".join(parts)


class Monitor:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.status = 0
        self.interrupted = 0
        self.counts = {"buffers": 0, "buffers-with-rois": 0, "rois": 0, "frames": 0, "alerts": 0,
                       "grids": 0}
        uri = args.source if Gst.uri_is_valid(args.source) else Gst.filename_to_uri(
            os.path.abspath(args.source))
        live = not uri.startswith("file://")
        tail = ("deepfakeoverlay ! videoconvert ! autovideosink" if args.display
                # A file runs as fast as the CPU allows; a stream is rendered at its own pace.
                else f"fakesink sync={'true' if live else 'false'}")
        description = (f"uridecodebin uri={uri} ! videoconvert "
                       f"! deepfakedetect name=detect {args.detect_opts} ! {tail}")
        self.pipeline = Gst.parse_launch(description)
        self.detect = self.pipeline.get_by_name("detect")
        self.roi_api = GstVideo.VideoRegionOfInterestMeta.get_info().api
        self.detect.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, self.on_buffer)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.on_message)

    def on_buffer(self, _pad, info):
        buffer = info.get_buffer()
        self.counts["buffers"] += 1
        rois, expected = rois_of(buffer, self.roi_api)
        if rois:
            self.counts["buffers-with-rois"] += 1
            self.counts["rois"] += len(rois)
        if len(rois) != expected:
            emit(f"buffer {fmt_time(buffer.pts)}: {expected} ROI metas, {len(rois)} found by id",
                 sys.stderr)
        if not self.args.no_roi:
            for roi in rois:
                lines = [f"buffer pts {fmt_time(buffer.pts)} {describe_roi(roi)}"]
                grid = relevancy_grid(roi) if self.args.relevancy else None
                if grid is not None:
                    self.counts["grids"] += 1
                    lines += [f"  |{row}|" for row in draw_grid(*grid)]
                # One write: the bus handler's lines must not come between a face and its grid.
                emit("\n".join(lines))
        return Gst.PadProbeReturn.OK

    def on_message(self, _bus, msg):
        t = msg.type
        if t == Gst.MessageType.ELEMENT and msg.src == self.detect:
            s = msg.get_structure()
            if s.get_name() == "deepfake":
                self.counts["frames"] += 1
                if not self.args.no_frames:
                    faces = field(s, "faces", [])
                    text = "; ".join(describe_face(f) for f in faces) if len(faces) else "no face"
                    emit(f"frame pts {fmt_time(field(s, 'pts'))} stream "
                         f"{fmt_time(field(s, 'timestamp'))} analysed "
                         f"{field(s, 'frames_analysed')} skipped {field(s, 'frames_skipped')}: "
                         f"{text}")
            elif s.get_name() == "deepfake-alert":
                self.counts["alerts"] += 1
                emit(f"ALERT object {field(s, 'object_id')} is now {field(s, 'verdict')} "
                     f"(was {field(s, 'previous_verdict')}, smoothed "
                     f"{field(s, 'smoothed_score'):.3f}) at stream "
                     f"{fmt_time(field(s, 'timestamp'))}, utc {field(s, 'wall_clock')}")
        elif t == Gst.MessageType.EOS:
            self.loop.quit()
        elif t == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            emit(f"error from {msg.src.get_name()}: {err.message}\n{debug}", sys.stderr)
            self.status = 1
            self.loop.quit()
        elif t == Gst.MessageType.WARNING:
            warning, debug = msg.parse_warning()
            emit(f"warning from {msg.src.get_name()}: {warning.message}", sys.stderr)

    def on_interrupt(self):
        self.interrupted += 1
        if self.interrupted == 1:
            emit("interrupted: draining (Ctrl-C again to stop at once)", sys.stderr)
            self.pipeline.send_event(Gst.Event.new_eos())
        else:
            self.status = 130
            self.loop.quit()
        return True

    def run(self):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, self.on_interrupt)
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            # The reason is on the bus as an error message.
            self.status = 1
            msg = self.pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
            if msg is not None:
                err, debug = msg.parse_error()
                print(f"error from {msg.src.get_name()}: {err.message}\n{debug}", file=sys.stderr)
        else:
            self.loop.run()
        self.pipeline.set_state(Gst.State.NULL)
        c = self.counts
        print(f"summary: {c['buffers']} buffers ({c['buffers-with-rois']} with ROIs, "
              f"{c['rois']} ROIs, {c['grids']} relevancy grids drawn), {c['frames']} deepfake "
              f"messages, {c['alerts']} alerts; "
              f"detector: {self.detect.get_property('frames-analysed')} frames analysed, "
              f"{self.detect.get_property('frames-skipped')} skipped, "
              f"{self.detect.get_property('faces-analysed')} faces scored", flush=True)
        return self.status


def main():
    parser = argparse.ArgumentParser(
        description="Print deepfakedetect's messages and ROI metadata for a file or stream.")
    parser.add_argument("source", help="file path or URI")
    parser.add_argument("--detect-opts", default="", help="deepfakedetect properties")
    parser.add_argument("--display", action="store_true", help="show the annotated video")
    parser.add_argument("--no-roi", action="store_true", help="do not print buffer metadata")
    parser.add_argument("--no-frames", action="store_true",
                        help="do not print per-frame messages")
    parser.add_argument("--relevancy", action="store_true",
                        help="draw each face's relevancy grid as text")
    args = parser.parse_args()
    Gst.init(None)
    if not Gst.uri_is_valid(args.source) and not os.access(args.source, os.R_OK):
        print(f"cannot read {args.source}", file=sys.stderr)
        return 2
    if Gst.ElementFactory.find("deepfakedetect") is None:
        print("deepfakedetect not found: set GST_PLUGIN_PATH to <build>/gst or install the plugin",
              file=sys.stderr)
        return 1
    try:
        monitor = Monitor(args)
    except GLib.Error as e:
        print(f"cannot build the pipeline: {e.message}", file=sys.stderr)
        return 2
    return monitor.run()


if __name__ == "__main__":
    sys.exit(main())
