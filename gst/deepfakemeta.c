/* Registration and life cycle of GstDeepfakeRelevancyMeta (see deepfakemeta.h). */
#include "deepfakemeta.h"

#include <string.h>

GType gst_deepfake_relevancy_meta_api_get_type(void) {
  static GType type = 0;
  /* The same tags as GstVideoRegionOfInterestMeta: video filters then treat both alike, so
   * the grid follows its ROI through converters and scalers instead of being dropped. */
  static const gchar *tags[] = {GST_META_TAG_VIDEO_STR, GST_META_TAG_VIDEO_ORIENTATION_STR,
                                GST_META_TAG_VIDEO_SIZE_STR, NULL};

  if (g_once_init_enter(&type)) {
    /* Another copy of this file (an application that compiles it in) may have registered the
     * name first: registering it twice is an error, and both copies mean the same meta. */
    GType registered = g_type_from_name(GST_DEEPFAKE_RELEVANCY_META_API_NAME);
    if (registered == 0)
      registered = gst_meta_api_type_register(GST_DEEPFAKE_RELEVANCY_META_API_NAME, tags);
    g_once_init_leave(&type, registered);
  }
  return type;
}

static gboolean relevancy_meta_init(GstMeta *meta, gpointer params, GstBuffer *buffer) {
  GstDeepfakeRelevancyMeta *relevancy = (GstDeepfakeRelevancyMeta *)meta;

  (void)params;
  (void)buffer;
  relevancy->roi_id = 0;
  relevancy->x = relevancy->y = relevancy->w = relevancy->h = 0;
  relevancy->grid_width = relevancy->grid_height = 0;
  relevancy->values = NULL;
  return TRUE;
}

static void relevancy_meta_free(GstMeta *meta, GstBuffer *buffer) {
  GstDeepfakeRelevancyMeta *relevancy = (GstDeepfakeRelevancyMeta *)meta;

  (void)buffer;
  g_free(relevancy->values);
  relevancy->values = NULL;
}

static guint scale_coordinate(guint value, gint out_size, gint in_size) {
  if (in_size <= 0) return value;
  return (guint)(((guint64)value * (guint64)out_size) / (guint64)in_size);
}

static gboolean relevancy_meta_transform(GstBuffer *dest, GstMeta *meta, GstBuffer *buffer,
                                         GQuark type, gpointer data) {
  GstDeepfakeRelevancyMeta *source = (GstDeepfakeRelevancyMeta *)meta;
  guint x = source->x, y = source->y, w = source->w, h = source->h;

  (void)buffer;
  if (GST_META_TRANSFORM_IS_COPY(type)) {
    /* Copied whole or as a region, the frame geometry is the same: keep the box. */
  } else if (GST_VIDEO_META_TRANSFORM_IS_SCALE(type)) {
    const GstVideoMetaTransform *transform = (const GstVideoMetaTransform *)data;
    gint in_width = GST_VIDEO_INFO_WIDTH(transform->in_info);
    gint in_height = GST_VIDEO_INFO_HEIGHT(transform->in_info);
    gint out_width = GST_VIDEO_INFO_WIDTH(transform->out_info);
    gint out_height = GST_VIDEO_INFO_HEIGHT(transform->out_info);

    x = scale_coordinate(x, out_width, in_width);
    y = scale_coordinate(y, out_height, in_height);
    w = scale_coordinate(w, out_width, in_width);
    h = scale_coordinate(h, out_height, in_height);
  } else {
    /* Unknown transforms may move pixels in ways the box cannot follow. */
    return FALSE;
  }
  return gst_buffer_add_deepfake_relevancy_meta(dest, source->roi_id, x, y, w, h,
                                                source->grid_width, source->grid_height,
                                                source->values) != NULL;
}

const GstMetaInfo *gst_deepfake_relevancy_meta_get_info(void) {
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter((GstMetaInfo **)&info)) {
    const GstMetaInfo *registered = gst_meta_get_info(GST_DEEPFAKE_RELEVANCY_META_IMPL_NAME);
    if (registered == NULL)
      registered =
          gst_meta_register(GST_DEEPFAKE_RELEVANCY_META_API_TYPE,
                            GST_DEEPFAKE_RELEVANCY_META_IMPL_NAME, sizeof(GstDeepfakeRelevancyMeta),
                            relevancy_meta_init, relevancy_meta_free, relevancy_meta_transform);
    g_once_init_leave((GstMetaInfo **)&info, (GstMetaInfo *)registered);
  }
  return info;
}

GstDeepfakeRelevancyMeta *gst_buffer_add_deepfake_relevancy_meta(GstBuffer *buffer, gint roi_id,
                                                                 guint x, guint y, guint w, guint h,
                                                                 guint grid_width,
                                                                 guint grid_height,
                                                                 const gfloat *values) {
  GstDeepfakeRelevancyMeta *relevancy;
  gsize count = (gsize)grid_width * (gsize)grid_height;

  g_return_val_if_fail(GST_IS_BUFFER(buffer), NULL);
  g_return_val_if_fail(gst_buffer_is_writable(buffer), NULL);
  if (count == 0 || values == NULL) return NULL;

  relevancy = (GstDeepfakeRelevancyMeta *)gst_buffer_add_meta(
      buffer, GST_DEEPFAKE_RELEVANCY_META_INFO, NULL);
  if (relevancy == NULL) return NULL;
  relevancy->roi_id = roi_id;
  relevancy->x = x;
  relevancy->y = y;
  relevancy->w = w;
  relevancy->h = h;
  relevancy->grid_width = grid_width;
  relevancy->grid_height = grid_height;
  relevancy->values = g_new(gfloat, count);
  memcpy(relevancy->values, values, count * sizeof(gfloat));
  return relevancy;
}
