// CSV as the seed's tools read and write it: RFC 4180 records, and the seed's sample list
// (columns video_name, label, video_prob, high_low_prob, example_file_name).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dfd {

using CsvRecord = std::vector<std::string>;

// RFC 4180: fields separated by ',', records by CRLF or LF; a quoted field may hold commas,
// line breaks and doubled quotes (""). A UTF-8 byte-order mark and a final line break are
// ignored, and so are blank lines. Throws std::runtime_error for an unterminated quote or
// text after a closing quote.
std::vector<CsvRecord> parse_csv(std::string_view text);

// One record, quoting fields that hold ',', '"', CR or LF, ending with "\n".
std::string format_csv_record(const CsvRecord &fields);

struct SeedSample {
  size_t record = 0;  // 1-based data record number, for messages
  std::string video_name;
  std::string label;       // as written: the seed uses "1" (fake) and "0" (real)
  std::string video_prob;  // kept as text: the sheet shows its first five characters
  std::string high_low_prob;
  std::string example_file_name;
};

// Reads the file and maps columns by the header's names, as the seed's csv.DictReader does;
// extra columns are ignored, video_name, video_prob and high_low_prob may be absent.
// Throws std::runtime_error naming `path` when it cannot be read, a required column
// (label, example_file_name) is missing, or a record has fewer fields than the header.
std::vector<SeedSample> read_seed_samples(const std::string &path);

// Ground truth from a label field: "1" or "fake" -> true (fake), "0" or "real" -> false,
// case-insensitive and ignoring surrounding spaces; anything else -> nullopt.
std::optional<bool> parse_fake_label(std::string_view label);

}  // namespace dfd
