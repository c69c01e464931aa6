#!/usr/bin/python3
"""deepfakepublish's real output against schemas/gst-deepfake.schema.json: the bundled clip
through deepfakedetect (threshold=0, so that verdict changes and their alerts happen whatever
the model thinks of the face) and deepfakepublish to a JSON-lines file; every frame message
and every alert must validate, unknown keys refused. The schema itself must reject a document
with a key added, one removed, or a value of the wrong kind, so that a pass means something.
(deepfake-scan's JSONL and summary are validated by test_scan.py.)

Interpreter: Debian's /usr/bin/python3 (python3-gi, python3-jsonschema); GST_PLUGIN_PATH must
find the plugin.
"""

import copy
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "live"))
import json_schema  # noqa: E402
import livetest as lt  # noqa: E402

import gi  # noqa: E402

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def publish(path):
    pipeline = Gst.parse_launch(
        f"filesrc location={lt.CLIP} ! decodebin ! videoconvert ! deepfakedetect threshold=0 "
        f"! deepfakepublish file-path={path} source-id=cam1 ! fakesink")
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        int(600 * lt.TIME_SCALE) * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None:
        lt.fail("no EOS within the time allowed")
    if msg.type == Gst.MessageType.ERROR:
        lt.fail(f"pipeline error: {msg.parse_error()[0].message}")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def check_refusals(frame, alert):
    """Documents the schema must refuse, each one change away from a valid one."""
    cases = []
    extra = copy.deepcopy(frame)
    extra["objects"][0]["deepfake"]["probability_fake"] = 0.5
    cases.append(("a frame with an unknown key in objects[0].deepfake", extra, "publish-frame"))
    missing = copy.deepcopy(frame)
    del missing["objects"][0]["detection"]["bounding_box"]["x_max"]
    cases.append(("a frame without objects[0].detection.bounding_box.x_max", missing, "publish-frame"))
    wrong = copy.deepcopy(alert)
    wrong["verdict"] = "maybe"
    cases.append(("an alert with verdict 'maybe'", wrong, "publish-alert"))
    outside = copy.deepcopy(alert)
    outside["smoothed_score"] = 1.5
    cases.append(("an alert with smoothed_score 1.5", outside, "publish-alert"))
    cases.append(("an alert as a frame", alert, "publish-frame"))
    for what, document, kind in cases:
        found = json_schema.problems(document, kind)
        lt.check(found, f"the schema refuses {what}" + (f" ({found[0]})" if found else ""))


def main():
    Gst.init(None)
    lt.require_plugin(Gst)
    if Gst.ElementFactory.find("deepfakepublish") is None:
        lt.fail("deepfakepublish is not in this build (libmosquitto-dev missing)")
    with tempfile.TemporaryDirectory(prefix="dfd-json-schema-") as tmp:
        documents = publish(os.path.join(tmp, "published.jsonl"))
    frames = [d for d in documents if d.get("type") != "alert"]
    alerts = [d for d in documents if d.get("type") == "alert"]
    lt.log(f"published: {len(frames)} frame messages "
           f"({sum(1 for f in frames if f.get('objects'))} with faces), {len(alerts)} alerts")
    bad = []
    for kind, docs in (("publish-frame", frames), ("publish-alert", alerts)):
        for number, document in enumerate(docs, 1):
            bad += [f"{kind} {number}: {p}" for p in json_schema.problems(document, kind)]
    for problem in bad[:20]:
        lt.log("  " + problem)
    lt.check(frames and any(f.get("objects") for f in frames), "frames with faces were published")
    lt.check(alerts, "threshold=0 made alerts")
    lt.check(all("timestamp" in d and "pts" in d for d in documents),
             "every message of a file's frames has its times")
    lt.check(not bad, f"every frame message and alert matches the schema ({len(bad)} problems)")
    check_refusals(next(f for f in frames if f.get("objects")), alerts[0])


if __name__ == "__main__":
    main()
