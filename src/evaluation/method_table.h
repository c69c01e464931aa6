// The seed's results table (spec section 6): one row for everything and one per fake method,
// every method scored against the same reals, as the seed's per-method tests were.
#pragma once

#include <string>
#include <vector>

#include "metrics.h"

namespace dfd::eval {

struct MethodScore {
  double score = 0.0;  // fake probability
  bool fake = false;
  std::string method;  // ignored for reals
};

struct MethodRow {
  std::string name;
  BinaryMetrics metrics;
};

struct MethodTable {
  MethodRow overall;               // all reals against all fakes
  std::vector<MethodRow> methods;  // all reals against one method's fakes, sorted by name
};

// `overall_name` labels the first row ("All"), followed by " (N methods)", or by the method's
// name when there is only one.
MethodTable method_table(const std::vector<MethodScore> &scores, double threshold,
                         const std::string &overall_name = "All");

// Markdown in the seed's layout: | Test | Accuracy | F1 | AUC |, accuracy as a percentage with
// two decimals, F1 and AUC with four ("n/a" where a class is missing). With `details`, the
// precision, recall and confusion counts follow in extra columns.
std::string format_table(const MethodTable &table, bool details);

}  // namespace dfd::eval
