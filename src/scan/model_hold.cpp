#include "scan/model_hold.h"

#include <stdexcept>
#include <string>

#include "scan/detector_element.h"
#include "scan/error_text.h"

namespace dfd::scan {

ModelHold::ModelHold(const ScanSettings &settings)
    : pipeline_(GST_ELEMENT(gst_object_ref_sink(gst_pipeline_new("model")))) {
  GstElement *detect = make_detector(settings, false);
  if (detect == nullptr) throw std::runtime_error("the deepfakedetect element is not installed");
  gst_bin_add(GST_BIN(pipeline_.get()), detect);
  if (gst_element_set_state(pipeline_.get(), GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE) {
    return;
  }
  std::string text = "cannot open the model";
  const std::unique_ptr<GstBus, dfd::gst::ObjectUnref> bus(gst_element_get_bus(pipeline_.get()));
  const std::unique_ptr<GstMessage, dfd::gst::MiniObjectUnref> message(
      gst_bus_pop_filtered(bus.get(), GST_MESSAGE_ERROR));
  if (message) text = error_text(message.get());
  gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
  throw std::runtime_error(text);
}

ModelHold::~ModelHold() {
  gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
}

}  // namespace dfd::scan
