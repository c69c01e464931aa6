#!/usr/bin/python3
"""deepfake-scan end to end on three short clips (tests/data/videos/scan) with the shipped model.

Checks the exit status rules (0 nothing fake, 1 fake found, 2 errors first, 130 interrupted),
the JSONL and summary schemas (schemas/gst-deepfake.schema.json, unknown keys refused), that
every summary agrees with its own JSONL lines (frames, faces, tracks, fake ranges), that
--threshold 0 marks the faces fake over their whole time, that a broken file among good ones
gives 2 while the good ones are still summarised, that --jobs 2 gives what --jobs 1 gives,
and that a scan interrupted by SIGINT exits 130 with a valid partial summary.

Usage: test_scan.py DEEPFAKE_SCAN VIDEO_DIR WORKDIR (Debian's /usr/bin/python3 with
python3-jsonschema).
"""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import json_schema  # noqa: E402

FAILURES = []


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print("FAIL:", what)
    return condition


def run(scan, args, expect_status):
    command = [scan] + args
    print("$", " ".join(command), flush=True)
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    check(done.returncode == expect_status,
          f"exit status {done.returncode}, expected {expect_status}; stderr:\n{done.stderr}")
    return done


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


FACE_FIELDS = {"object_id": is_number, "x": is_number, "y": is_number, "w": is_number,
               "h": is_number, "detection_confidence": is_number,
               "scored": lambda v: isinstance(v, bool), "confidence": is_number,
               "fake_probability": is_number, "smoothed_score": is_number,
               "analyses": is_number, "label": lambda v: v in ("fake", "real", "unknown"),
               "verdict": lambda v: v in ("fake", "real", "unknown")}


def check_line_schema(line, where):
    for problem in json_schema.problems(line, "scan-line"):
        check(False, f"{where}: {problem}")
    for key in ("source", "frame", "timestamp", "pts", "running_time", "duration",
                "seconds", "time", "frames_analysed", "frames_skipped", "resolution", "faces",
                "objects"):
        check(key in line, f"{where}: JSONL line lacks '{key}'")
    check(is_number(line.get("timestamp")), f"{where}: timestamp is not a number")
    check(isinstance(line.get("time"), str) and len(line["time"]) == 12,
          f"{where}: time is not HH:MM:SS.mmm: {line.get('time')}")
    res = line.get("resolution", {})
    check(is_number(res.get("width")) and is_number(res.get("height")), f"{where}: resolution")
    faces, objects = line.get("faces", []), line.get("objects", [])
    check(len(faces) == len(objects), f"{where}: faces and objects differ in number")
    for face, obj in zip(faces, objects):
        for key, valid in FACE_FIELDS.items():
            check(key in face and valid(face[key]), f"{where}: face field '{key}' = {face.get(key)}")
        box = obj.get("detection", {}).get("bounding_box", {})
        check(all(0.0 <= box.get(k, -1) <= 1.0 for k in ("x_min", "y_min", "x_max", "y_max")),
              f"{where}: bounding_box not normalised: {box}")
        check(box.get("x_min", 1) < box.get("x_max", 0), f"{where}: empty bounding box")
        check(obj.get("id") == face.get("object_id") and obj.get("roi_type") == "face",
              f"{where}: object id/roi_type")
        deepfake = obj.get("deepfake", {})
        # The confidence of the label (DL Streamer's meaning) beside the fake probability.
        p = face.get("fake_probability")
        expected = 0.0 if face.get("label") == "unknown" else p if face.get("label") == "fake" \
            else 1.0 - p
        check(abs(face.get("confidence") - expected) < 1e-6,
              f"{where}: confidence {face.get('confidence')} is not the label's ({expected})")
        check(deepfake.get("label") == face.get("label") and
              deepfake.get("confidence") == face.get("confidence") and
              deepfake.get("fake_probability") == p and
              deepfake.get("object_id") == face.get("object_id") and
              isinstance(deepfake.get("model", {}).get("name"), str),
              f"{where}: deepfake object does not repeat the face's label/score/model")


def check_summary_schema(report):
    for problem in json_schema.problems(report, "scan-summary"):
        check(False, f"summary: {problem}")
    check(report.get("schema") == "gst-deepfake/scan-summary" and report.get("version") == 2,
          "summary schema/version")
    for key in ("command", "model", "threshold", "inference_interval", "files", "totals",
                "input_errors", "exit_status"):
        check(key in report, f"summary lacks '{key}'")
    for f in report.get("files", []):
        for key in ("path", "verdict", "error", "threshold", "score", "deciding_track",
                    "frames_decoded", "frames_analysed", "faces", "wall_seconds", "fps",
                    "tracks", "fake_ranges", "jsonl", "annotated", "width", "height",
                    "duration"):
            check(key in f, f"{f.get('path')}: summary lacks '{key}'")
        check(f.get("verdict") in ("fake", "real", "no-face", "error"), f"verdict {f.get('verdict')}")
        for t in f.get("tracks", []):
            check(all(k in t for k in ("object_id", "score", "frames", "fake_frames", "first",
                                       "last")), f"{f['path']}: track fields")
        for r in f.get("fake_ranges", []):
            check(all(k in r for k in ("start", "end", "frames", "max_score", "object_ids")),
                  f"{f['path']}: range fields")
            check(r["start"]["seconds"] <= r["end"]["seconds"], f"{f['path']}: range ends first")


def check_against_lines(summary, lines):
    """The summary's figures recomputed from its own JSONL lines."""
    name = summary["path"]
    check(summary["frames_analysed"] == len(lines), f"{name}: frames-analysed != JSONL lines")
    check(summary["frames_decoded"] >= len(lines), f"{name}: more analysed than decoded")
    frames = [line["frame"] for line in lines]
    check(frames == sorted(set(frames)), f"{name}: JSONL frames not increasing")
    scored = [(line, face) for line in lines for face in line["faces"] if face["scored"]]
    check(summary["faces"] == len(scored), f"{name}: faces {summary['faces']} != {len(scored)}")
    by_track = {}
    for line, face in scored:
        by_track.setdefault(face["object_id"], []).append((line["seconds"],
                                                          face["fake_probability"]))
    check(sorted(t["object_id"] for t in summary["tracks"]) == sorted(by_track),
          f"{name}: track ids differ from the JSONL's")
    for t in summary["tracks"]:
        seen = by_track.get(t["object_id"], [])
        check(t["frames"] == len(seen), f"{name}: track {t['object_id']} frames")
        if seen:
            mean = sum(s for _, s in seen) / len(seen)
            check(abs(t["score"] - mean) < 1e-6, f"{name}: track {t['object_id']} mean score")
            check(abs(t["first"]["seconds"] - seen[0][0]) < 1e-9 and
                  abs(t["last"]["seconds"] - seen[-1][0]) < 1e-9,
                  f"{name}: track {t['object_id']} first/last time")
    # Fake ranges: maximal runs of analysed frames with a face labelled fake.
    runs, current = [], None
    for i, line in enumerate(lines):
        fake = any(f["scored"] and f["label"] == "fake" for f in line["faces"])
        if fake:
            end = lines[i + 1]["seconds"] if i + 1 < len(lines) else \
                line["seconds"] + line["duration"] / 1e9
            current = [current[0] if current else line["seconds"], end,
                       (current[2] if current else 0) + 1]
        elif current:
            runs.append(current)
            current = None
    if current:
        runs.append(current)
    got = [(r["start"]["seconds"], r["end"]["seconds"], r["frames"]) for r in summary["fake_ranges"]]
    check(len(got) == len(runs) and all(
        abs(a[0] - b[0]) < 1e-6 and abs(a[1] - b[1]) < 1e-6 and a[2] == b[2]
        for a, b in zip(got, runs)), f"{name}: fake ranges {got} != {runs} from the JSONL")


def check_interrupted(scan, clips, work):
    """SIGINT once the first of six files is reported: the open file finishes early (EOS), the
    ones not started are left out, the exit status is 130, and the summary written is a valid,
    consistent partial one."""
    folder = os.path.join(work, "six")
    os.makedirs(folder)
    for copy in range(2):
        for clip in clips:
            os.symlink(os.path.abspath(clip), os.path.join(folder, f"{copy}-{os.path.basename(clip)}"))
    jsonl_dir = os.path.join(work, "six-jsonl") + "/"
    summary_path = os.path.join(work, "six.json")
    command = [scan, "--jobs", "1", "-q", "--jsonl", jsonl_dir, "--summary", summary_path, folder]
    print("$", " ".join(command), "(SIGINT after the first file's JSONL)", flush=True)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if os.path.isdir(jsonl_dir) and os.listdir(jsonl_dir):
            break
        time.sleep(0.05)
    if not check(proc.poll() is None, "the scan of six files was still running after the first"):
        return
    proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        check(False, "an interrupted scan did not end within 300 s")
        return
    check(proc.returncode == 130, f"interrupted: exit status {proc.returncode}, expected 130")
    check("interrupted" in stderr, "interrupted: says so on stderr")
    report = json.load(open(summary_path))
    check_summary_schema(report)
    files = report["files"]
    print(f"interrupted: {len(files)} of 6 files in the summary: "
          + ", ".join(f"{os.path.basename(f['path'])} {f['verdict']} ({f['error']}, "
                      f"{f['frames_analysed']} frames)" for f in files))
    check(report["exit_status"] == 130, "interrupted: the summary's exit_status is 130")
    check(1 <= len(files) < 6, f"interrupted: {len(files)} files summarised, expected 1 to 5")
    check(files[0]["error"] is None, "interrupted: the first file finished before the signal")
    check(report["totals"]["files"] == len(files), "interrupted: totals count the files listed")
    for f in files:
        lines = read_jsonl(f["jsonl"]) if f["jsonl"] else []
        check_against_lines(f, lines)


def by_source(lines):
    out = {}
    for line in lines:
        out.setdefault(os.path.basename(line["source"]), []).append(line)
    return out


def main():
    scan, videos, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    clips = sorted(os.path.join(videos, f) for f in os.listdir(videos) if f.endswith(".mp4"))
    check(len(clips) == 3, f"expected 3 test clips in {videos}")

    # Help, bad options and arguments that name nothing: status 2 without scanning.
    done = run(scan, ["--help"], 0)
    check("Exit status" in done.stdout and "130" in done.stdout, "--help documents the exit status")
    run(scan, ["--jobs", "0", videos], 2)
    run(scan, ["--threshold", "1.5", videos], 2)
    run(scan, [os.path.join(work, "missing.mp4"), os.path.join(work, "nothing*.gif")], 2)

    # Threshold 1: nothing can be fake. A folder argument, one JSONL file per video.
    jsonl_dir = os.path.join(work, "jsonl") + "/"
    run(scan, ["--threshold", "1.0", "--jobs", "1", "--jsonl", jsonl_dir,
               "--summary", os.path.join(work, "t1.json"), videos], 0)
    t1 = json.load(open(os.path.join(work, "t1.json")))
    check_summary_schema(t1)
    check(t1["exit_status"] == 0 and t1["totals"]["files"] == 3, "t1 totals")
    t1_lines = {}
    for f in t1["files"]:
        check(f["verdict"] == "real" and f["fake_ranges"] == [] and f["error"] is None,
              f"{f['path']}: threshold 1.0 must give real without fake ranges")
        check(f["tracks"] and f["frames_analysed"] == f["frames_decoded"] > 0,
              f"{f['path']}: every frame analysed, faces tracked")
        lines = read_jsonl(f["jsonl"])
        for i, line in enumerate(lines):
            check_line_schema(line, f"{f['jsonl']}:{i + 1}")
        check_against_lines(f, lines)
        t1_lines[os.path.basename(f["path"])] = lines
    showcase = [f for f in t1["files"] if "showcase" in f["path"]]
    check(showcase and len(showcase[0]["tracks"]) == 3, "three faces tracked in the showcase clip")

    # Threshold 0: every face fake, over its whole time. Two jobs sharing the model, a glob
    # expanded by the tool, all lines in one JSONL file.
    all_jsonl = os.path.join(work, "all.jsonl")
    run(scan, ["--threshold", "0", "--jobs", "2", "--jsonl", all_jsonl, "-q",
               "--summary", os.path.join(work, "t0.json"), os.path.join(videos, "*.mp4")], 1)
    t0 = json.load(open(os.path.join(work, "t0.json")))
    check_summary_schema(t0)
    t0_lines = by_source(read_jsonl(all_jsonl))
    check([os.path.basename(f["path"]) for f in t0["files"]] ==
          [os.path.basename(f["path"]) for f in t1["files"]], "--jobs 2 keeps the file order")
    for f in t0["files"]:
        base = os.path.basename(f["path"])
        lines = t0_lines.get(base, [])
        check_against_lines(f, lines)
        check(f["verdict"] == "fake", f"{base}: threshold 0 must give fake")
        with_faces = [line for line in lines if line["faces"]]
        ranges = f["fake_ranges"]
        check(ranges and with_faces and
              ranges[0]["start"]["seconds"] <= with_faces[0]["seconds"] and
              ranges[-1]["end"]["seconds"] >= with_faces[-1]["seconds"] and
              sum(r["frames"] for r in ranges) == len(with_faces),
              f"{base}: fake ranges must cover every analysed frame with a face")
        # --jobs 2 against --jobs 1: same frames, faces, tracks and scores (batches mix files
        # differently, so scores may differ in the last float bits).
        ref = t1_lines.get(base, [])
        check(len(lines) == len(ref), f"{base}: jobs 2 analysed {len(lines)} frames, jobs 1 {len(ref)}")
        for a, b in zip(lines, ref):
            same = a["frame"] == b["frame"] and len(a["faces"]) == len(b["faces"]) and all(
                fa["object_id"] == fb["object_id"] and
                (fa["x"], fa["y"], fa["w"], fa["h"]) ==
                (fb["x"], fb["y"], fb["w"], fb["h"]) and
                abs(fa["fake_probability"] - fb["fake_probability"]) < 1e-4
                for fa, fb in zip(a["faces"], b["faces"]))
            if not check(same, f"{base} frame {a['frame']}: jobs 2 differs from jobs 1"):
                break
        ref_summary = [g for g in t1["files"] if os.path.basename(g["path"]) == base][0]
        # Track means do not depend on the threshold (the video score does: it picks a mean).
        check([(t["object_id"], t["frames"]) for t in f["tracks"]] ==
              [(t["object_id"], t["frames"]) for t in ref_summary["tracks"]] and
              all(abs(a["score"] - b["score"]) < 1e-4
                  for a, b in zip(f["tracks"], ref_summary["tracks"])),
              f"{base}: jobs 2 tracks differ from jobs 1")

    # Broken files among good ones: 2 (errors first), the good one still summarised.
    garbage = os.path.join(work, "garbage.mp4")
    with open(garbage, "wb") as f:
        f.write(bytes((i * 7919 + 13) % 251 for i in range(40000)))
    text = os.path.join(work, "notes.mp4")
    with open(text, "w") as f:
        f.write("not a video\n")
    truncated = os.path.join(work, "truncated.mp4")
    with open(clips[0], "rb") as f:
        data = f.read()
    with open(truncated, "wb") as f:
        f.write(data[:len(data) // 3])
    done = run(scan, ["--threshold", "1.0", "--summary", os.path.join(work, "bad.json"),
                      garbage, clips[1], text, truncated], 2)
    bad = json.load(open(os.path.join(work, "bad.json")))
    verdicts = {os.path.basename(f["path"]): f for f in bad["files"]}
    for name in ("garbage.mp4", "notes.mp4", "truncated.mp4"):
        check(verdicts.get(name, {}).get("verdict") == "error" and verdicts[name]["error"],
              f"{name} must be reported as an error")
        check(name in done.stderr, f"{name}'s error must be on stderr")
    good = verdicts.get(os.path.basename(clips[1]), {})
    ref_good = [g for g in t1["files"] if os.path.basename(g["path"]) == os.path.basename(clips[1])]
    check(good.get("verdict") == "real" and ref_good and
          good.get("frames_analysed") == ref_good[0]["frames_analysed"],
          "the good file among broken ones is still scanned and summarised")
    check(bad["exit_status"] == 2 and bad["totals"]["errors"] == 3, "errors counted")
    check(os.path.basename(clips[1]) + ": real" in done.stdout, "human summary of the good file")

    check_interrupted(scan, clips, work)

    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        return 1
    print("all deepfake-scan checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
