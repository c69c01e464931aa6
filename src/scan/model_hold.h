// One model for the whole scan. deepfakedetect elements that share a model-instance-id share
// one loaded model, but only while one of them is open: files scanned one after another would
// each load it again. A detector held in PAUSED, outside any file's pipeline, keeps it loaded,
// and a bad model or device is reported once, before the first file.
#pragma once

#include <gst/gst.h>

#include <memory>

#include "gstptr.h"
#include "scan/scan_file.h"

namespace dfd::scan {

class ModelHold {
 public:
  // Throws std::runtime_error with the element's error message.
  explicit ModelHold(const ScanSettings &settings);
  ~ModelHold();
  ModelHold(const ModelHold &) = delete;
  ModelHold &operator=(const ModelHold &) = delete;

 private:
  std::unique_ptr<GstElement, dfd::gst::ObjectUnref> pipeline_;
};

}  // namespace dfd::scan
