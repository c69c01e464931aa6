// The metadata deepfakedetect puts on a frame, one face at a time: a GstVideoRegionOfInterestMeta
// with DL Streamer's param structures (or, with inference-region=roi-list, those params added
// to the regions upstream found), and the relevancy, both as a meta linked to the ROI by its id
// and as a param on the ROI (readable where custom metas are not, as from Python).
#pragma once

#include <gst/gst.h>

#include <string>
#include <vector>

#include "analysis/face_analyzer.h"

namespace dfd::gst {

// `buffer` must be writable; `width` x `height` is the frame the boxes refer to. The ROI ids
// continue after any ROI metas upstream attached. With `explain`, faces that have a relevancy
// grid also get a GstDeepfakeRelevancyMeta and a `relevancy` param.
void attach_face_metadata(GstBuffer *buffer, int width, int height,
                          const std::vector<FaceReport> &faces, const std::string &model_name,
                          bool explain);

// A region of interest found upstream, told apart well enough to find it again on the frame's
// writable copy: ids are not unique on every buffer (an application may leave them all 0).
struct RoiKey {
  gint id = 0;
  guint x = 0, y = 0, w = 0, h = 0;
  GQuark type = 0;
};

// The region-of-interest metas whose roi_type is one of `classes` (all when empty), in meta
// order, as the analysis takes them: box, the `detection` param's confidence, the `object_id`
// param's id (upstream tracking; 0 when absent) and, as roi_id, the index of its key in `keys`.
std::vector<GivenRegion> given_regions(GstBuffer *buffer, const std::vector<std::string> &classes,
                                       std::vector<RoiKey> *keys);

// inference-region=roi-list: adds to each face's own region (face.face.roi_id indexes `keys`)
// the deepfake param, replacing one an earlier classifier put there, an object_id param when
// the region has none, and with `explain` the relevancy meta and param (replacing earlier ones
// for the same region). `buffer` must be writable.
void attach_to_given_rois(GstBuffer *buffer, int width, int height,
                          const std::vector<FaceReport> &faces, const std::vector<RoiKey> &keys,
                          const std::string &model_name, bool explain);

// object-class: "face, person" -> {"face", "person"}; empty entries dropped.
std::vector<std::string> split_classes(const std::string &text);

// "fake", "real", or "unknown" for a face without a score yet.
const char *label_name(const FaceReport &face);
const char *verdict_name(const FaceReport &face);

}  // namespace dfd::gst
