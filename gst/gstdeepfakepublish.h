// deepfakepublish: serialises deepfakedetect's per-frame metadata to JSON (DL Streamer
// gvametaconvert's layout) and publishes it to a file, stdout or an MQTT broker, with verdict
// alerts; frames pass through untouched.
#pragma once

#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_DEEPFAKE_PUBLISH (gst_deepfake_publish_get_type())
G_DECLARE_FINAL_TYPE(GstDeepfakePublish, gst_deepfake_publish, GST, DEEPFAKE_PUBLISH,
                     GstBaseTransform)

#define GST_TYPE_DEEPFAKE_PUBLISH_METHOD (gst_deepfake_publish_method_get_type())
GType gst_deepfake_publish_method_get_type(void);
#define GST_TYPE_DEEPFAKE_PUBLISH_FILE_FORMAT (gst_deepfake_publish_file_format_get_type())
GType gst_deepfake_publish_file_format_get_type(void);

GST_ELEMENT_REGISTER_DECLARE(deepfakepublish);

G_END_DECLS
