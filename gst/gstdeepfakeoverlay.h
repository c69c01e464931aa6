// deepfakeoverlay: draws what deepfakedetect found (box coloured by verdict, label, relevancy
// heatmap) onto the frames, in place.
#pragma once

#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_DEEPFAKE_OVERLAY (gst_deepfake_overlay_get_type())
G_DECLARE_FINAL_TYPE(GstDeepfakeOverlay, gst_deepfake_overlay, GST, DEEPFAKE_OVERLAY,
                     GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE(deepfakeoverlay);

G_END_DECLS
