#include "scan/detector_element.h"

namespace dfd::scan {

GstElement *make_detector(const ScanSettings &settings, bool explain) {
  GstElement *detect = gst_element_factory_make("deepfakedetect", nullptr);
  if (detect == nullptr) return nullptr;
  if (!settings.model.empty()) g_object_set(detect, "model", settings.model.c_str(), nullptr);
  // reclassify-interval 1: every face of an analysed frame is scored on that frame, so each
  // face of a `deepfake` message carries a score of its own frame (the summary relies on it).
  g_object_set(detect, "device", settings.device.c_str(), "model-instance-id",
               settings.instance_id.c_str(), "batch-size", static_cast<guint>(settings.batch_size),
               "inference-interval", static_cast<guint>(settings.inference_interval),
               "reclassify-interval", 1u, "threshold", settings.threshold, "explain",
               explain ? TRUE : FALSE, "post-messages", TRUE, nullptr);
  return detect;
}

}  // namespace dfd::scan
