#include "validation.h"

#include <cmath>
#include <cstdio>
#include <map>

namespace dfd::training {

size_t ValidationSet::count(Kind k) const {
  size_t n = 0;
  for (Kind item : kind) n += item == k ? 1 : 0;
  return n;
}

ValidationSet build_validation_set(const ExampleMaker &maker, const Dataset &data, bool self_blend,
                                   const std::function<void(size_t, size_t)> &progress) {
  ValidationSet set;
  const size_t total = data.val_real.size() * (self_blend ? 2 : 1) + data.val_fake.size();
  const auto add = [&](Example example, ValidationSet::Kind kind, const std::string &folder) {
    set.examples.push_back(std::move(example));
    set.kind.push_back(kind);
    set.folder.push_back(folder);
    if (progress && set.examples.size() % 100 == 0) progress(set.examples.size(), total);
  };
  for (const ImageEntry &e : data.val_real) {
    add(maker.validation(e), ValidationSet::Kind::Real, e.folder);
  }
  for (const ImageEntry &e : data.val_fake) {
    add(maker.validation(e), ValidationSet::Kind::Fake, e.folder);
  }
  if (self_blend) {
    for (const ImageEntry &e : data.val_real) {
      add(maker.validation_self_blend(e), ValidationSet::Kind::SelfBlend, e.folder);
    }
  }
  if (progress) progress(set.examples.size(), total);
  return set;
}

static json::Value figures_json(const Figures &f) {
  json::Value v;
  v["real"] = f.real;
  v["fake"] = f.fake;
  v["loss"] = f.loss;
  v["accuracy"] = f.accuracy;
  v["auc"] = std::isfinite(f.auc) ? json::Value(f.auc) : json::Value();
  return v;
}

json::Value ValidationReport::to_json() const {
  json::Value v;
  if (real_vs_fake.fake > 0) v["real_vs_fake"] = figures_json(real_vs_fake);
  if (real_vs_sbi.fake > 0) v["real_vs_self_blended"] = figures_json(real_vs_sbi);
  v["combined"] = figures_json(combined);
  json::Value folders = json::Value::Object{};
  for (const auto &[folder, f] : per_real_folder) folders[folder] = figures_json(f);
  v["per_real_folder_vs_fake"] = std::move(folders);
  v["monitor_loss"] = monitor_loss;
  v["monitor_auc"] = std::isfinite(monitor_auc) ? json::Value(monitor_auc) : json::Value();
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
  if (real_vs_fake.fake > 0) line("real vs fake", real_vs_fake);
  if (real_vs_sbi.fake > 0) line("real vs self-blended", real_vs_sbi);
  if (per_real_folder.size() > 1 && real_vs_fake.fake > 0) {
    for (const auto &[folder, f] : per_real_folder) line(folder + " vs fake", f);
  }
  char text[160];
  std::snprintf(text, sizeof text, "val[monitor]: loss %.4f auc %.4f", monitor_loss, monitor_auc);
  out.emplace_back(text);
  return out;
}

ValidationReport score_validation(const ValidationSet &set, const std::vector<float> &logits,
                                  double threshold, double sbi_fraction) {
  using Kind = ValidationSet::Kind;
  std::vector<Scored> reals, fakes, blends;
  std::map<std::string, std::vector<Scored>> by_folder;
  for (size_t i = 0; i < set.examples.size(); ++i) {
    const Scored s{logits.at(i), set.kind[i] != Kind::Real};
    if (set.kind[i] == Kind::Real) {
      reals.push_back(s);
      by_folder[set.folder[i]].push_back(s);
    } else {
      (set.kind[i] == Kind::Fake ? fakes : blends).push_back(s);
    }
  }
  const auto join = [](std::vector<Scored> a, const std::vector<Scored> &b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  ValidationReport r;
  r.real_vs_fake = summarise(join(reals, fakes), threshold);
  r.real_vs_sbi = summarise(join(reals, blends), threshold);
  r.combined = summarise(join(join(reals, fakes), blends), threshold);
  for (const auto &[folder, scored] : by_folder) {
    r.per_real_folder.emplace_back(folder, summarise(join(scored, fakes), threshold));
  }
  const auto mean_loss = [](const std::vector<Scored> &items) {
    double sum = 0.0;
    for (const Scored &s : items) sum += bce_with_logit(s.logit, s.fake);
    return items.empty() ? 0.0 : sum / static_cast<double>(items.size());
  };
  double fake_loss = 0.0;
  if (!fakes.empty() && !blends.empty()) {
    fake_loss = (1.0 - sbi_fraction) * mean_loss(fakes) + sbi_fraction * mean_loss(blends);
  } else {
    fake_loss = mean_loss(fakes.empty() ? blends : fakes);
  }
  r.monitor_loss = 0.5 * mean_loss(reals) + 0.5 * fake_loss;
  r.monitor_auc = r.combined.auc;
  return r;
}

}  // namespace dfd::training
