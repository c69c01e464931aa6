// deepfakedetect: frames pass through unchanged and gain, for every face, a region-of-interest
// meta with the face's track id, its deepfake score and verdict, and its relevancy grid.
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_DEEPFAKE_DETECT (gst_deepfake_detect_get_type())
G_DECLARE_FINAL_TYPE(GstDeepfakeDetect, gst_deepfake_detect, GST, DEEPFAKE_DETECT, GstElement)

#define GST_TYPE_DEEPFAKE_DETECTOR (gst_deepfake_detector_get_type())
GType gst_deepfake_detector_get_type(void);

GST_ELEMENT_REGISTER_DECLARE(deepfakedetect);

G_END_DECLS
