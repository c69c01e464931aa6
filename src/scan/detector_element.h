// A deepfakedetect element set up for scanning files: the scan's model, device, batching and
// threshold, every face scored on every analysed frame, messages on.
#pragma once

#include <gst/gst.h>

#include "scan/scan_file.h"

namespace dfd::scan {

// A new (floating) element, or nullptr when the deepfake plugin is not in the registry.
// `explain`: compute relevancy (only the overlay draws it; it costs a backward pass).
GstElement *make_detector(const ScanSettings &settings, bool explain);

}  // namespace dfd::scan
