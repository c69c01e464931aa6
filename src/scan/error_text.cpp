#include "scan/error_text.h"

#include <memory>

#include "gstptr.h"

namespace dfd::scan {

std::string error_text(GstMessage *error_message) {
  GError *raw = nullptr;
  gchar *debug = nullptr;
  gst_message_parse_error(error_message, &raw, &debug);
  const dfd::gst::CharPtr debug_text(debug);
  std::string text = raw != nullptr && raw->message != nullptr ? raw->message : "unknown error";
  g_clear_error(&raw);
  // The debug text is "source.c(line): function (): /element/path:\nreason", reason optional.
  const std::string debug_string = debug_text ? debug_text.get() : "";
  const size_t newline = debug_string.rfind('\n');
  if (newline != std::string::npos) {
    const std::string reason = debug_string.substr(newline + 1);
    if (!reason.empty() && text.find(reason) == std::string::npos) text += " (" + reason + ")";
  }
  return text;
}

}  // namespace dfd::scan
