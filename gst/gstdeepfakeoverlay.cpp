// deepfakeoverlay: reads the face ROI metas (and relevancy metas) that deepfakedetect attached
// and draws them in place. A frame without such metas is passed on without being mapped or
// made writable.
#include "gstdeepfakeoverlay.h"

#include <gst/video/video.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "deepfakemeta.h"
#include "framecv.h"
#include "gstptr.h"
#include "overlay_draw.h"

/**
 * SECTION:element-deepfakeoverlay
 * @title: deepfakeoverlay
 * @short_description: draws deepfakedetect's verdicts and relevancy heatmaps on the frames
 *
 * For every region of interest with a `deepfake` param, deepfakeoverlay draws the relevancy
 * heatmap blended inside the box (alpha), the box outline (red fake, green real, yellow
 * unknown) and a label with the object id, verdict and smoothed score. draw-boxes,
 * draw-labels and draw-heatmap switch the layers. Only the pixels drawn change; a frame
 * without faces is passed on without being mapped.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! deepfakedetect ! \
 *     deepfakeoverlay ! videoconvert ! autovideosink
 * ]| Shows the analysis of a file.
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! deepfakedetect ! \
 *     deepfakeoverlay draw-heatmap=false ! videoconvert ! x264enc ! mp4mux ! \
 *     filesink location=annotated.mp4
 * ]| Writes an annotated copy with boxes and labels only.
 *
 * Since: 0.1.0
 */

GST_DEBUG_CATEGORY_STATIC(deepfake_overlay_debug);
#define GST_CAT_DEFAULT deepfake_overlay_debug

namespace {

constexpr double kDefaultAlpha = 0.4;

struct OverlaySettings {
  dfd::gst::DrawOptions draw;
};

}  // namespace

struct _GstDeepfakeOverlay {
  GstVideoFilter parent;
  OverlaySettings settings;  // GST_OBJECT_LOCK; trivially copyable, so no C++ set-up needed
};

enum {
  PROP_0,
  PROP_ALPHA,
  PROP_DRAW_BOXES,
  PROP_DRAW_LABELS,
  PROP_DRAW_HEATMAP,
};

G_DEFINE_TYPE(GstDeepfakeOverlay, gst_deepfake_overlay, GST_TYPE_VIDEO_FILTER)
GST_ELEMENT_REGISTER_DEFINE(deepfakeoverlay, "deepfakeoverlay", GST_RANK_NONE,
                            GST_TYPE_DEEPFAKE_OVERLAY)

static GstStaticPadTemplate overlay_sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(DFD_GST_VIDEO_FORMATS)));
static GstStaticPadTemplate overlay_src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(DFD_GST_VIDEO_FORMATS)));

namespace {

// The first ROI meta deepfakedetect made, if any: the check that keeps faceless frames free.
bool has_face_annotations(GstBuffer *buffer) {
  gpointer state = nullptr;
  while (GstMeta *meta = gst_buffer_iterate_meta_filtered(
             buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    auto *roi = reinterpret_cast<GstVideoRegionOfInterestMeta *>(meta);
    if (gst_video_region_of_interest_meta_get_param(roi, GST_DEEPFAKE_PARAM_CLASSIFICATION)) {
      return true;
    }
  }
  return false;
}

dfd::gst::FaceAnnotation annotation_for(GstBuffer *buffer, GstVideoRegionOfInterestMeta *roi,
                                        const GstStructure *classification) {
  dfd::gst::FaceAnnotation face;
  face.box = cv::Rect(static_cast<int>(roi->x), static_cast<int>(roi->y), static_cast<int>(roi->w),
                      static_cast<int>(roi->h));
  const gchar *verdict = gst_structure_get_string(classification, GST_DEEPFAKE_FIELD_VERDICT);
  const std::string v = verdict != nullptr ? verdict : "";
  face.verdict = v == "fake"   ? dfd::gst::Verdict::Fake
                 : v == "real" ? dfd::gst::Verdict::Real
                               : dfd::gst::Verdict::Unknown;
  gint id = -1;
  if (const GstStructure *object =
          gst_video_region_of_interest_meta_get_param(roi, GST_DEEPFAKE_PARAM_OBJECT_ID)) {
    gst_structure_get_int(object, GST_DEEPFAKE_FIELD_ID, &id);
  }
  gdouble smoothed = 0;
  gst_structure_get_double(classification, GST_DEEPFAKE_FIELD_SMOOTHED_SCORE, &smoothed);
  char text[64];
  if (face.verdict == dfd::gst::Verdict::Unknown) {
    std::snprintf(text, sizeof text, "#%d ...", id);
  } else {
    std::snprintf(text, sizeof text, "#%d %s %.2f", id, v.c_str(), smoothed);
  }
  face.label = text;

  if (const GstDeepfakeRelevancyMeta *relevancy =
          gst_buffer_get_deepfake_relevancy_meta_for_roi(buffer, roi->id)) {
    const size_t count = static_cast<size_t>(relevancy->grid_width) * relevancy->grid_height;
    if (count > 0 && relevancy->values != nullptr) {
      face.heat.width = static_cast<int>(relevancy->grid_width);
      face.heat.height = static_cast<int>(relevancy->grid_height);
      face.heat.values.assign(relevancy->values, relevancy->values + count);
    }
  }
  return face;
}

GstFlowReturn prepare_output_buffer(GstBaseTransform *trans, GstBuffer *input, GstBuffer **output) {
  if (!has_face_annotations(input)) {
    // Nothing to draw: the buffer is passed on as it came, not even made writable.
    *output = input;
    return GST_FLOW_OK;
  }
  return GST_BASE_TRANSFORM_CLASS(gst_deepfake_overlay_parent_class)
      ->prepare_output_buffer(trans, input, output);
}

GstFlowReturn transform_ip(GstBaseTransform *trans, GstBuffer *buffer) {
  GstDeepfakeOverlay *self = GST_DEEPFAKE_OVERLAY(trans);
  GstVideoFilter *filter = GST_VIDEO_FILTER(trans);
  if (!has_face_annotations(buffer)) return GST_FLOW_OK;
  if (!filter->negotiated) return GST_FLOW_NOT_NEGOTIATED;

  GST_OBJECT_LOCK(self);
  const dfd::gst::DrawOptions options = self->settings.draw;
  GST_OBJECT_UNLOCK(self);

  std::vector<dfd::gst::FaceAnnotation> faces;
  gpointer state = nullptr;
  while (GstMeta *meta = gst_buffer_iterate_meta_filtered(
             buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    auto *roi = reinterpret_cast<GstVideoRegionOfInterestMeta *>(meta);
    if (const GstStructure *classification =
            gst_video_region_of_interest_meta_get_param(roi, GST_DEEPFAKE_PARAM_CLASSIFICATION)) {
      faces.push_back(annotation_for(buffer, roi, classification));
    }
  }

  dfd::gst::MappedFrame frame(&filter->in_info, buffer, GST_MAP_READWRITE);
  if (!frame.ok()) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, (nullptr), ("cannot map the frame for writing"));
    return GST_FLOW_ERROR;
  }
  try {
    for (const dfd::gst::FaceAnnotation &face : faces) draw_face(frame.get(), face, options);
  } catch (const std::exception &e) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Drawing the face overlay failed."), ("%s", e.what()));
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

void set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec) {
  GstDeepfakeOverlay *self = GST_DEEPFAKE_OVERLAY(object);
  GST_OBJECT_LOCK(self);
  dfd::gst::DrawOptions &draw = self->settings.draw;
  switch (id) {
    case PROP_ALPHA:
      draw.alpha = static_cast<float>(g_value_get_double(value));
      break;
    case PROP_DRAW_BOXES:
      draw.boxes = g_value_get_boolean(value);
      break;
    case PROP_DRAW_LABELS:
      draw.labels = g_value_get_boolean(value);
      break;
    case PROP_DRAW_HEATMAP:
      draw.heatmap = g_value_get_boolean(value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK(self);
}

void get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec) {
  GstDeepfakeOverlay *self = GST_DEEPFAKE_OVERLAY(object);
  GST_OBJECT_LOCK(self);
  const dfd::gst::DrawOptions &draw = self->settings.draw;
  switch (id) {
    case PROP_ALPHA:
      g_value_set_double(value, draw.alpha);
      break;
    case PROP_DRAW_BOXES:
      g_value_set_boolean(value, draw.boxes);
      break;
    case PROP_DRAW_LABELS:
      g_value_set_boolean(value, draw.labels);
      break;
    case PROP_DRAW_HEATMAP:
      g_value_set_boolean(value, draw.heatmap);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK(self);
}

constexpr auto kFlags =
    static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_CONTROLLABLE |
                             GST_PARAM_MUTABLE_PLAYING);

}  // namespace

static void gst_deepfake_overlay_class_init(GstDeepfakeOverlayClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *transform_class = GST_BASE_TRANSFORM_CLASS(klass);
  GST_DEBUG_CATEGORY_INIT(deepfake_overlay_debug, "deepfakeoverlay", 0, "deepfake overlay");

  gobject_class->set_property = set_property;
  gobject_class->get_property = get_property;
  g_object_class_install_property(
      gobject_class, PROP_ALPHA,
      g_param_spec_double("alpha", "Alpha",
                          "Opacity of the relevancy heatmap blended inside each face box", 0.0, 1.0,
                          kDefaultAlpha, kFlags));
  g_object_class_install_property(
      gobject_class, PROP_DRAW_BOXES,
      g_param_spec_boolean("draw-boxes", "Draw boxes",
                           "Outline each face, red when its verdict is fake, green when real, "
                           "yellow before its first score",
                           TRUE, kFlags));
  g_object_class_install_property(
      gobject_class, PROP_DRAW_LABELS,
      g_param_spec_boolean("draw-labels", "Draw labels",
                           "Label each face with its object id, verdict and smoothed score", TRUE,
                           kFlags));
  g_object_class_install_property(
      gobject_class, PROP_DRAW_HEATMAP,
      g_param_spec_boolean("draw-heatmap", "Draw heatmap",
                           "Blend each face's relevancy grid (GstDeepfakeRelevancyMeta) inside "
                           "its box",
                           TRUE, kFlags));

  gst_element_class_set_static_metadata(
      element_class, "Deepfake overlay", "Filter/Effect/Video",
      "Draws deepfakedetect's results in place: verdict-coloured face boxes, labels with score "
      "and object id, and relevancy heatmaps inside the boxes",
      "gst-deepfake contributors");
  // gst-inspect-1.0 lists every metadata key: this one shows how the element is used.
  gst_element_class_add_static_metadata(
      element_class, "example",
      "... ! deepfakedetect ! deepfakeoverlay ! videoconvert ! autovideosink (see gst/README.md)");
  gst_element_class_add_static_pad_template(element_class, &overlay_sink_template);
  gst_element_class_add_static_pad_template(element_class, &overlay_src_template);

  transform_class->passthrough_on_same_caps = FALSE;
  transform_class->transform_ip_on_passthrough = FALSE;
  transform_class->prepare_output_buffer = prepare_output_buffer;
  transform_class->transform_ip = transform_ip;
}

static void gst_deepfake_overlay_init(GstDeepfakeOverlay *self) {
  // Zeroed by GObject; DrawOptions is plain data, so assigning its defaults is enough.
  self->settings.draw = dfd::gst::DrawOptions{};
  self->settings.draw.alpha = static_cast<float>(kDefaultAlpha);
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}
