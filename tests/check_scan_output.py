#!/usr/bin/python3
"""Checks the output of any deepfake-scan run with the suite's own rules (test_scan.py): the
summary and JSONL schemas, every summary figure recomputed from its file's JSONL lines
(frames, faces, tracks and their means and times, fake ranges), and the seed's video score
(the first track mean above the threshold, else the mean of the track means).

Usage: tests/check_scan_output.py SUMMARY.json
(the summary names each file's JSONL; run the scan with --summary and --jsonl DIR/).
Exit status 0 when everything agrees, 1 otherwise.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_scan as rules  # noqa: E402


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-3], file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        report = json.load(f)
    rules.check_summary_schema(report)
    for summary in report["files"]:
        name = os.path.basename(summary["path"])
        if summary["verdict"] == "error":
            print(f"{name}: error: {summary['error']}")
            continue
        lines = rules.read_jsonl(summary["jsonl"])
        for number, line in enumerate(lines, 1):
            rules.check_line_schema(line, f"{summary['jsonl']}:{number}")
        rules.check_against_lines(summary, lines)
        means = [track["score"] for track in summary["tracks"]]
        if means:
            expected = next((m for m in means if m > summary["threshold"]),
                            sum(means) / len(means))
            rules.check(abs(summary["score"] - expected) < 1e-6,
                        f"{name}: video score {summary['score']}, seed rule gives {expected}")
        print(f"{name}: {summary['verdict']}, score {summary['score']:.3f}, "
              f"{len(summary['tracks'])} track(s), {summary['frames_analysed']} frames analysed "
              f"of {summary['frames_decoded']}, {len(summary['fake_ranges'])} fake range(s), "
              f"{len(lines)} JSONL lines")
    print(f"{len(report['files'])} file(s), exit status {report['exit_status']}, "
          f"{len(rules.FAILURES)} disagreement(s)")
    return 1 if rules.FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
