#include "json.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>

namespace dfd::json {

namespace {

const char *type_name(Value::Type type) {
  switch (type) {
    case Value::Type::Null:
      return "null";
    case Value::Type::Bool:
      return "a boolean";
    case Value::Type::Number:
      return "a number";
    case Value::Type::String:
      return "a string";
    case Value::Type::Array:
      return "an array";
    case Value::Type::Object:
      return "an object";
  }
  return "an unknown type";
}

[[noreturn]] void type_mismatch(Value::Type expected, Value::Type got) {
  throw std::runtime_error(std::string("JSON value is ") + type_name(got) + ", expected " +
                           type_name(expected));
}

// 2^53: above it not every integer is representable as a double, so "whole" stops meaning
// "exact".
constexpr double kMaxExactInteger = 9007199254740992.0;

class Parser {
 public:
  Parser(std::string_view text, const ParseLimits &limits) : text_(text), limits_(limits) {}

  Value parse_document() {
    skip_whitespace();
    Value value = parse_value(0);
    skip_whitespace();
    if (pos_ != text_.size()) fail("unexpected data after the JSON value");
    return value;
  }

 private:
  [[noreturn]] void fail(const std::string &what) const { throw ParseError(what, pos_); }
  [[noreturn]] void fail_at(const std::string &what, size_t offset) const {
    throw ParseError(what, offset);
  }

  bool at_end() const { return pos_ >= text_.size(); }
  unsigned char peek() const { return static_cast<unsigned char>(text_[pos_]); }

  void skip_whitespace() {
    // RFC 8259 white space is exactly these four; form feeds or NULs are errors.
    while (!at_end()) {
      const unsigned char c = peek();
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  void expect_literal(std::string_view literal) {
    if (text_.compare(pos_, literal.size(), literal) != 0) fail("invalid literal");
    pos_ += literal.size();
  }

  Value parse_value(size_t depth) {
    if (at_end()) fail("unexpected end of input");
    switch (peek()) {
      case '{':
        return parse_object(depth + 1);
      case '[':
        return parse_array(depth + 1);
      case '"':
        return Value(parse_string());
      case 't':
        expect_literal("true");
        return Value(true);
      case 'f':
        expect_literal("false");
        return Value(false);
      case 'n':
        expect_literal("null");
        return Value();
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return Value(parse_number());
        fail("unexpected character");
    }
  }

  void check_depth(size_t depth) const {
    if (depth > limits_.max_depth) {
      fail("nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    }
  }

  Value parse_object(size_t depth) {
    check_depth(depth);
    ++pos_;  // '{'
    Value::Object object;
    skip_whitespace();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return Value(std::move(object));
    }
    for (;;) {
      skip_whitespace();
      if (at_end() || peek() != '"') fail("expected a string key");
      const size_t key_offset = pos_;
      std::string key = parse_string();
      skip_whitespace();
      if (at_end() || peek() != ':') fail("expected ':'");
      ++pos_;
      skip_whitespace();
      Value value = parse_value(depth);
      if (!object.emplace(key, std::move(value)).second) {
        std::string message = "duplicate key \"";
        append_escaped(message, key);
        fail_at(message + "\"", key_offset);
      }
      skip_whitespace();
      if (at_end()) fail("unexpected end of input in an object");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return Value(std::move(object));
      }
      fail("expected ',' or '}'");
    }
  }

  Value parse_array(size_t depth) {
    check_depth(depth);
    ++pos_;  // '['
    Value::Array array;
    skip_whitespace();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return Value(std::move(array));
    }
    for (;;) {
      skip_whitespace();
      array.push_back(parse_value(depth));
      skip_whitespace();
      if (at_end()) fail("unexpected end of input in an array");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return Value(std::move(array));
      }
      fail("expected ',' or ']'");
    }
  }

  unsigned parse_hex4() {
    if (text_.size() - pos_ < 4) fail("truncated \\u escape");
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      const unsigned char c = peek();
      unsigned digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        fail("invalid hex digit in \\u escape");
      }
      code = code * 16 + digit;
      ++pos_;
    }
    return code;
  }

  static void append_utf8(std::string &out, unsigned code) {
    if (code < 0x80) {
      out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (code >> 6)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (code >> 12)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (code >> 18)));
      out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  void parse_escape(std::string &out) {
    const size_t escape_offset = pos_;
    ++pos_;  // '\\'
    if (at_end()) fail("unterminated string");
    const unsigned char c = peek();
    ++pos_;
    switch (c) {
      case '"':
        out.push_back('"');
        return;
      case '\\':
        out.push_back('\\');
        return;
      case '/':
        out.push_back('/');
        return;
      case 'b':
        out.push_back('\b');
        return;
      case 'f':
        out.push_back('\f');
        return;
      case 'n':
        out.push_back('\n');
        return;
      case 'r':
        out.push_back('\r');
        return;
      case 't':
        out.push_back('\t');
        return;
      case 'u':
        break;
      default:
        fail_at("invalid escape sequence", escape_offset);
    }
    unsigned code = parse_hex4();
    if (code >= 0xDC00 && code <= 0xDFFF) fail_at("unpaired low surrogate", escape_offset);
    if (code >= 0xD800 && code <= 0xDBFF) {
      // A lone surrogate has no UTF-8 encoding; accepting it would yield invalid UTF-8.
      if (text_.compare(pos_, 2, "\\u") != 0) fail_at("unpaired high surrogate", escape_offset);
      pos_ += 2;
      const unsigned low = parse_hex4();
      if (low < 0xDC00 || low > 0xDFFF) fail_at("unpaired high surrogate", escape_offset);
      code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(out, code);
  }

  // Copies one raw UTF-8 sequence, rejecting overlong forms, surrogates and code points past
  // U+10FFFF: the spec requires UTF-8, and names from a file end up in messages and logs.
  void copy_utf8(std::string &out) {
    const unsigned char lead = peek();
    size_t length;
    unsigned code;
    unsigned min_code;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      code = lead & 0x1F;
      min_code = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      code = lead & 0x0F;
      min_code = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      code = lead & 0x07;
      min_code = 0x10000;
    } else {
      fail("invalid UTF-8");
    }
    if (text_.size() - pos_ < length) fail("invalid UTF-8");
    for (size_t i = 1; i < length; ++i) {
      const unsigned char c = static_cast<unsigned char>(text_[pos_ + i]);
      if ((c & 0xC0) != 0x80) fail("invalid UTF-8");
      code = (code << 6) | (c & 0x3F);
    }
    if (code < min_code || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      fail("invalid UTF-8");
    }
    out.append(text_.substr(pos_, length));
    pos_ += length;
  }

  std::string parse_string() {
    const size_t start = pos_;
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (at_end()) fail_at("unterminated string", start);
      if (out.size() > limits_.max_string_bytes) {
        fail_at("string longer than " + std::to_string(limits_.max_string_bytes) + " bytes", start);
      }
      const unsigned char c = peek();
      if (c == '"') {
        ++pos_;
        break;
      }
      if (c == '\\') {
        parse_escape(out);
      } else if (c < 0x20) {
        fail("unescaped control character in a string");
      } else if (c < 0x80) {
        out.push_back(static_cast<char>(c));
        ++pos_;
      } else {
        copy_utf8(out);
      }
    }
    if (out.size() > limits_.max_string_bytes) {
      fail_at("string longer than " + std::to_string(limits_.max_string_bytes) + " bytes", start);
    }
    return out;
  }

  bool digit_at(size_t i) const { return i < text_.size() && text_[i] >= '0' && text_[i] <= '9'; }

  double parse_number() {
    const size_t start = pos_;
    size_t i = pos_;
    if (text_[i] == '-') ++i;
    if (!digit_at(i)) fail_at("invalid number", start);
    // Leading zeros are not JSON ("01"); a zero is a whole integer part on its own.
    if (text_[i] == '0') {
      ++i;
      if (digit_at(i)) fail_at("invalid number (leading zero)", start);
    } else {
      while (digit_at(i)) ++i;
    }
    if (i < text_.size() && text_[i] == '.') {
      ++i;
      if (!digit_at(i)) fail_at("invalid number (no digits after '.')", start);
      while (digit_at(i)) ++i;
    }
    if (i < text_.size() && (text_[i] == 'e' || text_[i] == 'E')) {
      ++i;
      if (i < text_.size() && (text_[i] == '+' || text_[i] == '-')) ++i;
      if (!digit_at(i)) fail_at("invalid number (no digits in the exponent)", start);
      while (digit_at(i)) ++i;
    }
    // from_chars, unlike strtod, ignores the C locale, so a host program that sets a locale
    // with a decimal comma still reads "0.5" correctly.
    double value = 0.0;
    const char *first = text_.data() + start;
    const char *last = text_.data() + i;
    const auto result = std::from_chars(first, last, value);
    if (result.ec == std::errc::result_out_of_range) {
      if (magnitude_exponent(start, i) > 0) fail_at("number out of range", start);
      // Underflow: the nearest double is zero, which is what every JSON reader produces.
      value = text_[start] == '-' ? -0.0 : 0.0;
    } else if (result.ec != std::errc() || result.ptr != last) {
      fail_at("invalid number", start);
    }
    pos_ = i;
    return value;
  }

  // Approximate decimal exponent of a validated number's first non-zero digit; only its sign
  // matters (positive: too large for a double, otherwise too small).
  long magnitude_exponent(size_t begin, size_t end) const {
    size_t i = begin;
    if (text_[i] == '-') ++i;
    long integer_digits = 0;
    long leading_zeros = 0;
    bool significant = false;
    for (; i < end && text_[i] >= '0' && text_[i] <= '9'; ++i) {
      if (text_[i] != '0') significant = true;
      if (significant) ++integer_digits;
    }
    if (i < end && text_[i] == '.') {
      for (++i; i < end && text_[i] >= '0' && text_[i] <= '9'; ++i) {
        if (text_[i] != '0') significant = true;
        if (!significant) ++leading_zeros;
      }
    }
    if (!significant) return 0;
    long exponent = 0;
    if (i < end && (text_[i] == 'e' || text_[i] == 'E')) {
      ++i;
      bool negative = false;
      if (text_[i] == '+' || text_[i] == '-') negative = text_[i++] == '-';
      for (; i < end; ++i) {
        // Saturate: exponents with thousands of digits must not overflow a long.
        if (exponent < 100000000) exponent = exponent * 10 + (text_[i] - '0');
      }
      if (negative) exponent = -exponent;
    }
    return (integer_digits > 0 ? integer_digits : -leading_zeros) + exponent;
  }

  std::string_view text_;
  const ParseLimits &limits_;
  size_t pos_ = 0;
};

void dump_number(std::string &out, double x) {
  // JSON has no NaN or infinity; null is what browsers' JSON.stringify writes too.
  if (!std::isfinite(x)) {
    out += "null";
    return;
  }
  char buffer[64];
  std::to_chars_result result;
  if (x == std::floor(x) && std::fabs(x) < kMaxExactInteger) {
    if (x == 0.0 && std::signbit(x)) {
      out += "-0";
      return;
    }
    result = std::to_chars(buffer, buffer + sizeof buffer, static_cast<int64_t>(x));
  } else if (static_cast<double>(static_cast<float>(x)) == x) {
    // Shortest digits that read back to the same float32: tensors and config values are
    // float32, and "0.1" reads better than the double expansion of 0.1f.
    result = std::to_chars(buffer, buffer + sizeof buffer, static_cast<float>(x));
  } else {
    // Shortest digits that read back to the same double (never more than 17).
    result = std::to_chars(buffer, buffer + sizeof buffer, x);
  }
  out.append(buffer, result.ptr);
}

}  // namespace

bool Value::as_bool() const {
  if (type_ != Type::Bool) type_mismatch(Type::Bool, type_);
  return bool_;
}

double Value::as_number() const {
  if (type_ != Type::Number) type_mismatch(Type::Number, type_);
  return number_;
}

const std::string &Value::as_string() const {
  if (type_ != Type::String) type_mismatch(Type::String, type_);
  return string_;
}

const Value::Array &Value::as_array() const {
  if (type_ != Type::Array) type_mismatch(Type::Array, type_);
  return array_;
}

const Value::Object &Value::as_object() const {
  if (type_ != Type::Object) type_mismatch(Type::Object, type_);
  return object_;
}

Value::Array &Value::as_array() {
  if (type_ != Type::Array) type_mismatch(Type::Array, type_);
  return array_;
}

Value::Object &Value::as_object() {
  if (type_ != Type::Object) type_mismatch(Type::Object, type_);
  return object_;
}

const Value *Value::find(const std::string &key) const {
  if (type_ != Type::Object) return nullptr;
  const auto it = object_.find(key);
  return it == object_.end() ? nullptr : &it->second;
}

Value &Value::operator[](const std::string &key) {
  if (type_ == Type::Null) type_ = Type::Object;
  return as_object()[key];
}

Value parse(std::string_view text, const ParseLimits &limits) {
  return Parser(text, limits).parse_document();
}

void append_escaped(std::string &out, std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  for (const char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(ch);
        }
    }
  }
}

void dump_to(std::string &out, const Value &value) {
  switch (value.type()) {
    case Value::Type::Null:
      out += "null";
      return;
    case Value::Type::Bool:
      out += value.as_bool() ? "true" : "false";
      return;
    case Value::Type::Number:
      dump_number(out, value.as_number());
      return;
    case Value::Type::String:
      out.push_back('"');
      append_escaped(out, value.as_string());
      out.push_back('"');
      return;
    case Value::Type::Array: {
      out.push_back('[');
      bool first = true;
      for (const Value &item : value.as_array()) {
        if (!first) out.push_back(',');
        first = false;
        dump_to(out, item);
      }
      out.push_back(']');
      return;
    }
    case Value::Type::Object: {
      out.push_back('{');
      bool first = true;
      for (const auto &[key, item] : value.as_object()) {
        if (!first) out.push_back(',');
        first = false;
        out.push_back('"');
        append_escaped(out, key);
        out += "\":";
        dump_to(out, item);
      }
      out.push_back('}');
      return;
    }
  }
}

std::string dump(const Value &value) {
  std::string out;
  dump_to(out, value);
  return out;
}

}  // namespace dfd::json
