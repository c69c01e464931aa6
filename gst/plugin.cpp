// The `deepfake` plugin: deepfakedetect, deepfakeoverlay, deepfakepublish and the relevancy meta.
#include <gst/gst.h>

#include "deepfakemeta.h"
#include "gstdeepfakedetect.h"
#include "gstdeepfakeoverlay.h"
#include "gstdeepfakepublish.h"

static gboolean plugin_init(GstPlugin *plugin) {
  // Registered up front so that consumers can look the meta up by name as soon as the plugin
  // is loaded, before the first buffer carries one.
  gst_deepfake_relevancy_meta_get_info();
  gboolean ok = GST_ELEMENT_REGISTER(deepfakedetect, plugin);
  ok = GST_ELEMENT_REGISTER(deepfakeoverlay, plugin) && ok;
  ok = GST_ELEMENT_REGISTER(deepfakepublish, plugin) && ok;
  return ok;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, deepfake,
                  "Explainable deepfake detection: face tracking, batched classification with "
                  "relevancy, metadata and overlay",
                  plugin_init, VERSION, "LGPL", PACKAGE, GST_PACKAGE_ORIGIN)
