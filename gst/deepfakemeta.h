/* Public header for consumers of deepfakedetect's output: the relevancy meta and the names
 * used in the GstVideoRegionOfInterestMeta params.
 *
 * The meta is registered by the `deepfake` plugin, which GStreamer loads with local symbol
 * binding: an application therefore cannot link against the functions below that carry
 * "(plugin)". It needs only this header: gst_buffer_get_deepfake_relevancy_meta_for_roi() and
 * gst_deepfake_relevancy_meta_api_type_lookup() find the meta by its registered name once the
 * plugin is loaded (for instance after gst_element_factory_make ("deepfakedetect", ...)).
 *
 * Plain C so that C applications and other plugins can include it. */
#ifndef GST_DEEPFAKE_META_H
#define GST_DEEPFAKE_META_H

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/* Names of the GstVideoRegionOfInterestMeta that deepfakedetect attaches, one per face, and of
 * the fields of its param structures (DL Streamer's layout, so its consumers read them). The
 * same names are used for the same things in deepfakedetect's bus messages, in
 * deepfakepublish's JSON and in deepfake-scan's output. */
#define GST_DEEPFAKE_ROI_TYPE "face"
#define GST_DEEPFAKE_PARAM_DETECTION "detection" /* x_min y_min x_max y_max confidence label_id */
#define GST_DEEPFAKE_PARAM_CLASSIFICATION "deepfake"
#define GST_DEEPFAKE_PARAM_OBJECT_ID "object_id" /* field "id": the face's track id */
#define GST_DEEPFAKE_PARAM_RELEVANCY "relevancy" /* width, height, values: see below */
#define GST_DEEPFAKE_FIELD_LABEL "label"         /* "fake", "real", or "unknown" before a score */
/* Confidence of the label, as DL Streamer means it: the fake probability for "fake", one minus
 * it for "real", 0 for "unknown". */
#define GST_DEEPFAKE_FIELD_CONFIDENCE "confidence"
#define GST_DEEPFAKE_FIELD_FAKE_PROBABILITY "fake_probability" /* of the newest analysis */
#define GST_DEEPFAKE_FIELD_LABEL_ID "label_id"                 /* 1 fake, 0 real, -1 unknown */
#define GST_DEEPFAKE_FIELD_MODEL_NAME "model_name"
#define GST_DEEPFAKE_FIELD_ATTRIBUTE_NAME "attribute_name" /* always "deepfake" */
#define GST_DEEPFAKE_FIELD_SMOOTHED_SCORE \
  "smoothed_score"                             /* the track's smoothed fake probability */
#define GST_DEEPFAKE_FIELD_VERDICT "verdict"   /* "fake", "real", or "unknown" */
#define GST_DEEPFAKE_FIELD_ANALYSES "analyses" /* scores the face's track has had */
#define GST_DEEPFAKE_FIELD_ID "id"
/* The relevancy param: the same grid as GstDeepfakeRelevancyMeta, for consumers that cannot
 * read a custom meta (Python): "width" and "height" (int) and "values" (a GstValueArray of
 * width * height floats in [0, 1], row-major, top row first), spanning the ROI's box. */
#define GST_DEEPFAKE_FIELD_WIDTH "width"
#define GST_DEEPFAKE_FIELD_HEIGHT "height"
#define GST_DEEPFAKE_FIELD_VALUES "values"

/* Registered names: what the lookup helpers below search for. */
#define GST_DEEPFAKE_RELEVANCY_META_API_NAME "GstDeepfakeRelevancyMetaAPI"
#define GST_DEEPFAKE_RELEVANCY_META_IMPL_NAME "GstDeepfakeRelevancyMeta"

/**
 * GstDeepfakeRelevancyMeta:
 * @meta: parent #GstMeta
 * @roi_id: the id of the #GstVideoRegionOfInterestMeta on the same buffer it explains
 * @x: @y: @w: @h: the face box (frame pixels) the grid covers; follows scaling
 * @grid_width: @grid_height: size of @values
 * @values: grid_width * grid_height relevancy values in [0, 1], row-major, top row first.
 *   Owned by the meta. The grid spans the box exactly, so it stays valid when the box is
 *   rescaled: stretch it over the box to draw it.
 */
typedef struct {
  GstMeta meta;
  gint roi_id;
  guint x;
  guint y;
  guint w;
  guint h;
  guint grid_width;
  guint grid_height;
  gfloat *values;
} GstDeepfakeRelevancyMeta;

/* (plugin) Registration, called by plugin_init. */
GType gst_deepfake_relevancy_meta_api_get_type(void);
const GstMetaInfo *gst_deepfake_relevancy_meta_get_info(void);
#define GST_DEEPFAKE_RELEVANCY_META_API_TYPE (gst_deepfake_relevancy_meta_api_get_type())
#define GST_DEEPFAKE_RELEVANCY_META_INFO (gst_deepfake_relevancy_meta_get_info())

/* (plugin) Copies @values (grid_width * grid_height floats). Returns NULL when the grid is
 * empty or @buffer is not writable. */
GstDeepfakeRelevancyMeta *gst_buffer_add_deepfake_relevancy_meta(GstBuffer *buffer, gint roi_id,
                                                                 guint x, guint y, guint w, guint h,
                                                                 guint grid_width,
                                                                 guint grid_height,
                                                                 const gfloat *values);

/* The API type, or 0 while the plugin has not registered it. Usable without linking. */
static inline GType gst_deepfake_relevancy_meta_api_type_lookup(void) {
  return g_type_from_name(GST_DEEPFAKE_RELEVANCY_META_API_NAME);
}

/* The relevancy meta that explains ROI @roi_id, or NULL. Usable without linking. */
static inline GstDeepfakeRelevancyMeta *gst_buffer_get_deepfake_relevancy_meta_for_roi(
    GstBuffer *buffer, gint roi_id) {
  GType api = gst_deepfake_relevancy_meta_api_type_lookup();
  gpointer state = NULL;
  GstMeta *meta;

  if (api == 0) return NULL;
  while ((meta = gst_buffer_iterate_meta_filtered(buffer, &state, api)) != NULL) {
    GstDeepfakeRelevancyMeta *relevancy = (GstDeepfakeRelevancyMeta *)meta;
    if (relevancy->roi_id == roi_id) return relevancy;
  }
  return NULL;
}

G_END_DECLS

#endif /* GST_DEEPFAKE_META_H */
