#!/usr/bin/python3
"""deepfake-eval --videos and deepfakedetect (run by deepfake-scan) analyse a clip through the
same code (src/analysis) on the same decoded frames: every frame analysed, they must find the
same tracks, on the same number of frames, with the same mean fake probability.

    tests/test_eval_matches_scan.py DEEPFAKE_EVAL DEEPFAKE_SCAN CLIP WORKDIR

Prints each track's mean from both. Standard library only (Debian's /usr/bin/python3).
"""

import json
import os
import shutil
import subprocess
import sys

# Batches are made up differently in the two tools, which moves scores in their last float
# bits only.
TOLERANCE = 1e-4


def check(condition, what):
    print(f"{'ok  ' if condition else 'FAIL'} {what}", flush=True)
    if not condition:
        sys.exit(1)


def run(cmd):
    print("$ " + " ".join(cmd), flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode not in (0, 1):  # 1: a fake was found
        print(done.stdout[-3000:] + done.stderr[-3000:])
        check(False, f"{os.path.basename(cmd[0])} exited {done.returncode}")


def main():
    evaluate, scan, clip, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)
    videos = os.path.join(work, "videos")
    os.makedirs(videos)
    os.symlink(os.path.abspath(clip), os.path.join(videos, os.path.basename(clip)))
    eval_json = os.path.join(work, "eval.json")
    scan_json = os.path.join(work, "scan.json")
    run([evaluate, "--videos", f"real={videos}", "--frame-step", "1", "--frames-per-video", "0",
         "--json", eval_json])
    run([scan, "--quiet", "--summary", scan_json, clip])

    with open(eval_json) as f:
        video = json.load(f)["video"]["videos"][0]
    with open(scan_json) as f:
        scanned = json.load(f)["files"][0]
    from_eval = {int(i["id"].removeprefix("track-")): (i["frames"], i["mean"])
                 for i in video["identities"]}
    from_scan = {t["object_id"]: (t["frames"], t["score"]) for t in scanned["tracks"]}
    for track in sorted(set(from_eval) | set(from_scan)):
        e = from_eval.get(track, (0, float("nan")))
        s = from_scan.get(track, (0, float("nan")))
        print(f"  track {track}: deepfake-eval {e[0]} frames, mean {e[1]:.6f}; "
              f"deepfakedetect {s[0]} frames, mean {s[1]:.6f}")
    check(video["frames_read"] == scanned["frames_decoded"], "the same frames decoded")
    check(set(from_eval) == set(from_scan) and len(from_eval) > 0, "the same tracks")
    check(all(from_eval[t][0] == from_scan[t][0] for t in from_eval),
          "each track scored on as many frames")
    worst = max(abs(from_eval[t][1] - from_scan[t][1]) for t in from_eval)
    print(f"largest difference of a track mean: {worst:.2e}")
    check(worst <= TOLERANCE, f"the same track means (within {TOLERANCE})")
    check(abs(video["score"] - scanned["score"]) <= TOLERANCE, "the same video score")


if __name__ == "__main__":
    main()
