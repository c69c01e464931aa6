#!/bin/sh
# Prints deepfakedetect's bus messages for a video file: a `deepfake` message per analysed
# frame (timestamp (stream time), pts, running_time, counters, and per face its object_id, box,
# label, confidence, fake_probability, smoothed_score, verdict and analyses) and a
# `deepfake-alert` message whenever a face's verdict changes (with its wall_clock time, UTC).
#
#   pipelines/file-messages.sh INPUT [--all]
#
# --all prints every bus message gst-launch-1.0 -m shows, not only the element's. Environment:
#   DETECT_OPTS   extra deepfakedetect properties, e.g. "threshold=0.6 verdict-frames=5"
#   DFD_BUILD_DIR meson build directory to take the plugin from (see common.sh)
set -eu
usage() {
  # The comment block at the top of this file.
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit 2
}
[ $# -ge 1 ] || usage
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
input=$1
filter='(element): deepfake'
[ "${2:-}" = "--all" ] && filter=''

# shellcheck disable=SC2086
gst-launch-1.0 -m \
  filesrc location="$input" ! decodebin ! videoconvert \
  ! deepfakedetect ${DETECT_OPTS:-} ! fakesink sync=false \
  | grep --line-buffered -F "$filter"
