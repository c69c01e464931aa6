#!/bin/sh
# Live deepfake detection on H.264 RTP over UDP: shown in a window, or re-streamed.
#
#   pipelines/live-udp.sh udp://[HOST]:PORT
#
# udp://:5000 listens on port 5000 on every interface; udp://239.1.1.1:5000 joins that
# multicast group. The stream must be H.264, RTP payload type 96: a bare UDP port carries no
# description, so the receiver is told the caps
#   application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96
# The matching sender for a file (sent once; start this receiver first and wait for "Setting
# pipeline to PLAYING": a file has few keyframes, and a receiver that misses the first shows
# nothing until the next):
#   gst-launch-1.0 filesrc location=tests/data/videos/liveportrait-d18.mp4 ! qtdemux \
#     ! h264parse ! rtph264pay pt=96 config-interval=-1 ! udpsink host=127.0.0.1 port=5000
# or from a camera, encoded on the way:
#   gst-launch-1.0 v4l2src ! videoconvert ! x264enc tune=zerolatency key-int-max=30 \
#     ! rtph264pay pt=96 config-interval=-1 ! udpsink host=127.0.0.1 port=5000
# config-interval=-1 repeats SPS/PPS with every keyframe, so a receiver started after the
# sender can decode from the next keyframe on.
#
# Environment:
#   RTP_LATENCY   rtpjitterbuffer latency in ms (default 200): reordering and network jitter
#   DETECT_OPTS, OVERLAY_OPTS, OUTPUT, SINK, X264_OPTS, MESSAGES, DFD_BUILD_DIR: as in
#   live-rtsp.sh (OUTPUT=udp://HOST:PORT re-streams the annotated video)
#
# Queues: as in live-rtsp.sh. The jitter buffer comes first: it reorders packets and turns
# arrival times into capture times, which deepfakedetect's latency budget is measured from.
set -eu
set -f
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
[ $# -eq 1 ] || dfd_usage
case $1 in
  udp://*) ;;
  *) dfd_usage ;;
esac
source_desc=$(dfd_source_desc "$1")
dfd_run_live "$source_desc"
