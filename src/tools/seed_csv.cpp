#include "seed_csv.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace dfd {

std::vector<CsvRecord> parse_csv(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<CsvRecord> records;
  CsvRecord record;
  std::string field;
  bool field_quoted = false;  // a quote may open a field only before any of its text
  size_t line = 1;
  auto end_field = [&] {
    record.push_back(std::move(field));
    field.clear();
    field_quoted = false;
  };
  auto end_record = [&] {
    // A lone empty unquoted field is a blank line, not a record.
    const bool blank = record.empty() && field.empty() && !field_quoted;
    end_field();
    if (!blank) records.push_back(std::move(record));
    record.clear();
  };
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"' && field.empty() && !field_quoted) {
      field_quoted = true;
      const size_t start_line = line;
      for (++i;; ++i) {
        if (i >= text.size()) {
          throw std::runtime_error("CSV: unterminated quoted field starting on line " +
                                   std::to_string(start_line));
        }
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field += '"';
            ++i;
            continue;
          }
          ++i;
          break;
        }
        if (text[i] == '\n') ++line;
        field += text[i];
      }
    } else if (c == ',') {
      end_field();
      ++i;
    } else if (c == '\r' || c == '\n') {
      end_record();
      i += (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ? 2 : 1;
      ++line;
    } else if (field_quoted) {
      throw std::runtime_error("CSV: text after a closing quote on line " + std::to_string(line));
    } else {
      field += c;
      ++i;
    }
  }
  if (!record.empty() || !field.empty() || field_quoted) end_record();
  return records;
}

std::string format_csv_record(const CsvRecord &fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    const std::string &f = fields[i];
    if (f.find_first_of(",\"\r\n") == std::string::npos) {
      out += f;
      continue;
    }
    out += '"';
    for (char c : f) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  out += '\n';
  return out;
}

std::vector<SeedSample> read_seed_samples(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) throw std::runtime_error(path + ": read error");

  std::vector<CsvRecord> records;
  try {
    records = parse_csv(contents.str());
  } catch (const std::runtime_error &e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  if (records.empty()) throw std::runtime_error(path + ": empty file (no header)");

  std::map<std::string, size_t> column;
  for (size_t c = 0; c < records[0].size(); ++c) column.emplace(records[0][c], c);
  for (const char *required : {"label", "example_file_name"}) {
    if (column.count(required) == 0) {
      throw std::runtime_error(path + ": no '" + required + "' column in the header");
    }
  }
  const size_t needed = records[0].size();
  auto get = [&](const CsvRecord &r, const char *name) -> std::string {
    const auto it = column.find(name);
    return it == column.end() ? std::string() : r[it->second];
  };

  std::vector<SeedSample> samples;
  for (size_t r = 1; r < records.size(); ++r) {
    if (records[r].size() < needed) {
      throw std::runtime_error(path + ": record " + std::to_string(r) + " has " +
                               std::to_string(records[r].size()) + " fields, the header " +
                               std::to_string(needed));
    }
    SeedSample s;
    s.record = r;
    s.video_name = get(records[r], "video_name");
    s.label = get(records[r], "label");
    s.video_prob = get(records[r], "video_prob");
    s.high_low_prob = get(records[r], "high_low_prob");
    s.example_file_name = get(records[r], "example_file_name");
    samples.push_back(std::move(s));
  }
  return samples;
}

std::optional<bool> parse_fake_label(std::string_view label) {
  while (!label.empty() && std::isspace(static_cast<unsigned char>(label.front()))) {
    label.remove_prefix(1);
  }
  while (!label.empty() && std::isspace(static_cast<unsigned char>(label.back()))) {
    label.remove_suffix(1);
  }
  std::string lower(label);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "1" || lower == "fake") return true;
  if (lower == "0" || lower == "real") return false;
  return std::nullopt;
}

}  // namespace dfd
