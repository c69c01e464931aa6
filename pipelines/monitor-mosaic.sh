#!/bin/sh
# Broadcast monitoring: four streams in one process analysed by one shared model, shown as a
# 2x2 mosaic with each stream's boxes, labels and heatmaps, verdict changes published to MQTT.
#
#   pipelines/monitor-mosaic.sh [SOURCE1 [SOURCE2 [SOURCE3 [SOURCE4]]]]
#
# A SOURCE is a file, a URI (file://, http://, ...), rtsp://..., udp://[HOST]:PORT (H.264 RTP,
# see live-udp.sh) or /dev/videoN. Missing ones default to clips from ../shared/data/videos/real
# next to the checkout, or else to the bundled tests/data/videos/liveportrait-d18.mp4, so it
# runs out of the box. Stream N is named camN (detector detectN) in messages and on MQTT.
#
# Environment:
#   SINK          the mosaic's sink (default autovideosink, given a display; SINK=fakesink runs
#                 headless at playback speed, "fakesink sync=false" as fast as the CPU allows)
#   MQTT          HOST:PORT of an MQTT broker: each stream gets a deepfakepublish element that
#                 publishes every analysed frame to $MQTT_TOPIC (default deepfake) and verdict
#                 changes to $MQTT_ALERT_TOPIC (default deepfake/alerts), QoS 1, tagged with its
#                 source-id camN; unset: nothing is published
#   MODEL_INSTANCE_ID  the shared model's id (default monitor): one model and one batch queue;
#                 set but empty, every stream loads its own model (for comparison)
#   BATCH_SIZE    faces per shared batch (default 4: one face from each stream)
#   DETECT_OPTS, OVERLAY_OPTS  extra properties for every deepfakedetect / deepfakeoverlay
#   TILE          tile size WIDTHxHEIGHT (default 640x360): each stream is scaled into it,
#                 keeping its aspect ratio (black borders)
#   RTSP_LATENCY, RTP_LATENCY, CAMERA_CAPS  as in the live-*.sh scripts
#   MESSAGES=1    print every bus message; the detectors' are the "deepfake" ones, from detectN
#   DFD_BUILD_DIR meson build directory to take the plugin from (see common.sh)
#
# Where the queues are and why:
# - Live sources (rtsp, udp, camera) get a leaky two-frame queue after decoding, as in
#   live-rtsp.sh, so that a stall drops frames instead of delaying capture. Files get none: they
#   are not live, and every frame is to be analysed (upstream simply waits).
# - deepfakedetect pushes from its own thread, and the four share one batch queue: a face from
#   each stream can go into one batch (model-instance-id, batch-size).
# - Before the compositor, one queue per stream: the compositor holds each input until it has
#   a frame from every stream for the same moment, so without it one slow stream would stall
#   the other detectors. For live sources that queue is leaky, so a slow mosaic drops frames
#   rather than holding analysis back; for files it only decouples, and never drops.
set -eu
set -f
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
[ $# -le 4 ] || dfd_usage
case ${1:-} in -h | --help) dfd_usage ;; esac

# Out-of-the-box inputs: four different single-face clips, or the bundled one four times.
shared_clips=$(cd "$dfd_root/.." && pwd)/shared/data/videos/real
default_clip() {
  if [ -r "$shared_clips/$1" ]; then
    echo "$shared_clips/$1"
  else
    echo "$dfd_root/tests/data/videos/liveportrait-d18.mp4"
  fi
}
src1=${1:-$(default_clip liveportrait-d19.mp4)}
src2=${2:-$(default_clip videoretalking-3.mp4)}
src3=${3:-$(default_clip videoretalking-5.mp4)}
src4=${4:-$(default_clip liveportrait-d0.mp4)}

publish_element=
if [ -n "${MQTT:-}" ]; then
  if ! gst-inspect-1.0 deepfakepublish >/dev/null 2>&1; then
    echo "MQTT is set but the deepfakepublish element is not available (build or install it)" >&2
    exit 1
  fi
  publish_element="deepfakepublish method=mqtt address=$MQTT topic=${MQTT_TOPIC:-deepfake}"
  publish_element="$publish_element alert-topic=${MQTT_ALERT_TOPIC:-deepfake/alerts} qos=1"
fi

tile=${TILE:-640x360}
tile_w=${tile%x*}
tile_h=${tile#*x}
for n in "$tile_w" "$tile_h"; do
  case $n in
    '' | *[!0-9]*) echo "TILE must be WIDTHxHEIGHT, e.g. 640x360, not '$tile'" >&2; exit 2 ;;
  esac
done

sink=$(dfd_video_sink) || exit 2
leaky=$DFD_LEAKY_QUEUE
instance=${MODEL_INSTANCE_ID-monitor}
branches=
i=1
for src in "$src1" "$src2" "$src3" "$src4"; do
  desc=$(dfd_source_desc "$src")
  case $src in
    rtsp://* | rtsps://* | udp://* | /dev/*) in_queue="! $leaky" out_queue=$leaky ;;
    *) in_queue="" out_queue="queue max-size-buffers=3 max-size-bytes=0 max-size-time=0" ;;
  esac
  publish=
  [ -n "$publish_element" ] && publish="! $publish_element source-id=cam$i"
  branches="$branches $desc $in_queue ! videoconvert
    ! deepfakedetect name=detect$i ${instance:+model-instance-id=$instance}
      batch-size=${BATCH_SIZE:-4} ${DETECT_OPTS:-} $publish
    ! deepfakeoverlay ${OVERLAY_OPTS:-}
    ! videoscale add-borders=true ! videoconvert
    ! video/x-raw,format=I420,width=$tile_w,height=$tile_h,pixel-aspect-ratio=1/1
    ! $out_queue ! mosaic.sink_$i"
  i=$((i + 1))
done

echo "cam1 $src1" >&2
echo "cam2 $src2" >&2
echo "cam3 $src3" >&2
echo "cam4 $src4" >&2
verbose=
[ "${MESSAGES:-0}" = 1 ] && verbose=-m
# shellcheck disable=SC2086  # descriptions and *_OPTS are split into words on purpose
exec gst-launch-1.0 -e $verbose \
  compositor name=mosaic background=black \
    sink_1::xpos=0 sink_1::ypos=0 sink_2::xpos="$tile_w" sink_2::ypos=0 \
    sink_3::xpos=0 sink_3::ypos="$tile_h" sink_4::xpos="$tile_w" sink_4::ypos="$tile_h" \
  ! videoconvert ! $sink \
  $branches
