# Sourced by the pipeline scripts: finds the deepfake plugin.
# shellcheck shell=sh
#
# From a source checkout the plugin is taken from a build tree, in this order: $DFD_BUILD_DIR
# (meson's build directory), then build/ at the top of the checkout. Otherwise GStreamer finds
# the installed plugin (meson install puts it into its plugin directory). The default model is
# found the same way by the plugin itself; DEEPFAKE_MODEL overrides it.

dfd_root=$(cd "$(dirname "$0")/.." && pwd)
for dfd_build in "${DFD_BUILD_DIR:-}" "$dfd_root/build"; do
  if [ -n "$dfd_build" ] && [ -f "$dfd_build/gst/libgstdeepfake.so" ]; then
    GST_PLUGIN_PATH="$dfd_build/gst${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
    export GST_PLUGIN_PATH
    break
  fi
done

if ! gst-inspect-1.0 deepfakedetect >/dev/null 2>&1; then
  echo "deepfakedetect not found: build the project (meson setup build && ninja -C build)," \
       "set DFD_BUILD_DIR to the build directory, or install it." >&2
  exit 1
fi

# ---- Helpers for the live and monitoring scripts (functions only: nothing runs on sourcing) ----

# Prints the comment block at the top of the calling script (its usage) and exits 2.
dfd_usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit 2
}

# A queue that holds two frames and drops the oldest when full: on a live source, a stall after
# it drops frames there instead of backing up into the jitter buffer and the network, where the
# delay would grow without bound.
DFD_LEAKY_QUEUE="queue leaky=downstream max-size-buffers=2 max-size-bytes=0 max-size-time=0"

# The caps an H.264 RTP stream over UDP needs: a bare UDP socket carries no description, so the
# receiver has to be told what the packets are (payload type 96 is what the sender sets).
DFD_RTP_H264_CAPS="application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"

# Prints a gst-launch description that ends in decoded video for one source:
#   rtsp://... rtsps://...  rtspsrc (jitter buffer $RTSP_LATENCY ms, default 200), video only
#   udp://[HOST]:PORT       H.264 RTP on that UDP port (HOST: a multicast group or a local address)
#   /dev/videoN             a V4L2 camera ($CAMERA_CAPS selects a mode, e.g. image/jpeg,width=1280)
#   other URIs, file paths  uridecodebin
# Descriptions are split into words by the caller, so file paths become percent-encoded URIs.
dfd_source_desc() {
  case $1 in
    rtsp://* | rtsps://*)
      # The caps filter keeps an audio stream from taking decodebin's only input.
      echo "rtspsrc location=$1 latency=${RTSP_LATENCY:-200}" \
           "! application/x-rtp,media=video ! decodebin"
      ;;
    udp://*)
      dfd_udp_host=${1#udp://}
      dfd_udp_port=${dfd_udp_host##*:}
      dfd_udp_host=${dfd_udp_host%"$dfd_udp_port"}
      dfd_udp_host=${dfd_udp_host%:}
      # An IPv6 address comes bracketed in the URL, bare in udpsrc's address.
      dfd_udp_host=${dfd_udp_host#[}
      dfd_udp_host=${dfd_udp_host%]}
      case $dfd_udp_port in
        '' | *[!0-9]*) echo "dfd_source_desc: no port in '$1' (udp://[HOST]:PORT)" >&2; return 1 ;;
      esac
      # The jitter buffer reorders packets and sets the capture times the live latency rests on.
      echo "udpsrc port=$dfd_udp_port ${dfd_udp_host:+address=$dfd_udp_host}" \
           "caps=$DFD_RTP_H264_CAPS ! rtpjitterbuffer latency=${RTP_LATENCY:-200}" \
           "! rtph264depay ! h264parse ! decodebin"
      ;;
    /dev/*)
      echo "v4l2src device=$1 ${CAMERA_CAPS:+! $CAMERA_CAPS} ! decodebin"
      ;;
    *://*)
      echo "uridecodebin uri=$1"
      ;;
    *)
      if [ ! -r "$1" ]; then
        echo "cannot read '$1'" >&2
        return 1
      fi
      dfd_abs=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
      # Percent-encode what would break the description: '%' first, then spaces and quotes.
      dfd_abs=$(printf '%s' "$dfd_abs" | sed 's/%/%25/g; s/ /%20/g; s/"/%22/g; s/'"'"'/%27/g')
      echo "uridecodebin uri=file://$dfd_abs"
      ;;
  esac
}

# Prints the video sink to use: $SINK, else autovideosink where there is a display. Without one,
# autovideosink has nothing to open (and crashed outright on a Debian 12 machine without X),
# so the scripts stop with a hint instead.
dfd_video_sink() {
  if [ -n "${SINK:-}" ]; then
    echo "$SINK"
  elif [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
    echo autovideosink
  else
    echo "no display (DISPLAY and WAYLAND_DISPLAY are unset): set SINK, e.g. SINK=fakesink" \
         "to run headless" >&2
    return 1
  fi
}

# Runs SOURCE-DESCRIPTION -> deepfakedetect -> deepfakeoverlay -> display or RTP/UDP, replacing
# the shell (so that Ctrl-C reaches gst-launch, whose -e turns it into a clean EOS).
#   OUTPUT        display (default) or udp://HOST:PORT: H.264 RTP to that address
#   SINK          the display sink (default autovideosink, given a display; "fakesink sync=true"
#                 runs headless)
#   DETECT_OPTS, OVERLAY_OPTS  extra element properties
#   X264_OPTS     encoder settings for OUTPUT=udp://
#   MESSAGES=1    print every bus message (gst-launch -m): grep for "deepfake" to see the detector's
# Queues: after decoding a leaky one, so a stall downstream drops frames instead of delaying the
# source; deepfakedetect never holds a live stream for longer than its max-latency; before the
# display or encoder a leaky one again, so slow rendering or encoding drops frames rather than
# delaying analysis.
dfd_run_live() {
  case ${OUTPUT:-display} in
    display)
      dfd_tail=$(dfd_video_sink) || exit 2
      ;;
    udp://*:*)
      dfd_out=${OUTPUT#udp://}
      # sync=false: the source already paces the stream, and waiting for each frame's deadline
      # at the sink would add the whole pipeline latency again before sending.
      dfd_tail="x264enc ${X264_OPTS:-tune=zerolatency speed-preset=ultrafast key-int-max=30}"
      dfd_tail="$dfd_tail ! rtph264pay pt=96 config-interval=-1"
      dfd_tail="$dfd_tail ! udpsink host=${dfd_out%:*} port=${dfd_out##*:} sync=false"
      ;;
    *)
      echo "OUTPUT must be display or udp://HOST:PORT, not '$OUTPUT'" >&2
      exit 2
      ;;
  esac
  dfd_verbose=
  [ "${MESSAGES:-0}" = 1 ] && dfd_verbose=-m
  # shellcheck disable=SC2086  # descriptions and *_OPTS are split into words on purpose
  exec gst-launch-1.0 -e $dfd_verbose \
    $1 \
    ! $DFD_LEAKY_QUEUE ! videoconvert \
    ! deepfakedetect ${DETECT_OPTS:-} \
    ! deepfakeoverlay ${OVERLAY_OPTS:-} \
    ! $DFD_LEAKY_QUEUE ! videoconvert ! $dfd_tail
}
