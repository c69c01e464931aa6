#!/bin/sh
# Annotates a video file: every face gets a box coloured by its verdict (red fake, green real,
# yellow not yet scored), a label with its object id and smoothed score, and its relevancy
# heatmap; the result is H.264 in MP4.
#
#   pipelines/file-to-annotated-mp4.sh INPUT [OUTPUT]
#
# OUTPUT defaults to INPUT's name with -deepfake.mp4. Environment:
#   DETECT_OPTS   extra deepfakedetect properties, e.g. "inference-interval=2 margin=0.1"
#   OVERLAY_OPTS  extra deepfakeoverlay properties, e.g. "alpha=0.3 draw-heatmap=false"
#   X264_OPTS     encoder settings (default: speed-preset=veryfast)
#   DFD_BUILD_DIR meson build directory to take the plugin from (see common.sh)
#
# Frames are analysed in order and none is dropped: a file is not a live source, so the
# pipeline waits for every score. -e makes Ctrl-C finish the file properly.
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
output=${2:-${input%.*}-deepfake.mp4}

# shellcheck disable=SC2086  # the *_OPTS variables hold several properties on purpose
gst-launch-1.0 -e \
  filesrc location="$input" ! decodebin ! videoconvert \
  ! deepfakedetect ${DETECT_OPTS:-} \
  ! deepfakeoverlay ${OVERLAY_OPTS:-} \
  ! videoconvert ! x264enc ${X264_OPTS:-speed-preset=veryfast} ! mp4mux \
  ! filesink location="$output"
echo "wrote $output"
