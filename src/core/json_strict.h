// JSON through nlohmann/json (Debian's nlohmann-json3-dev), with what this project asks of it
// on top: a strict parse for files that come from strangers (model headers): duplicate keys
// refused, nesting and string sizes bounded, errors that say where; a compact writer whose
// numbers read well (whole numbers without a fraction, float32 values with their own shortest
// digits); and accessors whose errors name the type that was expected.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace dfd::json {

// Objects keep their keys sorted (std::map), so dumps are reproducible byte for byte.
using Value = nlohmann::json;
using Object = Value::object_t;
using Array = Value::array_t;

enum class Type { Null, Bool, Number, String, Array, Object };
Type type_of(const Value &value);

class ParseError : public std::runtime_error {
 public:
  ParseError(const std::string &what, size_t offset)
      : std::runtime_error(what + " at byte " + std::to_string(offset)), offset_(offset) {}
  size_t offset() const { return offset_; }

 private:
  size_t offset_;
};

struct ParseLimits {
  size_t max_depth = 64;
  size_t max_string_bytes = 16u << 20;
};

// Parses exactly one JSON value surrounded by optional white space (RFC 8259: no comments, no
// trailing commas, valid UTF-8, no unpaired surrogates); throws ParseError. Duplicate object
// keys are rejected: a model header with two entries for one tensor is ambiguous, and silently
// taking either would be a bug. The depth and string limits are checked as the parser goes,
// so a hostile document is refused when it first exceeds them.
Value parse(std::string_view text, const ParseLimits &limits = {});

// Compact serialisation, keys sorted. nlohmann writes strings (escaped; invalid UTF-8 replaced
// by U+FFFD), booleans, null and integers; floating-point numbers are written here: whole ones
// (below 2^53) without a fraction, those exactly a float32 with the shortest digits that read
// back to that float32 ("0.1", not the double expansion of 0.1f), other doubles with the
// shortest digits that read back to them; NaN and infinities as null.
std::string dump(const Value &value);
void dump_to(std::string &out, const Value &value);
// `text` as the body of a JSON string (quotes and control characters escaped).
void append_escaped(std::string &out, std::string_view text);

// Null when `key` is absent or `object` is not an object.
const Value *find(const Value &object, const std::string &key);

// Throw std::runtime_error ("JSON value is a string, expected a number") on a mismatch.
bool as_bool(const Value &value);
double as_number(const Value &value);
const std::string &as_string(const Value &value);
const Array &as_array(const Value &value);
const Object &as_object(const Value &value);
Array &as_array(Value &value);
Object &as_object(Value &value);

}  // namespace dfd::json
