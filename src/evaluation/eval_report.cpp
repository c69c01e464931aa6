#include "eval_report.h"

#include <cmath>

namespace dfd::eval {

namespace {

using json::Value;

Value number_or_null(double value) {
  return std::isfinite(value) ? Value(value) : Value();
}

Value metrics_json(const MethodRow &row) {
  const BinaryMetrics &m = row.metrics;
  Value v;
  v["name"] = row.name;
  v["real"] = m.real;
  v["fake"] = m.fake;
  v["threshold"] = m.threshold;
  v["accuracy"] = m.accuracy;
  v["precision"] = m.precision;
  v["recall"] = m.recall;
  v["f1"] = m.f1;
  v["auc"] = number_or_null(m.auc);
  Value confusion;
  confusion["tp"] = m.confusion.tp;
  confusion["fp"] = m.confusion.fp;
  confusion["tn"] = m.confusion.tn;
  confusion["fn"] = m.confusion.fn;
  v["confusion"] = std::move(confusion);
  return v;
}

Value table_fields(const MethodTable &table, Value v) {
  v["overall"] = metrics_json(table.overall);
  json::Array methods;
  for (const MethodRow &row : table.methods) methods.push_back(metrics_json(row));
  v["methods"] = std::move(methods);
  return v;
}

Value frame_json(const EvalReport &r) {
  if (!r.frame_table) return Value();
  Value v = table_fields(*r.frame_table, Value(json::Object{}));
  json::Array records;
  records.reserve(r.frames.size());
  for (const FrameResult &f : r.frames) {
    Value rec;
    rec["path"] = f.path;
    rec["label"] = f.fake ? "fake" : "real";
    rec["method"] = f.method;
    rec["logit"] = f.logit;
    rec["probability"] = f.probability;
    records.push_back(std::move(rec));
  }
  v["records"] = std::move(records);
  return v;
}

Value video_json(const EvalReport &r) {
  if (!r.video_table) return Value();
  Value v = table_fields(*r.video_table, Value(json::Object{}));
  v["rule"] = r.video_rule;
  json::Array videos;
  for (const VideoResult &video : r.videos) {
    Value e;
    e["name"] = video.name;
    e["origin"] = video.origin;
    e["label"] = video.fake ? "fake" : "real";
    e["method"] = video.method;
    e["score"] = video.score ? Value(video.score->score) : Value();
    e["prediction"] = video.score
                          ? Value(predicted_fake(video.score->score, r.threshold) ? "fake" : "real")
                          : Value();
    e["deciding_identity"] =
        video.score && video.score->deciding_identity >= 0
            ? Value(video.score->identities[static_cast<size_t>(video.score->deciding_identity)].id)
            : Value();
    json::Array identities;
    if (video.score) {
      for (const IdentityMean &identity : video.score->identities) {
        Value i;
        i["id"] = identity.id;
        i["frames"] = identity.frames;
        i["mean"] = identity.mean;
        identities.push_back(std::move(i));
      }
    }
    e["identities"] = std::move(identities);
    e["frames_read"] = video.frames_read;
    e["frames_analysed"] = video.frames_analysed;
    e["frame_step"] = video.frame_step;
    e["faces"] = video.faces;
    e["error"] = video.error.empty() ? Value() : Value(video.error);
    videos.push_back(std::move(e));
  }
  v["videos"] = std::move(videos);
  return v;
}

Value deletion_json(const std::optional<DeletionResult> &d) {
  if (!d) return Value();
  Value v;
  v["images"] = d->images.size();
  Value grid;
  grid["width"] = d->grid_width;
  grid["height"] = d->grid_height;
  v["grid"] = std::move(grid);
  v["steps"] = d->steps;
  v["random_orders"] = d->random_orders;
  v["space"] = deletion_space_name(d->space);
  v["fill"] = deletion_fill_name(d->fill);
  v["spatially_grounded"] = d->spatially_grounded;
  v["note"] = d->note;
  v["relevancy_beats_random"] = d->relevancy_beats_random;
  json::Array curves;
  for (const DeletionCurve &c : d->curves) {
    Value e;
    e["order"] = c.order;
    json::Array logits(c.mean_logit.begin(), c.mean_logit.end());
    json::Array probabilities(c.mean_probability.begin(), c.mean_probability.end());
    e["mean_logit"] = std::move(logits);
    e["mean_probability"] = std::move(probabilities);
    e["logit_area"] = c.logit_area;
    e["probability_area"] = c.probability_area;
    e["mean_logit_drop"] = c.mean_logit_drop;
    curves.push_back(std::move(e));
  }
  v["curves"] = std::move(curves);
  json::Array images;
  for (const DeletionImage &image : d->images) {
    Value e;
    e["name"] = image.name;
    e["logit"] = image.logit;
    Value areas(json::Object{});
    for (size_t o = 0; o < image.logit_area.size() && o < d->curves.size(); ++o) {
      areas[d->curves[o].order] = image.logit_area[o];
    }
    e["logit_area"] = std::move(areas);
    images.push_back(std::move(e));
  }
  v["per_image"] = std::move(images);
  return v;
}

// Checks that `object[key]` exists and has one of the allowed types.
class Checker {
 public:
  explicit Checker(std::vector<std::string> &problems) : problems_(problems) {}

  const Value *need(const Value &object, const std::string &where, const std::string &key,
                    std::initializer_list<json::Type> types) {
    const Value *v = json::find(object, key);
    if (!v) {
      problems_.push_back(where + key + ": missing");
      return nullptr;
    }
    for (const json::Type t : types) {
      if (json::type_of(*v) == t) return v;
    }
    problems_.push_back(where + key + ": wrong type");
    return nullptr;
  }

  void metrics(const Value &m, const std::string &where) {
    for (const char *key : {"real", "fake", "threshold", "accuracy", "precision", "recall", "f1"}) {
      need(m, where, key, {json::Type::Number});
    }
    need(m, where, "name", {json::Type::String});
    need(m, where, "auc", {json::Type::Number, json::Type::Null});
    if (const Value *c = need(m, where, "confusion", {json::Type::Object})) {
      for (const char *key : {"tp", "fp", "tn", "fn"}) {
        need(*c, where + "confusion.", key, {json::Type::Number});
      }
    }
  }

  void table(const Value &t, const std::string &where) {
    if (const Value *o = need(t, where, "overall", {json::Type::Object})) {
      metrics(*o, where + "overall.");
    }
    if (const Value *methods = need(t, where, "methods", {json::Type::Array})) {
      for (const Value &m : json::as_array(*methods)) {
        if (!m.is_object()) {
          problems_.push_back(where + "methods[]: not an object");
          continue;
        }
        metrics(m, where + "methods[].");
      }
    }
  }

 private:
  std::vector<std::string> &problems_;
};

}  // namespace

json::Value report_to_json(const EvalReport &r) {
  Value v;
  v["schema"] = kReportSchema;
  v["schema_version"] = kReportSchemaVersion;
  Value tool;
  tool["name"] = "deepfake-eval";
  tool["version"] = r.tool_version;
  v["tool"] = std::move(tool);
  v["command"] = r.command;
  Value model;
  model["path"] = r.model.path;
  model["name"] = r.model.name;
  model["architecture"] = r.model.architecture;
  model["image_size"] = r.model.image_size;
  model["threshold"] = r.model.threshold;
  model["source"] = r.model.source;
  model["device"] = r.model.device;
  v["model"] = std::move(model);
  v["threshold"] = r.threshold;
  Value split;
  split["name"] = r.split;
  split["videos"] = r.video_split.empty() ? Value() : Value(r.video_split);
  split["val_percent"] = r.val_percent;
  split["rule"] =
      "a file is in the validation split when fnv1a(base name) % 100 < val_percent "
      "(deepfake-train's split)";
  v["split"] = std::move(split);
  v["preprocessing"] = r.preprocessing.is_null() ? Value(json::Object{}) : r.preprocessing;
  json::Array datasets;
  for (const SourceSummary &s : r.datasets) {
    Value d;
    d["kind"] = s.kind;
    d["path"] = s.path;
    d["label"] = s.label;
    d["files"] = s.files;
    d["selected"] = s.selected;
    datasets.push_back(std::move(d));
  }
  v["datasets"] = std::move(datasets);
  json::Array skipped;
  for (const auto &[path, reason] : r.skipped) {
    Value s;
    s["path"] = path;
    s["reason"] = reason;
    skipped.push_back(std::move(s));
  }
  v["skipped"] = std::move(skipped);
  v["frame"] = frame_json(r);
  v["video"] = video_json(r);
  v["deletion_test"] = deletion_json(r.deletion);
  v["token_deletion_test"] = deletion_json(r.token_deletion);
  v["roc_png"] = r.roc_png.empty() ? Value() : Value(r.roc_png);
  if (r.per_source) {
    json::Array rows;
    for (const MethodRow &row : *r.per_source) rows.push_back(metrics_json(row));
    v["per_source"] = std::move(rows);
  } else {
    v["per_source"] = Value();
  }
  v["operating_point"] = r.operating_point;
  v["localisation"] = r.localisation;
  return v;
}

std::vector<std::string> check_report_schema(const json::Value &report) {
  std::vector<std::string> problems;
  if (!report.is_object()) return {"the report is not a JSON object"};
  Checker check(problems);
  using T = json::Type;
  if (const Value *s = check.need(report, "", "schema", {T::String});
      s && json::as_string(*s) != kReportSchema) {
    problems.push_back("schema: expected " + std::string(kReportSchema));
  }
  if (const Value *s = check.need(report, "", "schema_version", {T::Number});
      s && json::as_number(*s) != kReportSchemaVersion) {
    problems.push_back("schema_version: expected " + std::to_string(kReportSchemaVersion));
  }
  if (const Value *tool = check.need(report, "", "tool", {T::Object})) {
    check.need(*tool, "tool.", "name", {T::String});
    check.need(*tool, "tool.", "version", {T::String});
  }
  check.need(report, "", "command", {T::String});
  if (const Value *model = check.need(report, "", "model", {T::Object})) {
    for (const char *key : {"path", "name", "architecture", "source", "device"}) {
      check.need(*model, "model.", key, {T::String});
    }
    check.need(*model, "model.", "image_size", {T::Number});
    check.need(*model, "model.", "threshold", {T::Number});
  }
  check.need(report, "", "threshold", {T::Number});
  if (const Value *split = check.need(report, "", "split", {T::Object})) {
    check.need(*split, "split.", "name", {T::String});
    check.need(*split, "split.", "videos", {T::String, T::Null});
    check.need(*split, "split.", "val_percent", {T::Number});
    check.need(*split, "split.", "rule", {T::String});
  }
  check.need(report, "", "preprocessing", {T::Object});
  if (const Value *datasets = check.need(report, "", "datasets", {T::Array})) {
    for (const Value &d : json::as_array(*datasets)) {
      for (const char *key : {"kind", "path", "label"}) {
        check.need(d, "datasets[].", key, {T::String});
      }
      check.need(d, "datasets[].", "files", {T::Number});
      check.need(d, "datasets[].", "selected", {T::Number});
    }
  }
  check.need(report, "", "skipped", {T::Array});
  if (const Value *frame = check.need(report, "", "frame", {T::Object, T::Null});
      frame && frame->is_object()) {
    check.table(*frame, "frame.");
    if (const Value *records = check.need(*frame, "frame.", "records", {T::Array})) {
      for (const Value &r : json::as_array(*records)) {
        for (const char *key : {"path", "label", "method"}) {
          check.need(r, "frame.records[].", key, {T::String});
        }
        check.need(r, "frame.records[].", "logit", {T::Number});
        check.need(r, "frame.records[].", "probability", {T::Number});
      }
    }
  }
  if (const Value *video = check.need(report, "", "video", {T::Object, T::Null});
      video && video->is_object()) {
    check.table(*video, "video.");
    check.need(*video, "video.", "rule", {T::String});
    if (const Value *videos = check.need(*video, "video.", "videos", {T::Array})) {
      for (const Value &e : json::as_array(*videos)) {
        for (const char *key : {"name", "origin", "label", "method"}) {
          check.need(e, "video.videos[].", key, {T::String});
        }
        check.need(e, "video.videos[].", "score", {T::Number, T::Null});
        check.need(e, "video.videos[].", "prediction", {T::String, T::Null});
        check.need(e, "video.videos[].", "deciding_identity", {T::String, T::Null});
        check.need(e, "video.videos[].", "identities", {T::Array});
        check.need(e, "video.videos[].", "error", {T::String, T::Null});
        for (const char *key : {"frames_read", "frames_analysed", "frame_step", "faces"}) {
          check.need(e, "video.videos[].", key, {T::Number});
        }
      }
    }
  }
  for (const std::string name : {"deletion_test", "token_deletion_test"}) {
    const std::string prefix = name + ".";
    const Value *d = check.need(report, "", name.c_str(), {T::Object, T::Null});
    if (!d || !d->is_object()) continue;
    for (const char *key : {"images", "steps", "random_orders", "relevancy_beats_random"}) {
      check.need(*d, prefix, key, {T::Number});
    }
    check.need(*d, prefix, "grid", {T::Object});
    for (const char *key : {"space", "fill", "note"}) check.need(*d, prefix, key, {T::String});
    check.need(*d, prefix, "spatially_grounded", {T::Bool});
    check.need(*d, prefix, "per_image", {T::Array});
    if (const Value *curves = check.need(*d, prefix, "curves", {T::Array})) {
      for (const Value &c : json::as_array(*curves)) {
        const std::string item = prefix + "curves[].";
        check.need(c, item, "order", {T::String});
        check.need(c, item, "mean_logit", {T::Array});
        check.need(c, item, "mean_probability", {T::Array});
        for (const char *key : {"logit_area", "probability_area", "mean_logit_drop"}) {
          check.need(c, item, key, {T::Number});
        }
      }
    }
  }
  check.need(report, "", "roc_png", {T::String, T::Null});
  check.need(report, "", "per_source", {T::Array, T::Null});
  if (const Value *op = check.need(report, "", "operating_point", {T::Object, T::Null});
      op && op->is_object()) {
    for (const char *key : {"threshold", "reals", "false_alarms", "false_alarm_rate"}) {
      check.need(*op, "operating_point.", key, {T::Number});
    }
    check.need(*op, "operating_point.", "true_positive_rate", {T::Object});
    check.need(*op, "operating_point.", "per_source", {T::Array});
    check.need(*op, "operating_point.", "chosen", {T::Object, T::Null});
    check.need(*op, "operating_point.", "chosen_every_source", {T::Object, T::Null});
  }
  if (const Value *loc = check.need(report, "", "localisation", {T::Object, T::Null});
      loc && loc->is_object()) {
    check.need(*loc, "localisation.", "images", {T::Number});
    check.need(*loc, "localisation.", "grid", {T::Object});
    check.need(*loc, "localisation.", "mask_coverage", {T::Number});
    check.need(*loc, "localisation.", "rows", {T::Array});
  }
  return problems;
}

}  // namespace dfd::eval
