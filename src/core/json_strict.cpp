#include "core/json_strict.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <set>
#include <vector>

namespace dfd::json {

namespace {

// 2^53: above it not every integer is representable as a double, so "whole" stops meaning
// "exact".
constexpr double kMaxExactInteger = 9007199254740992.0;

const char *type_name(Type type) {
  switch (type) {
    case Type::Null:
      return "null";
    case Type::Bool:
      return "a boolean";
    case Type::Number:
      return "a number";
    case Type::String:
      return "a string";
    case Type::Array:
      return "an array";
    case Type::Object:
      return "an object";
  }
  return "an unknown type";
}

void expect(const Value &value, Type expected) {
  const Type got = type_of(value);
  if (got != expected) {
    throw std::runtime_error(std::string("JSON value is ") + type_name(got) + ", expected " +
                             type_name(expected));
  }
}

// A char iterator that records how far the parser has read, so that errors found in the
// parser's callback (a duplicate key, too deep) can say where, as lexical errors do.
class CountingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char *;
  using reference = const char &;

  CountingIterator(const char *at, const char *begin, size_t *read)
      : at_(at), begin_(begin), read_(read) {}
  reference operator*() const { return *at_; }
  CountingIterator &operator++() {
    ++at_;
    *read_ = std::max(*read_, static_cast<size_t>(at_ - begin_));
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator before = *this;
    ++*this;
    return before;
  }
  bool operator==(const CountingIterator &other) const { return at_ == other.at_; }
  bool operator!=(const CountingIterator &other) const { return at_ != other.at_; }

 private:
  const char *at_;
  const char *begin_;
  size_t *read_;
};

// Thrown from the parser callback; turned into a ParseError where the position is known.
struct Refused {
  std::string what;
};

// nlohmann's messages start with their id and the line and column; the byte offset follows in
// ours.
std::string plain_message(const char *what) {
  std::string text = what;
  if (const size_t colon = text.find(": ");
      colon != std::string::npos && text.compare(0, 15, "[json.exception") == 0) {
    text = text.substr(colon + 2);
  } else if (const size_t bracket = text.find("] "); bracket != std::string::npos) {
    text = text.substr(bracket + 2);
  }
  return text;
}

// nlohmann prints doubles with Grisu2, which is not always the shortest form and knows nothing
// of float32: 0.1f would come out as 0.10000000149011612, some float32 values with 17 digits.
void append_number(std::string &out, double x) {
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

// Everything but floating-point numbers and containers as nlohmann writes it.
void append_scalar(std::string &out, const Value &value) {
  out += value.dump(-1, ' ', false, Value::error_handler_t::replace);
}

}  // namespace

Type type_of(const Value &value) {
  switch (value.type()) {
    case Value::value_t::null:
    case Value::value_t::discarded:
      return Type::Null;
    case Value::value_t::boolean:
      return Type::Bool;
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned:
    case Value::value_t::number_float:
      return Type::Number;
    case Value::value_t::string:
      return Type::String;
    case Value::value_t::array:
      return Type::Array;
    case Value::value_t::object:
      return Type::Object;
    case Value::value_t::binary:
      break;
  }
  return Type::Null;
}

Value parse(std::string_view text, const ParseLimits &limits) {
  // nlohmann's lexer takes a NUL byte for the end of the input (C strings), so a document
  // followed by NULs would pass. JSON has no raw NUL anywhere: refuse it first.
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos) {
    throw ParseError("unexpected NUL byte", nul);
  }
  size_t read = 0;
  // One entry per open container: the keys seen so far in an object (none for an array).
  std::vector<std::set<std::string>> open;
  const auto check_string = [&](const std::string &s) {
    if (s.size() > limits.max_string_bytes) {
      throw Refused{"string longer than " + std::to_string(limits.max_string_bytes) + " bytes"};
    }
  };
  const Value::parser_callback_t callback = [&](int, Value::parse_event_t event,
                                                Value &parsed) -> bool {
    switch (event) {
      case Value::parse_event_t::object_start:
      case Value::parse_event_t::array_start:
        open.emplace_back();
        if (open.size() > limits.max_depth) {
          throw Refused{"nesting deeper than " + std::to_string(limits.max_depth) + " levels"};
        }
        break;
      case Value::parse_event_t::object_end:
      case Value::parse_event_t::array_end:
        if (!open.empty()) open.pop_back();
        break;
      case Value::parse_event_t::key: {
        const std::string &key = parsed.get_ref<const std::string &>();
        check_string(key);
        if (!open.empty() && !open.back().insert(key).second) {
          std::string message = "duplicate key \"";
          append_escaped(message, key);
          throw Refused{message + "\""};
        }
        break;
      }
      case Value::parse_event_t::value:
        if (parsed.is_string()) check_string(parsed.get_ref<const std::string &>());
        break;
    }
    return true;
  };
  const char *begin = text.data();
  try {
    return Value::parse(CountingIterator(begin, begin, &read),
                        CountingIterator(begin + text.size(), begin, &read), callback);
  } catch (const Refused &refused) {
    throw ParseError(refused.what, read > 0 ? read - 1 : 0);
  } catch (const Value::parse_error &e) {
    throw ParseError(plain_message(e.what()), e.byte > 0 ? e.byte - 1 : 0);
  } catch (const Value::exception &e) {
    throw ParseError(plain_message(e.what()), read > 0 ? read - 1 : 0);
  }
}

void append_escaped(std::string &out, std::string_view text) {
  // nlohmann's own escaping, without the quotes around it.
  const std::string quoted =
      Value(std::string(text)).dump(-1, ' ', false, Value::error_handler_t::replace);
  out.append(quoted, 1, quoted.size() - 2);
}

void dump_to(std::string &out, const Value &value) {
  switch (value.type()) {
    case Value::value_t::number_float:
      append_number(out, value.get<double>());
      return;
    case Value::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const Value &item : value) {
        if (!first) out.push_back(',');
        first = false;
        dump_to(out, item);
      }
      out.push_back(']');
      return;
    }
    case Value::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (const auto &[key, item] : value.get_ref<const Object &>()) {
        if (!first) out.push_back(',');
        first = false;
        append_scalar(out, Value(key));
        out.push_back(':');
        dump_to(out, item);
      }
      out.push_back('}');
      return;
    }
    default:
      append_scalar(out, value);
      return;
  }
}

std::string dump(const Value &value) {
  std::string out;
  dump_to(out, value);
  return out;
}

const Value *find(const Value &object, const std::string &key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

bool as_bool(const Value &value) {
  expect(value, Type::Bool);
  return value.get<bool>();
}

double as_number(const Value &value) {
  expect(value, Type::Number);
  return value.get<double>();
}

const std::string &as_string(const Value &value) {
  expect(value, Type::String);
  return value.get_ref<const std::string &>();
}

const Array &as_array(const Value &value) {
  expect(value, Type::Array);
  return value.get_ref<const Array &>();
}

const Object &as_object(const Value &value) {
  expect(value, Type::Object);
  return value.get_ref<const Object &>();
}

Array &as_array(Value &value) {
  expect(value, Type::Array);
  return value.get_ref<Array &>();
}

Object &as_object(Value &value) {
  expect(value, Type::Object);
  return value.get_ref<Object &>();
}

}  // namespace dfd::json
