// deepfake-eval's JSON report. Every figure says which model, threshold, split and data it
// comes from, and the exact command that produced it, so a model card can cite it.
//
// Schema "gst-deepfake/eval-report", version 1 (a new version is issued whenever a key
// changes meaning or disappears; adding keys keeps the version). Keys, all always present:
//   schema            "gst-deepfake/eval-report"
//   schema_version    1
//   tool              {name: "deepfake-eval", version: string}
//   command           string: the command line, shell-quoted
//   model             {path, name, architecture ("seed"|"spatial"), image_size, threshold
//                      (the model's own), source, device}
//   threshold         number: the threshold used (fake when probability >= it)
//   split             {name ("train"|"validation"|"all": face images), videos (the same
//                     for video files, or null without them), val_percent, rule}
//   preprocessing     object: how faces became model inputs (crop, margin, where the
//                     settings came from)
//   datasets          [{kind ("folder"|"csv"|"videos"), path, label, files, selected}]
//   skipped           [{path, reason}]: inputs that could not be scored
//   frame             null, or {overall: M, methods: [M], records: [R]}
//   video             null, or {rule, overall: M, methods: [M], videos: [V]}
//   deletion_test     null, or D with space "pixels" (cells hidden in the input)
//   token_deletion_test  null, or D with space "tokens" (tokens removed from the transformer)
//   roc_png           null, or the path of the ROC figure
//   per_source        null, or [M]: each data set's reals against its own fakes (real and
//                     pseudo), named by the data set
//   operating_point   null, or {threshold, reals, false_alarms, false_alarm_rate,
//                     true_positive_rate: {method: rate, "all": rate}, per_source: [{source,
//                     reals, false_alarms, false_alarm_rate}], chosen: null or P,
//                     chosen_every_source: null or P}: the threshold in use on these reals,
//                     and the ones --false-alarm-rate asks for, on all the reals pooled
//                     (chosen) and on each source's reals alone (chosen_every_source); P is
//                     {false_alarm_rate_target, threshold, false_alarm_rate,
//                     true_positive_rate, per_source}
//   localisation      null, or {images, grid: {width, height}, mask_coverage,
//                     rows: [{kind, order, images, mass_inside, top_cell_inside}]}
// M (metrics): {name, real, fake, threshold, accuracy, precision, recall, f1,
//               auc (null when a class is missing), confusion: {tp, fp, tn, fn}};
//   methods: every method's fakes against all the reals, sorted by name.
// R (frame record): {path, label ("real"|"fake"), method, logit, probability}
// V (video): {name, origin ("file"|"frames"), label, method, score (null: no face found),
//   prediction ("fake"|"real"|null), deciding_identity (null: mean of identity means),
//   identities: [{id, frames, mean}], frames_read, frames_analysed, frame_step (0 for
//   grouped frames), faces, error (null or text)}
// D (deletion test): {images, grid: {width, height}, steps, random_orders, space, fill,
//   spatially_grounded, note, relevancy_beats_random,
//   curves: [{order, mean_logit: [steps+1], mean_probability: [steps+1], logit_area,
//             probability_area, mean_logit_drop}],
//   per_image: [{name, logit, logit_area: {order: number}}]}
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/json_strict.h"
#include "deletion_test.h"
#include "eval_dataset.h"
#include "method_table.h"
#include "video_score.h"

namespace dfd::eval {

constexpr const char *kReportSchema = "gst-deepfake/eval-report";
constexpr int kReportSchemaVersion = 1;

struct ModelInfo {
  std::string path, name, architecture, source, device;
  int image_size = 0;
  double threshold = 0.0;  // the model file's own
};

struct FrameResult {
  std::string path;
  bool fake = false;
  std::string method;
  double logit = 0.0;
  double probability = 0.0;
};

struct VideoResult {
  std::string name;
  std::string origin;  // "file" (decoded here) or "frames" (grouped face images)
  bool fake = false;
  std::string method;
  std::optional<VideoScore> score;  // empty when no face was found
  size_t frames_read = 0, frames_analysed = 0, faces = 0;
  int frame_step = 0;  // files only
  std::string error;
};

struct EvalReport {
  std::string command;
  std::string tool_version;
  ModelInfo model;
  double threshold = 0.0;
  std::string split = "validation";
  std::string video_split;  // empty: no video files
  int val_percent = 0;
  json::Value preprocessing;
  std::vector<SourceSummary> datasets;
  std::vector<std::pair<std::string, std::string>> skipped;  // path, reason
  std::vector<FrameResult> frames;
  std::optional<MethodTable> frame_table;
  std::vector<VideoResult> videos;
  std::optional<MethodTable> video_table;
  std::string video_rule;
  std::optional<DeletionResult> deletion;
  std::optional<DeletionResult> token_deletion;
  std::string roc_png;  // empty: none written
  std::optional<std::vector<MethodRow>> per_source;
  json::Value operating_point;  // null when no image was scored
  json::Value localisation;     // null unless asked for
};

json::Value report_to_json(const EvalReport &report);

// The schema above, checked on a parsed report: one message per problem, empty when valid.
std::vector<std::string> check_report_schema(const json::Value &report);

}  // namespace dfd::eval
