# Sourced by the pipeline scripts: finds the deepfake plugin.
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
