#!/bin/sh
# Live deepfake detection on a V4L2 camera: shown in a window, or streamed as annotated H.264
# RTP over UDP.
#
#   pipelines/live-camera.sh [/dev/videoN]      (default /dev/video0)
#
# Environment:
#   CAMERA_CAPS   the camera mode to ask for, e.g. "image/jpeg,width=1280,height=720,framerate=30/1"
#                 (v4l2-ctl --list-formats-ext lists them); default: what the camera offers first.
#                 MJPEG and raw modes are both decoded.
#   DETECT_OPTS   extra deepfakedetect properties; on a small CPU try
#                 "min-face-size=160 batch-size=1" (detection on a smaller copy, no batch wait)
#   OVERLAY_OPTS  extra deepfakeoverlay properties
#   OUTPUT        display (default) or udp://HOST:PORT (H.264 RTP; see live-rtsp.sh)
#   SINK          the display sink (default autovideosink, given a display; "fakesink sync=true"
#                 runs headless)
#   MESSAGES=1    print every bus message; the detector's are the "deepfake" ones
#   DFD_BUILD_DIR meson build directory to take the plugin from (see common.sh)
#
# Queues: as in live-rtsp.sh (a leaky two-frame queue after the camera, so that a stall drops
# frames instead of delaying capture; deepfakedetect holds no frame longer than max-latency; a
# leaky queue before the sink so slow rendering drops frames rather than delaying analysis).
# A camera gives capture timestamps, so the detector's latency budget starts at capture.
set -eu
set -f
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
[ $# -le 1 ] || dfd_usage
device=${1:-/dev/video0}
case $device in
  /dev/*) ;;
  *) dfd_usage ;;
esac
if [ ! -e "$device" ]; then
  echo "no camera at $device (ls /dev/video* lists them)" >&2
  exit 1
fi
source_desc=$(dfd_source_desc "$device")
dfd_run_live "$source_desc"
