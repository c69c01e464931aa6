#!/bin/sh
# Live deepfake detection on an RTSP stream or a V4L2 camera, shown in a window.
#
#   pipelines/live-rtsp.sh rtsp://HOST/PATH     an RTSP stream (H.264, H.265, ...)
#   pipelines/live-rtsp.sh /dev/video0          a camera
#
# Environment:
#   LIVE_SOURCE   a whole source description instead (for a try without a camera, e.g.
#                 "videotestsrc is-live=true pattern=ball")
#   DETECT_OPTS   extra deepfakedetect properties; on a small CPU try
#                 "min-face-size=160 batch-size=1" (detection on a smaller copy, no batch wait)
#   SINK          the video sink (default autovideosink; fakesink sync=true to run headless)
#   RTSP_LATENCY  rtspsrc jitter buffer in ms (default 200)
#   DFD_BUILD_DIR meson build directory to take the plugin from (see common.sh)
#
# Where the queues are and why:
# - After decoding, a leaky queue holding two frames: if anything after it stalls, the oldest
#   frames are dropped there instead of backing up into the jitter buffer and the network,
#   where delay would grow without bound.
# - deepfakedetect itself never holds a live stream up: it reports max-latency (default
#   200 ms) as its latency, pushes every frame within it (with the faces' last results when
#   the model is not done) and skips analysis while it is behind.
# - Before the sink, a leaky queue again, so that a slow display drops frames rather than
#   delaying analysis.
set -eu
# The descriptions below are split into words on purpose: no file-name globbing of URLs.
set -f
usage() {
  # The comment block at the top of this file.
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit 2
}

if [ -n "${LIVE_SOURCE:-}" ]; then
  source_desc=$LIVE_SOURCE
else
  [ $# -ge 1 ] || usage
  case $1 in
    rtsp://* | rtsps://*) source_desc="rtspsrc location=$1 latency=${RTSP_LATENCY:-200} ! decodebin" ;;
    /dev/*) source_desc="v4l2src device=$1 ! decodebin" ;;
    *) usage ;;
  esac
fi
. "$(dirname "$0")/common.sh"

leaky="queue leaky=downstream max-size-buffers=2 max-size-bytes=0 max-size-time=0"
# shellcheck disable=SC2086
gst-launch-1.0 -e \
  $source_desc \
  ! $leaky ! videoconvert \
  ! deepfakedetect ${DETECT_OPTS:-} \
  ! deepfakeoverlay \
  ! $leaky ! videoconvert ! ${SINK:-autovideosink}
