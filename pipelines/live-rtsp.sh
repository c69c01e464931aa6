#!/bin/sh
# Live deepfake detection on an RTSP stream: shown in a window, or re-streamed as annotated
# H.264 RTP over UDP.
#
#   pipelines/live-rtsp.sh rtsp://HOST[:PORT]/PATH
#
# Without a camera, serve a file on loopback in a loop and watch that:
#   pipelines/rtsp-serve.py tests/data/videos/liveportrait-d18.mp4 --port 8554 &
#   pipelines/live-rtsp.sh rtsp://127.0.0.1:8554/stream
#
# Environment:
#   RTSP_LATENCY  rtspsrc jitter buffer in ms (default 200): the network's share of the delay
#   DETECT_OPTS   extra deepfakedetect properties; on a small CPU try
#                 "min-face-size=160 batch-size=1" (detection on a smaller copy, no batch wait)
#   OVERLAY_OPTS  extra deepfakeoverlay properties, e.g. "draw-heatmap=false"
#   OUTPUT        display (default) or udp://HOST:PORT to re-stream the annotated video as H.264
#                 RTP (receive it with pipelines/live-udp.sh udp://:PORT, or any player given the
#                 SDP in pipelines/README.md)
#   SINK          the display sink (default autovideosink, given a display; "fakesink sync=true"
#                 runs headless)
#   X264_OPTS     encoder settings for OUTPUT=udp:// (default: zerolatency, ultrafast, keyframe
#                 every 30 frames so that a receiver joining late starts within a second)
#   MESSAGES=1    print every bus message; the detector's are the "deepfake" ones
#   DFD_BUILD_DIR meson build directory to take the plugin from (see common.sh)
#
# Where the queues are and why:
# - After decoding, a leaky queue holding two frames: if anything after it stalls, the oldest
#   frames are dropped there instead of backing up into the jitter buffer and the network,
#   where delay would grow without bound.
# - deepfakedetect itself never holds a live stream up: it reports max-latency (default
#   200 ms) as its latency, pushes every frame within it (with the faces' last results when
#   the model is not done) and skips analysis while it is behind.
# - Before the sink or encoder, a leaky queue again, so that a slow display or encoder drops
#   frames rather than delaying analysis.
set -eu
# The descriptions are split into words on purpose: no file-name globbing of URLs.
set -f
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
[ $# -eq 1 ] || dfd_usage
case $1 in
  rtsp://* | rtsps://*) ;;
  # Cameras used to be taken here too; they have their own script now.
  /dev/*) exec "$(dirname "$0")/live-camera.sh" "$1" ;;
  *) dfd_usage ;;
esac
source_desc=$(dfd_source_desc "$1")
dfd_run_live "$source_desc"
