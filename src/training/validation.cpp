#include "validation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace dfd::training {

namespace {

using Kind = ValidationSet::Kind;

Kind kind_of(FakeKind k) {
  switch (k) {
    case FakeKind::SelfBlend:
      return Kind::SelfBlend;
    case FakeKind::CrossSwap:
      return Kind::CrossSwap;
    case FakeKind::LowResSwap:
      return Kind::LowResSwap;
    case FakeKind::Paired:
      break;
  }
  return Kind::Fake;
}

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

json::Value figures_json(const Figures &f) {
  json::Value v;
  v["real"] = f.real;
  v["fake"] = f.fake;
  v["loss"] = f.loss;
  v["accuracy"] = f.accuracy;
  v["auc"] = std::isfinite(f.auc) ? json::Value(f.auc) : json::Value();
  return v;
}

double mean_loss(const std::vector<Scored> &items) {
  double sum = 0.0;
  for (const Scored &s : items) sum += bce_with_logit(s.logit, s.fake);
  return items.empty() ? 0.0 : sum / static_cast<double>(items.size());
}

std::vector<Scored> join(std::vector<Scored> a, const std::vector<Scored> &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

size_t ValidationSet::count(Kind k) const {
  return static_cast<size_t>(std::count(kind.begin(), kind.end(), k));
}

const char *validation_kind_name(Kind kind) {
  switch (kind) {
    case Kind::Real:
      return "real";
    case Kind::Fake:
      return "fake";
    case Kind::SelfBlend:
      return "self-blended";
    case Kind::CrossSwap:
      return "cross-identity swap";
    case Kind::LowResSwap:
      return "low-resolution swap";
  }
  return "unknown";
}

ValidationSet build_validation_set(const ExampleMaker &maker, const Dataset &data,
                                   const std::vector<FakeKind> &pseudo_fakes, int per_kind,
                                   const std::function<void(size_t, size_t)> &progress) {
  ValidationSet set;
  // Every k-th real in file order: all sources keep their share, and the choice depends on the
  // split alone.
  std::vector<const ImageEntry *> bases;
  const size_t reals = data.val_real.size();
  const size_t wanted = per_kind > 0 ? std::min(reals, static_cast<size_t>(per_kind)) : reals;
  for (size_t i = 0; i < wanted; ++i) bases.push_back(&data.val_real[i * reals / wanted]);
  const size_t total = reals + bases.size() * pseudo_fakes.size() + data.val_fake.size();
  const auto add = [&](Example example, Kind kind, const std::string &folder) {
    set.examples.push_back(std::move(example));
    set.kind.push_back(kind);
    set.source.push_back(source_name(folder));
    if (progress && set.examples.size() % 100 == 0) progress(set.examples.size(), total);
  };
  for (const ImageEntry &e : data.val_real) add(maker.validation(e), Kind::Real, e.folder);
  for (const ImageEntry &e : data.val_fake) add(maker.validation(e), Kind::Fake, e.folder);
  for (const FakeKind k : pseudo_fakes) {
    for (const ImageEntry *e : bases)
      add(maker.validation_pseudo_fake(*e, k), kind_of(k), e->folder);
  }
  if (progress) progress(set.examples.size(), total);
  return set;
}

namespace {

// Just above the (allowed + 1)-th highest real, so exactly `allowed` reals (ties permitting)
// stay at or above it.
double threshold_for(const std::vector<float> &real_logits, double false_alarm_rate) {
  std::vector<double> reals;
  for (const float l : real_logits) reals.push_back(sigmoid(l));
  std::sort(reals.begin(), reals.end(), std::greater<double>());
  const size_t allowed =
      static_cast<size_t>(std::floor(false_alarm_rate * static_cast<double>(reals.size())));
  if (reals.empty()) return 0.5;
  if (allowed >= reals.size()) return reals.back();
  return std::min(std::nextafter(reals[allowed], 2.0), 1.0);
}

size_t alarms_at(const std::vector<float> &logits, double threshold) {
  size_t n = 0;
  for (const float l : logits) n += sigmoid(l) >= threshold ? 1 : 0;
  return n;
}

}  // namespace

const char *calibration_scope_name(CalibrationScope scope) {
  return scope == CalibrationScope::EverySource ? "every-source" : "pooled";
}

OperatingPoint measure_operating_point(double threshold, const NamedLogits &reals_by_source,
                                       const NamedLogits &fakes) {
  OperatingPoint op;
  op.threshold = threshold;
  size_t alarms = 0;
  for (const auto &[source, logits] : reals_by_source) {
    SourceAlarms s{source, logits.size(), alarms_at(logits, threshold)};
    op.reals += s.reals;
    alarms += s.alarms;
    op.per_source.push_back(std::move(s));
  }
  op.false_alarm_rate = op.reals ? static_cast<double>(alarms) / op.reals : 0.0;
  size_t caught_all = 0, count_all = 0;
  for (const auto &[name, logits] : fakes) {
    const size_t caught = alarms_at(logits, threshold);
    caught_all += caught;
    count_all += logits.size();
    op.true_positive_rate.emplace_back(
        name, logits.empty() ? 0.0 : static_cast<double>(caught) / logits.size());
  }
  op.true_positive_rate.emplace_back(
      "all", count_all == 0 ? 0.0 : static_cast<double>(caught_all) / count_all);
  return op;
}

OperatingPoint choose_operating_point(const NamedLogits &reals_by_source, const NamedLogits &fakes,
                                      double false_alarm_rate, CalibrationScope scope) {
  double threshold = 0.5;
  if (scope == CalibrationScope::EverySource) {
    bool any = false;
    for (const auto &[source, logits] : reals_by_source) {
      if (logits.empty()) continue;
      const double t = threshold_for(logits, false_alarm_rate);
      threshold = any ? std::max(threshold, t) : t;
      any = true;
    }
  } else {
    std::vector<float> pooled;
    for (const auto &[source, logits] : reals_by_source) {
      pooled.insert(pooled.end(), logits.begin(), logits.end());
    }
    threshold = threshold_for(pooled, false_alarm_rate);
  }
  OperatingPoint op = measure_operating_point(threshold, reals_by_source, fakes);
  op.false_alarm_rate_target = false_alarm_rate;
  op.scope = scope;
  return op;
}

OperatingPoint choose_operating_point(const std::vector<float> &real_logits,
                                      const NamedLogits &fakes, double false_alarm_rate) {
  OperatingPoint op = choose_operating_point({{"all", real_logits}}, fakes, false_alarm_rate,
                                             CalibrationScope::Pooled);
  op.per_source.clear();  // one unnamed pool
  return op;
}

json::Value ValidationReport::to_json() const {
  json::Value v;
  json::Value sources = json::Object{};
  for (const auto &[name, f] : per_source) sources[name] = figures_json(f);
  v["per_source_real_vs_fake"] = std::move(sources);
  json::Value pseudo = json::Object{};
  for (const auto &[name, f] : per_pseudo_fake) pseudo[name] = figures_json(f);
  v["real_vs_pseudo_fake"] = std::move(pseudo);
  v["combined"] = figures_json(combined);
  v["monitor_loss"] = monitor_loss;
  v["monitor_auc"] = std::isfinite(monitor_auc) ? json::Value(monitor_auc) : json::Value();
  v["monitor_auc_mean"] =
      std::isfinite(monitor_auc_mean) ? json::Value(monitor_auc_mean) : json::Value();
  if (has_operating_point) {
    const OperatingPoint &op = operating_point;
    json::Value o;
    o["false_alarm_rate_target"] = op.false_alarm_rate_target;
    o["scope"] = calibration_scope_name(op.scope);
    o["threshold"] = op.threshold;
    o["false_alarm_rate"] = op.false_alarm_rate;
    o["reals"] = op.reals;
    json::Value tpr = json::Object{};
    for (const auto &[name, rate] : op.true_positive_rate) tpr[name] = rate;
    o["true_positive_rate"] = std::move(tpr);
    json::Value sources = json::Object{};
    for (const SourceAlarms &a : op.per_source) {
      json::Value item;
      item["reals"] = a.reals;
      item["false_alarms"] = a.alarms;
      item["false_alarm_rate"] = a.rate();
      sources[a.source] = std::move(item);
    }
    o["per_source"] = std::move(sources);
    v["operating_point"] = std::move(o);
  }
  return v;
}

std::vector<std::string> ValidationReport::lines(double threshold) const {
  std::vector<std::string> out;
  const auto line = [&](const std::string &name, const Figures &f) {
    char text[256];
    std::snprintf(text, sizeof text,
                  "val[%s]: auc %.4f acc@%.2f %.4f loss %.4f (%zu real, %zu fake)", name.c_str(),
                  f.auc, threshold, f.accuracy, f.loss, f.real, f.fake);
    out.emplace_back(text);
  };
  for (const auto &[name, f] : per_source) line(name + " real vs fake", f);
  for (const auto &[name, f] : per_pseudo_fake) line("real vs " + name, f);
  line("all", combined);
  char text[256];
  std::snprintf(text, sizeof text, "val[monitor]: loss %.4f auc %.4f mean of set aucs %.4f",
                monitor_loss, monitor_auc, monitor_auc_mean);
  out.emplace_back(text);
  if (has_operating_point) {
    const OperatingPoint &op = operating_point;
    std::string tpr;
    for (const auto &[name, rate] : op.true_positive_rate) {
      char item[128];
      std::snprintf(item, sizeof item, "%s%s %.3f", tpr.empty() ? "" : ", ", name.c_str(), rate);
      tpr += item;
    }
    std::string sources;
    for (const SourceAlarms &a : op.per_source) {
      char item[160];
      std::snprintf(item, sizeof item, ", %s %zu/%zu", a.source.c_str(), a.alarms, a.reals);
      sources += item;
    }
    std::snprintf(text, sizeof text,
                  "val[operating point]: threshold %.4f for %.2f%% false alarms on %s %zu reals "
                  "(measured %.2f%%",
                  op.threshold, 100.0 * op.false_alarm_rate_target,
                  op.scope == CalibrationScope::EverySource ? "each source of" : "all", op.reals,
                  100.0 * op.false_alarm_rate);
    out.emplace_back(text + sources + "); caught: " + tpr);
  }
  return out;
}

ValidationReport score_validation(const ValidationSet &set, const std::vector<float> &logits,
                                  double threshold, const DataConfig &data, double false_alarm_rate,
                                  CalibrationScope scope) {
  std::vector<Scored> reals;
  std::map<std::string, std::vector<Scored>> reals_by_source, fakes_by_source;
  std::map<Kind, std::vector<Scored>> by_kind;
  for (size_t i = 0; i < set.examples.size(); ++i) {
    const Scored s{logits.at(i), set.kind[i] != Kind::Real};
    if (set.kind[i] == Kind::Real) {
      reals.push_back(s);
      reals_by_source[set.source[i]].push_back(s);
    } else {
      by_kind[set.kind[i]].push_back(s);
      if (set.kind[i] == Kind::Fake) fakes_by_source[set.source[i]].push_back(s);
    }
  }
  ValidationReport r;
  for (const auto &[source, fakes] : fakes_by_source) {
    const auto it = reals_by_source.find(source);
    const std::vector<Scored> source_reals =
        it == reals_by_source.end() ? std::vector<Scored>() : it->second;
    r.per_source.emplace_back(source, summarise(join(source_reals, fakes), threshold));
  }
  std::vector<Scored> all = reals;
  for (const auto &[kind, items] : by_kind) {
    all = join(std::move(all), items);
    if (kind != Kind::Fake) {
      r.per_pseudo_fake.emplace_back(validation_kind_name(kind),
                                     summarise(join(reals, items), threshold));
    }
  }
  r.combined = summarise(all, threshold);

  const std::array<double, kFakeKindCount> weights = fake_kind_weights(data);
  double fake_loss = 0.0, weight_sum = 0.0;
  for (int k = 0; k < kFakeKindCount; ++k) {
    const Kind kind = kind_of(static_cast<FakeKind>(k));
    const auto it = by_kind.find(kind);
    if (it == by_kind.end() || it->second.empty()) continue;
    fake_loss += weights[static_cast<size_t>(k)] * mean_loss(it->second);
    weight_sum += weights[static_cast<size_t>(k)];
  }
  if (weight_sum > 0.0) {
    fake_loss /= weight_sum;
  } else {
    // No fake kind that training uses was validated: every fake counts alike.
    std::vector<Scored> fakes(all.begin() + static_cast<std::ptrdiff_t>(reals.size()), all.end());
    fake_loss = mean_loss(fakes);
  }
  r.monitor_loss = 0.5 * mean_loss(reals) + 0.5 * fake_loss;
  r.monitor_auc = r.combined.auc;
  double auc_sum = 0.0;
  int auc_count = 0;
  for (const auto *rows : {&r.per_source, &r.per_pseudo_fake}) {
    for (const auto &[name, f] : *rows) {
      if (!std::isfinite(f.auc)) continue;
      auc_sum += f.auc;
      ++auc_count;
    }
  }
  r.monitor_auc_mean = auc_count > 0 ? auc_sum / auc_count : r.combined.auc;

  if (false_alarm_rate > 0.0 && !reals.empty()) {
    NamedLogits real_sets;
    for (const auto &[source, items] : reals_by_source) {
      std::vector<float> l;
      for (const Scored &s : items) l.push_back(s.logit);
      real_sets.emplace_back(source, std::move(l));
    }
    NamedLogits fake_sets;
    for (const auto &[source, fakes] : fakes_by_source) {
      std::vector<float> l;
      for (const Scored &s : fakes) l.push_back(s.logit);
      fake_sets.emplace_back(source + " fake", std::move(l));
    }
    for (const auto &[kind, items] : by_kind) {
      if (kind == Kind::Fake) continue;
      std::vector<float> l;
      for (const Scored &s : items) l.push_back(s.logit);
      fake_sets.emplace_back(validation_kind_name(kind), std::move(l));
    }
    r.operating_point = choose_operating_point(real_sets, fake_sets, false_alarm_rate, scope);
    r.has_operating_point = true;
  }
  return r;
}

}  // namespace dfd::training
