// A GStreamer error message as one line for a person: the error, and the element's own reason
// from the debug text when it adds something ("no 'moov' atom within the first 10 MB").
#pragma once

#include <gst/gst.h>

#include <string>

namespace dfd::scan {

std::string error_text(GstMessage *error_message);

}  // namespace dfd::scan
