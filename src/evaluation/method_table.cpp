#include "method_table.h"

#include <cmath>
#include <cstdio>
#include <map>

namespace dfd::eval {

namespace {

std::string fixed(double value, int decimals) {
  if (std::isnan(value)) return "n/a";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

}  // namespace

MethodTable method_table(const std::vector<MethodScore> &scores, double threshold,
                         const std::string &overall_name) {
  std::vector<LabelledScore> reals, all;
  std::map<std::string, std::vector<LabelledScore>> fakes;  // sorted by method name
  for (const MethodScore &s : scores) {
    all.push_back({s.score, s.fake});
    if (s.fake) {
      fakes[s.method].push_back({s.score, true});
    } else {
      reals.push_back({s.score, false});
    }
  }
  MethodTable table;
  table.overall.name = overall_name;
  if (fakes.size() > 1) table.overall.name += " (" + std::to_string(fakes.size()) + " methods)";
  if (fakes.size() == 1) table.overall.name += " (" + fakes.begin()->first + ")";
  table.overall.metrics = compute_metrics(all, threshold);
  for (auto &[method, method_fakes] : fakes) {
    std::vector<LabelledScore> subset = reals;
    subset.insert(subset.end(), method_fakes.begin(), method_fakes.end());
    table.methods.push_back({method, compute_metrics(subset, threshold)});
  }
  return table;
}

std::string format_table(const MethodTable &table, bool details) {
  std::string out = "| Test | Accuracy | F1 | AUC |";
  if (details) out += " Precision | Recall | Real | Fake | TP | FP | TN | FN |";
  out += "\n|---|---|---|---|";
  if (details) out += "---|---|---|---|---|---|---|---|";
  out += "\n";
  const auto row = [&](const MethodRow &r) {
    const BinaryMetrics &m = r.metrics;
    out += "| " + r.name + " | " + fixed(100.0 * m.accuracy, 2) + "% | " + fixed(m.f1, 4) + " | " +
           fixed(m.auc, 4) + " |";
    if (details) {
      out += " " + fixed(m.precision, 4) + " | " + fixed(m.recall, 4) + " | " +
             std::to_string(m.real) + " | " + std::to_string(m.fake) + " | " +
             std::to_string(m.confusion.tp) + " | " + std::to_string(m.confusion.fp) + " | " +
             std::to_string(m.confusion.tn) + " | " + std::to_string(m.confusion.fn) + " |";
    }
    out += "\n";
  };
  row(table.overall);
  // A single method's row would repeat the overall one.
  if (table.methods.size() > 1) {
    for (const MethodRow &r : table.methods) row(r);
  }
  return out;
}

}  // namespace dfd::eval
