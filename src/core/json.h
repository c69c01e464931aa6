// A small, bounded JSON reader and writer. Model headers come from strangers, so the parser
// limits nesting depth and never allocates more than the input can justify.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dfd::json {

class ParseError : public std::runtime_error {
 public:
  ParseError(const std::string &what, size_t offset)
      : std::runtime_error(what + " at byte " + std::to_string(offset)), offset_(offset) {}
  size_t offset() const { return offset_; }

 private:
  size_t offset_;
};

class Value {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };
  using Array = std::vector<Value>;
  // std::map keeps key order deterministic, so dumps are reproducible byte for byte.
  using Object = std::map<std::string, Value>;

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : type_(Type::Bool), bool_(b) {}
  Value(double d) : type_(Type::Number), number_(d) {}
  Value(int i) : type_(Type::Number), number_(i) {}
  Value(int64_t i) : type_(Type::Number), number_(static_cast<double>(i)) {}
  Value(size_t i) : type_(Type::Number), number_(static_cast<double>(i)) {}
  Value(const char *s) : type_(Type::String), string_(s) {}
  Value(std::string s) : type_(Type::String), string_(std::move(s)) {}
  Value(Array a) : type_(Type::Array), array_(std::move(a)) {}
  Value(Object o) : type_(Type::Object), object_(std::move(o)) {}

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  // Accessors throw std::runtime_error naming the expected type on a mismatch.
  bool as_bool() const;
  double as_number() const;
  const std::string &as_string() const;
  const Array &as_array() const;
  const Object &as_object() const;
  Array &as_array();
  Object &as_object();

  // Object helpers: find returns nullptr when the key is absent (or this is not an object).
  const Value *find(const std::string &key) const;
  Value &operator[](const std::string &key);  // turns a Null into an Object

 private:
  Type type_ = Type::Null;
  bool bool_ = false;
  double number_ = 0.0;
  std::string string_;
  Array array_;
  Object object_;
};

struct ParseLimits {
  size_t max_depth = 64;
  size_t max_string_bytes = 16u << 20;
};

// Parses exactly one JSON value surrounded by optional white space; throws ParseError.
// Duplicate object keys are rejected: a model header with two entries for one tensor is
// ambiguous, and silently taking either would be a bug.
Value parse(std::string_view text, const ParseLimits &limits = {});

// Compact serialisation; numbers that are whole print without a fraction, others with
// enough digits to round-trip a float32 exactly (and a double to 17 digits).
std::string dump(const Value &value);
void dump_to(std::string &out, const Value &value);
void append_escaped(std::string &out, std::string_view text);

}  // namespace dfd::json
