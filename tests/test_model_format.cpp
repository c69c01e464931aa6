// Tests of the model-file format layer: the strict JSON reader and the writer (over
// nlohmann/json), the safetensors container,
// the model config and the validated model file. Model files come from strangers, so most of
// these build malformed files byte by byte and check that each one is refused with a message
// naming the file and the field or tensor at fault, never with a crash.
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/json_strict.h"
#include "core/model_config.h"
#include "core/model_error.h"
#include "core/model_file.h"
#include "core/model_layout.h"
#include "core/safetensors.h"

// Last: check.h defines a macro named fail, which breaks the standard library's iostreams.
#include <check.h>

using dfd::DType;
using dfd::ModelConfig;
using dfd::ModelError;
using dfd::SafetensorsFile;
using dfd::TensorToWrite;
namespace json = dfd::json;

namespace {

const char *const kLabel = "test.safetensors";

// ---- Helpers ----------------------------------------------------------------------------

struct Outcome {
  bool model_error = false;
  std::string message;
};

template <typename Action>
Outcome outcome_of(Action &&action) {
  try {
    action();
  } catch (const ModelError &e) {
    return {true, e.what()};
  } catch (const std::exception &e) {
    return {false, std::string("other exception: ") + e.what()};
  }
  return {false, "no exception"};
}

// A macro, not a function, so a failure reports the line of the case that failed.
#define ASSERT_MODEL_ERROR(outcome_expr, ...)                                              \
  do {                                                                                     \
    const Outcome outcome_ = (outcome_expr);                                               \
    ck_assert_msg(outcome_.model_error, "expected a ModelError, got: %s",                  \
                  outcome_.message.c_str());                                               \
    for (const std::string &needle_ : std::initializer_list<std::string>{__VA_ARGS__}) {   \
      ck_assert_msg(outcome_.message.find(needle_) != std::string::npos,                   \
                    "ModelError \"%s\" does not contain \"%s\"", outcome_.message.c_str(), \
                    needle_.c_str());                                                      \
    }                                                                                      \
  } while (0)

// Copies both sides first: ck_assert_str_eq would keep pointers into destroyed temporaries.
#define ASSERT_STR_EQ(actual, expected)                                                          \
  do {                                                                                           \
    const std::string actual_ = (actual);                                                        \
    const std::string expected_ = (expected);                                                    \
    ck_assert_msg(actual_ == expected_, "\"%s\" != \"%s\"", actual_.c_str(), expected_.c_str()); \
  } while (0)

// The offset is where nlohmann's lexer noticed the problem: at or after the start of the
// offending token, inside the document.
#define ASSERT_PARSE_ERROR(text, offset_expected)                                             \
  do {                                                                                        \
    const std::string text_ = (text);                                                         \
    bool thrown_ = false;                                                                     \
    size_t offset_ = 0;                                                                       \
    try {                                                                                     \
      json::parse(text_);                                                                     \
    } catch (const json::ParseError &e) {                                                     \
      thrown_ = true;                                                                         \
      offset_ = e.offset();                                                                   \
    }                                                                                         \
    ck_assert_msg(thrown_, "JSON \"%s\" was accepted", text_.c_str());                        \
    if ((offset_expected) != SIZE_MAX) {                                                      \
      const long long at_least_ = static_cast<long long>(offset_expected);                    \
      ck_assert_msg(static_cast<long long>(offset_) >= at_least_ && offset_ <= text_.size(),  \
                    "JSON \"%s\": error at %zu, not at or after %zu", text_.c_str(), offset_, \
                    static_cast<size_t>(offset_expected));                                    \
    }                                                                                         \
  } while (0)

Outcome parse_outcome(std::vector<uint8_t> bytes, const dfd::SafetensorsLimits &limits = {}) {
  return outcome_of([&] { SafetensorsFile::parse(std::move(bytes), kLabel, limits); });
}

Outcome model_outcome(std::vector<uint8_t> bytes) {
  return outcome_of(
      [&] { dfd::ModelFile::from_safetensors(SafetensorsFile::parse(std::move(bytes), kLabel)); });
}

Outcome config_outcome(const json::Value &value) {
  return outcome_of([&] { dfd::parse_model_config(value, kLabel); });
}

void append_u64(std::vector<uint8_t> &out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

// A safetensors file made by hand: header length, header text, `data_bytes` bytes of data.
std::vector<uint8_t> raw_file(const std::string &header, size_t data_bytes,
                              uint64_t header_length = UINT64_MAX) {
  std::vector<uint8_t> out;
  append_u64(out, header_length == UINT64_MAX ? header.size() : header_length);
  out.insert(out.end(), header.begin(), header.end());
  for (size_t i = 0; i < data_bytes; ++i) out.push_back(static_cast<uint8_t>(i * 7 + 1));
  return out;
}

std::string one_tensor(const std::string &entry) {
  return "{\"x.weight\":" + entry + "}";
}

class TempDir {
 public:
  TempDir() {
    const char *base = getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/dfd-format-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (!mkdtemp(buffer.data())) ck_abort_msg("mkdtemp failed: %s", strerror(errno));
    path_ = buffer.data();
  }
  // Only the creating process removes the directory: Check forks each test, and a child's exit
  // runs the destructors of globals it inherited from the parent's fixture.
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  ~TempDir() {
    if (getpid() != owner_) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string &name) const { return path_ + "/" + name; }

 private:
  std::string path_;
  pid_t owner_ = getpid();
};

void write_bytes(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ck_assert_msg(out.good(), "cannot write %s", path.c_str());
}

std::vector<uint8_t> read_bytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

uint64_t header_length_of(const std::vector<uint8_t> &bytes) {
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | bytes[static_cast<size_t>(i)];
  return length;
}

// ---- JSON -------------------------------------------------------------------------------

START_TEST(test_json_valid_documents) {
  const json::Value doc = json::parse(
      " \t\r\n{\"a\": [1, -2.5, true, false, null, {}, []], \"b\": {\"c\": \"d\"}, \"e\": 0} \n");
  ck_assert(doc.is_object());
  const json::Array &a = json::as_array(*doc.find("a"));
  ck_assert_uint_eq(a.size(), 7);
  ck_assert(json::as_number(a[0]) == 1.0);
  ck_assert(json::as_number(a[1]) == -2.5);
  ck_assert(json::as_bool(a[2]) == true);
  ck_assert(json::as_bool(a[3]) == false);
  ck_assert(a[4].is_null());
  ck_assert(a[5].is_object() && json::as_object(a[5]).empty());
  ck_assert(a[6].is_array() && json::as_array(a[6]).empty());
  ASSERT_STR_EQ(json::as_string(*doc.find("b")->find("c")), "d");
  ck_assert(json::find(doc, "missing") == nullptr);
  ck_assert(json::find(a[0], "x") == nullptr);  // find on a non-object

  // Scalars are documents too.
  ck_assert(json::as_bool(json::parse("true")));
  ck_assert(json::parse("null").is_null());
  ASSERT_STR_EQ(json::as_string(json::parse("\"s\"")), "s");
  ck_assert(json::as_number(json::parse("42")) == 42.0);

  // Accessors name the type they wanted.
  bool threw = false;
  try {
    json::as_string(json::parse("1"));
  } catch (const std::runtime_error &e) {
    threw = std::string(e.what()).find("string") != std::string::npos;
  }
  ck_assert(threw);

  json::Value built;
  built["k"] = 1;  // null becomes an object
  ck_assert(built.is_object());
  ck_assert(json::as_number(*built.find("k")) == 1.0);
}
END_TEST

START_TEST(test_json_escapes_and_unicode) {
  ASSERT_STR_EQ(json::as_string(json::parse(R"("\"\\\/\b\f\n\r\t")")), "\"\\/\b\f\n\r\t");
  ASSERT_STR_EQ(json::as_string(json::parse(R"("\u0041\u00e9\u20AC")")), "A\xC3\xA9\xE2\x82\xAC");
  // A surrogate pair is one code point: U+1F600, four bytes of UTF-8.
  ASSERT_STR_EQ(json::as_string(json::parse(R"("\uD83D\uDE00")")), "\xF0\x9F\x98\x80");
  ASSERT_STR_EQ(json::as_string(json::parse(R"("\udbff\udfff")")), "\xF4\x8F\xBF\xBF");
  // \u0000 is a legal character inside a JSON string.
  const std::string nul = json::as_string(json::parse(R"("a\u0000b")"));
  ck_assert_uint_eq(nul.size(), 3);
  ck_assert(nul[1] == '\0');
  // Raw UTF-8 passes through.
  ASSERT_STR_EQ(json::as_string(json::parse("\"\xC3\xA9\xF0\x9F\x98\x80\"")),
                "\xC3\xA9\xF0\x9F\x98\x80");

  ASSERT_PARSE_ERROR(R"("\uD83D")", 1);           // lone high surrogate
  ASSERT_PARSE_ERROR(R"("\uD83Dx")", 1);          // high surrogate, no escape after it
  ASSERT_PARSE_ERROR(R"("\uD83D\u0041")", 1);     // high surrogate, then not a low one
  ASSERT_PARSE_ERROR(R"("\uDE00")", 1);           // lone low surrogate
  ASSERT_PARSE_ERROR(R"("\x")", 1);               // unknown escape
  ASSERT_PARSE_ERROR(R"("\u12G4")", SIZE_MAX);    // bad hex digit
  ASSERT_PARSE_ERROR(R"("\u12")", SIZE_MAX);      // truncated \u escape
  ASSERT_PARSE_ERROR("\"a\nb\"", 2);              // raw control character
  ASSERT_PARSE_ERROR("\"abc", 0);                 // unterminated
  ASSERT_PARSE_ERROR("\"\xC0\x80\"", 1);          // overlong NUL
  ASSERT_PARSE_ERROR("\"\xED\xA0\x80\"", 1);      // UTF-8-encoded surrogate
  ASSERT_PARSE_ERROR("\"\xF4\x90\x80\x80\"", 1);  // past U+10FFFF
  ASSERT_PARSE_ERROR("\"\xFF\"", 1);
  ASSERT_PARSE_ERROR("\"\xE2\x82\"", 1);  // truncated sequence
  ASSERT_PARSE_ERROR("'single'", 0);
}
END_TEST

START_TEST(test_json_numbers) {
  const struct {
    const char *text;
    double value;
  } valid[] = {
      {"0", 0.0},
      {"-0", -0.0},
      {"1.5", 1.5},
      {"-1e10", -1e10},
      {"1E+2", 100.0},
      {"2.5e-3", 2.5e-3},
      {"1e-400", 0.0},
      {"123456789012345", 123456789012345.0},
      {"0.1", 0.1},
      {"1.7976931348623157e308", 1.7976931348623157e308},
      {"0.000001e-300", 1e-306},
  };
  for (const auto &item : valid) {
    const double parsed = json::as_number(json::parse(item.text));
    ck_assert_msg(parsed == item.value, "%s parsed as %.17g", item.text, parsed);
  }
  // "-0" is the integer zero to nlohmann; a negative zero needs a fraction.
  ck_assert(std::signbit(json::as_number(json::parse("-0.0"))));

  for (const char *text : {"01", "+1", ".5", "1.", "1e", "1e+", "-", "0x10", "NaN", "Infinity",
                           "-Infinity", "1.5.2", "--1", "1e400", "-1e400", "1 e5"}) {
    ASSERT_PARSE_ERROR(text, SIZE_MAX);
  }
  ASSERT_PARSE_ERROR("[1, 01]", 4);
  ASSERT_PARSE_ERROR("[1e999]", 1);
}
END_TEST

START_TEST(test_json_depth_limit) {
  const auto nested = [](size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
  };
  json::parse(nested(64));  // the default limit is inclusive
  ASSERT_PARSE_ERROR(nested(65), 64);
  // Far past the limit: refused without recursing that deep.
  ASSERT_PARSE_ERROR(nested(1000000), 64);

  json::ParseLimits limits;
  limits.max_depth = 2;
  json::parse("{\"a\": [1]}", limits);
  bool threw = false;
  try {
    json::parse("{\"a\": [[1]]}", limits);
  } catch (const json::ParseError &e) {
    threw = e.offset() == 7;
  }
  ck_assert(threw);
}
END_TEST

START_TEST(test_json_string_limit) {
  json::ParseLimits limits;
  limits.max_string_bytes = 8;
  ASSERT_STR_EQ(json::as_string(json::parse("\"12345678\"", limits)), "12345678");
  bool threw = false;
  try {
    json::parse("[\"123456789\"]", limits);
  } catch (const json::ParseError &e) {
    threw = std::string(e.what()).find("string longer than 8 bytes") != std::string::npos &&
            e.offset() >= 1 && e.offset() <= 13;
  }
  ck_assert(threw);
  // Keys are strings too.
  threw = false;
  try {
    json::parse("{\"123456789\": 1}", limits);
  } catch (const json::ParseError &) {
    threw = true;
  }
  ck_assert(threw);
}
END_TEST

START_TEST(test_json_duplicates_and_garbage) {
  ASSERT_PARSE_ERROR(R"({"a": 1, "a": 2})", 9);
  ASSERT_PARSE_ERROR(R"({"o": {"k": 1, "k": 1}})", 15);
  // Escapes are decoded before comparing keys.
  ASSERT_PARSE_ERROR(R"({"a": 1, "\u0061": 2})", 9);
  json::parse(R"({"a": 1, "A": 2, "b": {"a": 3}})");

  ASSERT_PARSE_ERROR("{} x", 3);
  ASSERT_PARSE_ERROR("1 2", 2);
  ASSERT_PARSE_ERROR("[1]]", 3);
  ASSERT_PARSE_ERROR(std::string("{}\0", 3), 2);
  ASSERT_PARSE_ERROR("", 0);
  ASSERT_PARSE_ERROR("   ", 3);
  ASSERT_PARSE_ERROR("[1, 2, x]", 7);
  ASSERT_PARSE_ERROR("[1, 2,]", 6);
  ASSERT_PARSE_ERROR(R"({"a": 1,})", 8);
  ASSERT_PARSE_ERROR(R"({"a" 1})", 5);
  ASSERT_PARSE_ERROR(R"({a: 1})", 1);
  ASSERT_PARSE_ERROR("[1 2]", 3);
  ASSERT_PARSE_ERROR("tru", 0);
  ASSERT_PARSE_ERROR("nul", 0);
  ASSERT_PARSE_ERROR("\f1", 0);  // form feed is not JSON white space

  // The message carries the offset too.
  bool found = false;
  try {
    json::parse("[1, 2, x]");
  } catch (const json::ParseError &e) {
    found = std::string(e.what()).find("at byte 7") != std::string::npos;
  }
  ck_assert(found);
}
END_TEST

START_TEST(test_json_dump) {
  json::Value doc;
  doc["b"] = json::Array{1, 2.5, true, nullptr, "s"};
  doc["a"] = "q\"b\\s\n\t\x01\x1f/\xC3\xA9";
  doc["c"] = json::Object{};
  // Keys come out sorted, nothing between tokens, control characters as \u00XX.
  ASSERT_STR_EQ(json::dump(doc),
                "{\"a\":\"q\\\"b\\\\s\\n\\t\\u0001\\u001f/\xC3\xA9\","
                "\"b\":[1,2.5,true,null,\"s\"],\"c\":{}}");
  ck_assert(json::dump(json::parse(json::dump(doc))) == json::dump(doc));

  const struct {
    double value;
    const char *text;
  } numbers[] = {
      {1.0, "1"},
      {-3.0, "-3"},
      {-0.0, "-0"},
      {1e15, "1000000000000000"},
      {9007199254740991.0, "9007199254740991"},
      {0.5, "0.5"},
      {0.55, "0.55"},
      {static_cast<double>(0.1f), "0.1"},  // shortest float32 digits, not 0.10000000149...
      {std::nan(""), "null"},
      {std::numeric_limits<double>::infinity(), "null"},
      {-std::numeric_limits<double>::infinity(), "null"},
  };
  for (const auto &item : numbers) {
    const std::string text = json::dump(json::Value(item.value));
    ck_assert_msg(text == item.text, "%.17g dumped as %s, expected %s", item.value, text.c_str(),
                  item.text);
  }

  // Every float32 reads back exactly; every double that is not a float32 too.
  std::mt19937 rng(12345);
  std::uniform_int_distribution<uint32_t> bits32;
  std::uniform_int_distribution<uint64_t> bits64;
  for (int i = 0; i < 20000; ++i) {
    uint32_t fb = bits32(rng);
    float f;
    std::memcpy(&f, &fb, sizeof f);
    if (!std::isfinite(f)) continue;
    const std::string text = json::dump(json::Value(static_cast<double>(f)));
    const float back = static_cast<float>(json::as_number(json::parse(text)));
    ck_assert_msg(std::memcmp(&back, &f, sizeof f) == 0 || (f == 0 && back == 0),
                  "float %.9g dumped as %s reads back as %.9g", f, text.c_str(), back);
    ck_assert_msg(text.size() <= 17, "float dump too long: %s", text.c_str());

    uint64_t db = bits64(rng);
    double d;
    std::memcpy(&d, &db, sizeof d);
    if (!std::isfinite(d)) continue;
    const std::string dtext = json::dump(json::Value(d));
    const double dback = json::as_number(json::parse(dtext));
    if (static_cast<double>(static_cast<float>(d)) != d) {
      ck_assert_msg(dback == d, "double %.17g dumped as %s reads back as %.17g", d, dtext.c_str(),
                    dback);
    }
  }
  // Typical weights: every value survives a dump of a whole array.
  json::Array weights;
  std::normal_distribution<float> normal(0.f, 0.02f);
  for (int i = 0; i < 1000; ++i) weights.emplace_back(static_cast<double>(normal(rng)));
  const json::Value back = json::parse(json::dump(json::Value(weights)));
  for (size_t i = 0; i < weights.size(); ++i) {
    ck_assert(static_cast<float>(json::as_number(json::as_array(back)[i])) ==
              static_cast<float>(json::as_number(weights[i])));
  }

  std::string escaped;
  json::append_escaped(escaped, std::string("a\0b", 3));
  ASSERT_STR_EQ(escaped, "a\\u0000b");
}
END_TEST

// ---- Safetensors ------------------------------------------------------------------------

START_TEST(test_safetensors_round_trip) {
  TempDir dir;
  const std::string path = dir.file("round.safetensors");
  const std::vector<float> f32 = {1.f, -2.5f, 3.25f, 0.f, 1e-20f, -1e20f};
  const std::vector<int64_t> i64 = {-1, std::numeric_limits<int64_t>::max()};
  const uint16_t bf16 = 0x3F80;
  const std::vector<uint8_t> u8 = {1, 2, 3};
  // The given order decides the data layout; the header lists names sorted.
  dfd::write_safetensors(path, {{"config", "{\"a\": 1}"}, {"note", "t\xC3\xA9st\n"}},
                         {{"z.weight", DType::F32, {2, 3}, f32.data()},
                          {"a.index", DType::I64, {2}, i64.data()},
                          {"empty", DType::F16, {0, 5}, nullptr},
                          {"scalar", DType::BF16, {}, &bf16},
                          {"m.bytes", DType::U8, {3}, u8.data()}});
  ck_assert(!std::filesystem::exists(path + ".tmp"));

  const std::vector<uint8_t> raw = read_bytes(path);
  const uint64_t header_length = header_length_of(raw);
  ck_assert_uint_eq(header_length % 8, 0);  // data section starts 8-byte aligned
  ck_assert_uint_eq(raw.size(), 8 + header_length + 24 + 16 + 0 + 2 + 3);

  const SafetensorsFile file = SafetensorsFile::read(path);
  ASSERT_STR_EQ(file.label(), path);
  ck_assert_uint_eq(file.metadata().size(), 2);
  ASSERT_STR_EQ(file.metadata().at("config"), "{\"a\": 1}");
  ASSERT_STR_EQ(file.metadata().at("note"), "t\xC3\xA9st\n");
  ck_assert_uint_eq(file.tensors().size(), 5);
  const char *sorted[] = {"a.index", "empty", "m.bytes", "scalar", "z.weight"};
  for (size_t i = 0; i < 5; ++i) ASSERT_STR_EQ(file.tensors()[i].name, sorted[i]);

  const dfd::TensorInfo *z = file.find("z.weight");
  ck_assert_ptr_nonnull(z);
  ck_assert(z->dtype == DType::F32);
  ck_assert(z->shape == (std::vector<int64_t>{2, 3}));
  ck_assert_int_eq(z->numel(), 6);
  ck_assert_uint_eq(z->data_begin, 0);  // first in the given order
  ck_assert_int_eq(std::memcmp(file.data(*z), f32.data(), 24), 0);
  const dfd::TensorInfo *a = file.find("a.index");
  ck_assert_uint_eq(a->data_begin, 24);
  ck_assert_int_eq(std::memcmp(file.data(*a), i64.data(), 16), 0);
  const dfd::TensorInfo *empty = file.find("empty");
  ck_assert(empty->dtype == DType::F16);
  ck_assert_int_eq(empty->numel(), 0);
  const dfd::TensorInfo *scalar = file.find("scalar");
  ck_assert(scalar->shape.empty());
  ck_assert_int_eq(scalar->numel(), 1);
  ck_assert_int_eq(std::memcmp(file.data(*scalar), &bf16, 2), 0);
  ck_assert(file.find("m.bytes")->dtype == DType::U8);
  ck_assert_ptr_null(file.find("nope"));
  ck_assert_ptr_null(file.find(""));

  // Moving keeps the data pointers valid (they point into the moved buffer).
  const SafetensorsFile moved = SafetensorsFile::parse(read_bytes(path), kLabel);
  ck_assert_int_eq(std::memcmp(moved.data(*moved.find("z.weight")), f32.data(), 24), 0);

  // Overwriting an existing file replaces it whole.
  dfd::write_safetensors(path, {}, {{"only", DType::I8, {1}, u8.data()}});
  const SafetensorsFile replaced = SafetensorsFile::read(path);
  ck_assert_uint_eq(replaced.tensors().size(), 1);
  ck_assert(replaced.metadata().empty());

  for (DType dtype : {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32,
                      DType::I16, DType::I8, DType::U8, DType::BOOL}) {
    const std::string name = dfd::dtype_name(dtype);
    const SafetensorsFile typed = SafetensorsFile::parse(
        raw_file(one_tensor("{\"dtype\":\"" + name + "\",\"shape\":[3],\"data_offsets\":[0," +
                            std::to_string(3 * dfd::dtype_size(dtype)) + "]}"),
                 3 * dfd::dtype_size(dtype)),
        kLabel);
    ck_assert(typed.tensors()[0].dtype == dtype);
  }
}
END_TEST

START_TEST(test_safetensors_write_errors) {
  TempDir dir;
  const float value = 1.f;
  const std::string path = dir.file("missing-dir/out.safetensors");
  bool named = false;
  try {
    dfd::write_safetensors(path, {}, {{"x", DType::F32, {1}, &value}});
  } catch (const std::runtime_error &e) {
    named = std::string(e.what()).find(path) != std::string::npos;
  }
  ck_assert(named);
  // Refuses what the reader would refuse.
  const std::string good = dir.file("out.safetensors");
  for (const std::vector<TensorToWrite> &tensors : std::vector<std::vector<TensorToWrite>>{
           {{"x", DType::F32, {1}, &value}, {"x", DType::F32, {1}, &value}},
           {{"", DType::F32, {1}, &value}},
           {{"__metadata__", DType::F32, {1}, &value}},
           {{"x", DType::F32, {-1}, &value}},
           {{"x", DType::F32, {4}, nullptr}}}) {
    bool threw = false;
    try {
      dfd::write_safetensors(good, {}, tensors);
    } catch (const std::invalid_argument &) {
      threw = true;
    }
    ck_assert(threw);
    ck_assert(!std::filesystem::exists(good));
    ck_assert(!std::filesystem::exists(good + ".tmp"));
  }
}
END_TEST

START_TEST(test_safetensors_padding_and_empty) {
  // Trailing spaces pad the header (the format's alignment padding).
  const std::string entry = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  SafetensorsFile::parse(raw_file(one_tensor(entry) + "       ", 8), kLabel);
  // A file with no tensors at all is valid.
  const SafetensorsFile empty = SafetensorsFile::parse(raw_file("{}", 0), kLabel);
  ck_assert(empty.tensors().empty());
  // Empty tensors cover nothing, wherever they claim to be.
  SafetensorsFile::parse(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                                  R"("c":{"dtype":"I8","shape":[3,0],"data_offsets":[8,8]}})",
                                  8),
                         kLabel);
}
END_TEST

START_TEST(test_safetensors_truncated) {
  TempDir dir;
  const std::string path = dir.file("cut.safetensors");
  const std::vector<float> data(16, 0.5f);
  dfd::write_safetensors(
      path, {{"k", "v"}},
      {{"x.weight", DType::F32, {4, 2}, data.data()}, {"y.weight", DType::F32, {8}, data.data()}});
  const std::vector<uint8_t> whole = read_bytes(path);
  const size_t header_end = 8 + header_length_of(whole);
  const std::vector<size_t> cuts = {0,
                                    1,
                                    4,
                                    7,
                                    8,
                                    9,
                                    20,
                                    header_end - 1,
                                    header_end,
                                    header_end + 1,
                                    header_end + 31,
                                    whole.size() - 1};
  for (const size_t cut : cuts) {
    std::vector<uint8_t> bytes(whole.begin(), whole.begin() + static_cast<long>(cut));
    const std::string cut_path = dir.file("cut-" + std::to_string(cut));
    write_bytes(cut_path, bytes);
    // Through read() the label is the path.
    ASSERT_MODEL_ERROR(outcome_of([&] { SafetensorsFile::read(cut_path); }), cut_path.c_str());
    if (cut < 8) {
      ASSERT_MODEL_ERROR(parse_outcome(bytes), kLabel, "truncated");
    } else if (cut < header_end) {
      ASSERT_MODEL_ERROR(parse_outcome(bytes), kLabel, "header larger than the file");
    } else if (cut > header_end) {
      // Inside the data: the tensor reaching past the end is named.
      ASSERT_MODEL_ERROR(parse_outcome(bytes), kLabel, "tensor '", "out of range");
    } else {
      ASSERT_MODEL_ERROR(parse_outcome(bytes), kLabel, "tensor '", "out of range");
    }
  }
  ASSERT_MODEL_ERROR(outcome_of([&] { SafetensorsFile::read(dir.file("absent")); }),
                     dir.file("absent").c_str(), "No such file");
  ASSERT_MODEL_ERROR(outcome_of([&] { SafetensorsFile::read(dir.file("")); }),
                     "not a regular file");
}
END_TEST

START_TEST(test_safetensors_header_length) {
  const std::string header = "{}";
  ASSERT_MODEL_ERROR(parse_outcome(raw_file(header, 0, 3)), kLabel, "header larger than the file");
  ASSERT_MODEL_ERROR(parse_outcome(raw_file(header, 0, 0)), kLabel, "header length is 0");
  ASSERT_MODEL_ERROR(parse_outcome(raw_file(header, 0, uint64_t{1} << 63)), kLabel,
                     "header length 9223372036854775808", "exceeds the limit");
  ASSERT_MODEL_ERROR(parse_outcome(raw_file(header, 0, UINT64_MAX - 1)), kLabel,
                     "exceeds the limit");
  dfd::SafetensorsLimits limits;
  limits.max_header_bytes = 64;
  ASSERT_MODEL_ERROR(parse_outcome(raw_file(header + std::string(70, ' '), 0), limits), kLabel,
                     "exceeds the limit of 64");
  // A header length shorter than the JSON cuts it: that is bad JSON.
  ASSERT_MODEL_ERROR(parse_outcome(raw_file(header, 0, 1)), kLabel, "header is not valid JSON");
}
END_TEST

START_TEST(test_safetensors_bad_json) {
  ASSERT_MODEL_ERROR(parse_outcome(raw_file("{\"x\": ", 0)), kLabel, "header is not valid JSON",
                     "at byte 6");
  ASSERT_MODEL_ERROR(parse_outcome(raw_file("{\"x\": 1}  junk", 0)), kLabel,
                     "header is not valid JSON", "at byte 10");
  ASSERT_MODEL_ERROR(parse_outcome(raw_file(std::string("{}\0\0\0\0\0\0", 8), 0)), kLabel,
                     "header is not valid JSON");
  ASSERT_MODEL_ERROR(parse_outcome(raw_file("[]", 0)), kLabel, "header is not a JSON object");
  ASSERT_MODEL_ERROR(parse_outcome(raw_file("\"x\"", 0)), kLabel, "header is not a JSON object");
  // The same tensor twice is ambiguous.
  const std::string entry = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  ASSERT_MODEL_ERROR(parse_outcome(raw_file("{\"x\":" + entry + ",\"x\":" + entry + "}", 4)),
                     kLabel, "duplicate key", "x");
  // Nesting beyond what a header needs.
  ASSERT_MODEL_ERROR(parse_outcome(raw_file(R"({"__metadata__":{"a":[[[[[[[[[1]]]]]]]]]}})", 0)),
                     kLabel, "header is not valid JSON", "nesting");
}
END_TEST

START_TEST(test_safetensors_bad_entries) {
  const struct {
    std::string entry;
    size_t data;
    std::vector<const char *> needles;
  } cases[] = {
      {"[]", 0, {"tensor 'x.weight'", "not a JSON object"}},
      {"3", 0, {"tensor 'x.weight'", "not a JSON object"}},
      {R"({"shape":[1],"data_offsets":[0,4]})", 4, {"tensor 'x.weight'", "missing 'dtype'"}},
      {R"({"dtype":"F32","data_offsets":[0,4]})", 4, {"tensor 'x.weight'", "missing 'shape'"}},
      {R"({"dtype":"F32","shape":[1]})", 4, {"tensor 'x.weight'", "missing 'data_offsets'"}},
      {R"({"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1})",
       4,
       {"tensor 'x.weight'", "unexpected key 'extra'"}},
      {R"({"dtype":"F8","shape":[1],"data_offsets":[0,1]})",
       1,
       {"tensor 'x.weight'", "unknown dtype 'F8'"}},
      {R"({"dtype":"f32","shape":[1],"data_offsets":[0,4]})",
       4,
       {"tensor 'x.weight'", "unknown dtype 'f32'"}},
      {R"({"dtype":4,"shape":[1],"data_offsets":[0,4]})", 4, {"tensor 'x.weight'", "dtype"}},
      {R"({"dtype":"F32","shape":4,"data_offsets":[0,16]})",
       16,
       {"tensor 'x.weight'", "shape is not an array"}},
      {R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})",
       4,
       {"tensor 'x.weight'", "shape entry 0", "-1"}},
      {R"({"dtype":"F32","shape":[2,1.5],"data_offsets":[0,12]})",
       12,
       {"tensor 'x.weight'", "shape entry 1", "1.5"}},
      {R"({"dtype":"F32","shape":["4"],"data_offsets":[0,16]})",
       16,
       {"tensor 'x.weight'", "shape entry 0"}},
      {R"({"dtype":"F32","shape":[18014398509481984],"data_offsets":[0,4]})",
       4,
       {"tensor 'x.weight'", "shape entry 0"}},  // 2^54: not an exact integer
      {R"({"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]})",
       1,
       {"tensor 'x.weight'", "rank 9"}},
      {R"({"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]})",
       8,
       {"tensor 'x.weight'", "overflows"}},
      // Wraps to exactly 0 bytes in 64-bit arithmetic: must still be caught.
      {R"({"dtype":"F32","shape":[4294967296,1073741824],"data_offsets":[0,0]})",
       0,
       {"tensor 'x.weight'", "overflows"}},
      {R"({"dtype":"U8","shape":[4294967296,2147483648,0],"data_offsets":[0,0]})",
       0,
       {"tensor 'x.weight'", "overflows"}},
      {R"({"dtype":"F32","shape":[1],"data_offsets":[0]})",
       4,
       {"tensor 'x.weight'", "data_offsets must be two"}},
      {R"({"dtype":"F32","shape":[1],"data_offsets":[0,4,8]})",
       8,
       {"tensor 'x.weight'", "data_offsets must be two"}},
      {R"({"dtype":"F32","shape":[1],"data_offsets":{"a":0}})",
       4,
       {"tensor 'x.weight'", "data_offsets must be two"}},
      {R"({"dtype":"F32","shape":[1],"data_offsets":[0,"4"]})",
       4,
       {"tensor 'x.weight'", "data_offsets must be two"}},
      {R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})",
       4,
       {"tensor 'x.weight'", "data_offsets must be two"}},
      {R"({"dtype":"F32","shape":[1],"data_offsets":[0,4.5]})",
       8,
       {"tensor 'x.weight'", "data_offsets must be two"}},
      {R"({"dtype":"F32","shape":[1],"data_offsets":[8,4]})",
       8,
       {"tensor 'x.weight'", "begin is after end"}},
      {R"({"dtype":"F32","shape":[1],"data_offsets":[0,8]})",
       4,
       {"tensor 'x.weight'", "out of range"}},
      {R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})",
       4,
       {"tensor 'x.weight'", "out of range"}},
      {R"({"dtype":"F32","shape":[1],"data_offsets":[0,9007199254740992]})",
       4,
       {"tensor 'x.weight'", "out of range"}},
      {R"({"dtype":"F32","shape":[4],"data_offsets":[0,12]})",
       12,
       {"model.safetensors: tensor 'x.weight': data_offsets [0, 12] do not match dtype F32 and "
        "shape [4] (16 bytes)"}},
      {R"({"dtype":"BF16","shape":[],"data_offsets":[0,4]})",
       4,
       {"tensor 'x.weight'", "do not match dtype BF16 and shape []"}},
  };
  for (const auto &item : cases) {
    const Outcome outcome = outcome_of([&] {
      SafetensorsFile::parse(raw_file(one_tensor(item.entry), item.data), "model.safetensors");
    });
    ck_assert_msg(outcome.model_error, "entry %s: expected a ModelError, got: %s",
                  item.entry.c_str(), outcome.message.c_str());
    ck_assert_msg(outcome.message.rfind("model.safetensors: ", 0) == 0,
                  "message does not start with the label: %s", outcome.message.c_str());
    for (const char *needle : item.needles) {
      ck_assert_msg(outcome.message.find(needle) != std::string::npos,
                    "entry %s: \"%s\" does not contain \"%s\"", item.entry.c_str(),
                    outcome.message.c_str(), needle);
    }
  }
  // Names are escaped in messages.
  ASSERT_MODEL_ERROR(parse_outcome(raw_file("{\"bad\\nname\": 1}", 0)), "tensor 'bad\\nname'");
  ASSERT_MODEL_ERROR(
      parse_outcome(raw_file(R"({"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4)),
      kLabel, "empty name");
}
END_TEST

START_TEST(test_safetensors_coverage) {
  const auto tensor = [](const char *name, size_t begin, size_t end) {
    return "\"" + std::string(name) + "\":{\"dtype\":\"U8\",\"shape\":[" +
           std::to_string(end - begin) + "],\"data_offsets\":[" + std::to_string(begin) + "," +
           std::to_string(end) + "]}";
  };
  // Overlaps, in either name order, and one tensor inside another.
  ASSERT_MODEL_ERROR(
      parse_outcome(raw_file("{" + tensor("a", 0, 16) + "," + tensor("b", 8, 24) + "}", 24)),
      kLabel, "tensor 'b'", "overlaps tensor 'a'");
  ASSERT_MODEL_ERROR(
      parse_outcome(raw_file("{" + tensor("b", 0, 16) + "," + tensor("a", 8, 24) + "}", 24)),
      kLabel, "tensor 'a'", "overlaps tensor 'b'");
  ASSERT_MODEL_ERROR(
      parse_outcome(raw_file("{" + tensor("a", 0, 16) + "," + tensor("b", 4, 8) + "}", 16)), kLabel,
      "overlaps");
  ASSERT_MODEL_ERROR(
      parse_outcome(raw_file("{" + tensor("a", 0, 16) + "," + tensor("b", 0, 16) + "}", 16)),
      kLabel, "overlaps");
  // Gaps between tensors, before the first, and unused bytes at the end.
  ASSERT_MODEL_ERROR(
      parse_outcome(raw_file("{" + tensor("a", 0, 8) + "," + tensor("b", 16, 24) + "}", 24)),
      kLabel, "tensor 'b'", "gap before tensor");
  ASSERT_MODEL_ERROR(parse_outcome(raw_file("{" + tensor("a", 4, 8) + "}", 8)), kLabel,
                     "tensor 'a'", "gap before tensor");
  ASSERT_MODEL_ERROR(parse_outcome(raw_file("{" + tensor("a", 0, 8) + "}", 12)), kLabel,
                     "data section has 4 unused bytes");
  ASSERT_MODEL_ERROR(parse_outcome(raw_file("{}", 3)), kLabel, "data section has 3 unused bytes");
  // Exactly covered, listed out of order: fine.
  SafetensorsFile::parse(
      raw_file("{" + tensor("a", 8, 24) + "," + tensor("b", 0, 8) + "," + tensor("c", 24, 25) + "}",
               25),
      kLabel);
}
END_TEST

START_TEST(test_safetensors_metadata_and_limits) {
  const std::string entry = R"("x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  ASSERT_MODEL_ERROR(parse_outcome(raw_file(R"({"__metadata__":{"config":3},)" + entry + "}", 4)),
                     kLabel, "__metadata__ entry 'config'", "not a string");
  ASSERT_MODEL_ERROR(
      parse_outcome(raw_file(R"({"__metadata__":{"a":"b","n":null},)" + entry + "}", 4)), kLabel,
      "__metadata__ entry 'n'");
  ASSERT_MODEL_ERROR(parse_outcome(raw_file(R"({"__metadata__":["a"],)" + entry + "}", 4)), kLabel,
                     "__metadata__ is not a JSON object");
  const SafetensorsFile ok =
      SafetensorsFile::parse(raw_file(R"({"__metadata__":{"a":"b"},)" + entry + "}", 4), kLabel);
  ASSERT_STR_EQ(ok.metadata().at("a"), "b");
  ck_assert_uint_eq(ok.tensors().size(), 1);  // __metadata__ is not a tensor

  dfd::SafetensorsLimits limits;
  limits.max_tensors = 2;
  const std::string three = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                            R"("b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},)"
                            R"("c":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}})";
  ASSERT_MODEL_ERROR(parse_outcome(raw_file(three, 3), limits), kLabel, "3 tensors", "limit of 2");
  limits.max_tensors = 3;
  SafetensorsFile::parse(raw_file(three, 3), kLabel, limits);
}
END_TEST

// ---- Model config -----------------------------------------------------------------------

const char *const kSeedConfigText = R"({
  "format": "gst-deepfake-model",
  "format_version": 1,
  "name": "seed-evit10",
  "architecture": "seed",
  "backbone": "efficientnet-b0",
  "input": {"size": 224, "color_order": "BGR", "mean": [0, 0, 0], "std": [1, 1, 1],
            "resize": "isotropic-pad"},
  "transformer": {"dim": 49, "depth": 6, "heads": 8, "dim_head": 64, "mlp_dim": 2048,
                  "head_hidden": 2048, "tokens": 1024, "dropout": 0.15, "emb_dropout": 0.15},
  "threshold": 0.55,
  "source": "converted from efficientnetB0_checkpoint89_All",
  "training": {"epochs": [1, 2], "note": null}
})";

json::Value spatial_config_json() {
  json::Value value = json::parse(kSeedConfigText);
  value["architecture"] = "spatial";
  value["name"] = "spatial-test";
  json::Value &t = value["transformer"];
  json::as_object(t).erase("head_hidden");
  json::as_object(t).erase("tokens");
  t["dim"] = 256;
  t["depth"] = 4;
  t["heads"] = 4;
  t["mlp_dim"] = 512;
  value["input"]["color_order"] = "RGB";
  value["input"]["mean"] = json::Array{123.675, 116.28, 103.53};
  value["input"]["std"] = json::Array{58.395, 57.12, 57.375};
  json::as_object(value).erase("training");
  return value;
}

bool same_config(const ModelConfig &a, const ModelConfig &b) {
  const bool seed = a.architecture == dfd::Architecture::Seed;
  return a.architecture == b.architecture && a.backbone == b.backbone &&
         a.image_size == b.image_size && a.color_order == b.color_order && a.mean == b.mean &&
         a.std == b.std && (!seed || a.seed_tokens == b.seed_tokens) &&
         a.transformer.dim == b.transformer.dim && a.transformer.depth == b.transformer.depth &&
         a.transformer.heads == b.transformer.heads &&
         a.transformer.dim_head == b.transformer.dim_head &&
         a.transformer.mlp_dim == b.transformer.mlp_dim &&
         (!seed || a.transformer.head_hidden == b.transformer.head_hidden) &&
         a.transformer.dropout == b.transformer.dropout &&
         a.transformer.emb_dropout == b.transformer.emb_dropout && a.threshold == b.threshold &&
         a.name == b.name && a.source == b.source &&
         json::dump(a.training) == json::dump(b.training);
}

START_TEST(test_config_seed) {
  const ModelConfig config = dfd::parse_model_config_text(kSeedConfigText, kLabel);
  ck_assert(config.architecture == dfd::Architecture::Seed);
  ck_assert_int_eq(config.image_size, 224);
  ck_assert_int_eq(config.feature_size(), 7);
  ck_assert_int_eq(config.seed_tokens, 1024);
  ck_assert_int_eq(config.token_count(), 1025);
  ck_assert_int_eq(config.grid_width(), 32);
  ck_assert_int_eq(config.grid_height(), 32);
  ck_assert(config.color_order == dfd::ColorOrder::BGR);
  ck_assert(config.threshold == 0.55);
  ck_assert(config.transformer.dropout == 0.15);
  // Training is kept verbatim.
  ck_assert(json::as_number(json::as_array(*config.training.find("epochs"))[1]) == 2.0);
  ck_assert(config.training.find("note")->is_null());
  ASSERT_STR_EQ(dfd::architecture_name(config.architecture), "seed");

  ModelConfig defaults = ModelConfig::seed_defaults();
  ASSERT_STR_EQ(defaults.name, "seed-evit10");
  ck_assert(defaults.source.empty());
  ck_assert(defaults.training.is_null());
  defaults.source = config.source;
  defaults.training = config.training;
  ck_assert(same_config(defaults, config));

  // To JSON and back, through text.
  const std::string text = json::dump(dfd::model_config_to_json(config));
  const ModelConfig back = dfd::parse_model_config_text(text, kLabel);
  ck_assert(same_config(config, back));
  ASSERT_STR_EQ(json::dump(dfd::model_config_to_json(back)), text);
  const ModelConfig plain = ModelConfig::seed_defaults();
  ck_assert(same_config(plain, dfd::parse_model_config(dfd::model_config_to_json(plain), kLabel)));
  ck_assert_ptr_null(json::find(dfd::model_config_to_json(plain), "training"));
}
END_TEST

START_TEST(test_config_spatial) {
  const ModelConfig config = dfd::parse_model_config(spatial_config_json(), kLabel);
  ck_assert(config.architecture == dfd::Architecture::Spatial);
  ck_assert_int_eq(config.token_count(), 50);
  ck_assert_int_eq(config.grid_width(), 7);
  ck_assert_int_eq(config.grid_height(), 7);
  ck_assert(config.color_order == dfd::ColorOrder::RGB);
  ck_assert(config.mean[0] == 123.675f && config.std[2] == 57.375f);
  ck_assert(config.training.is_null());
  ASSERT_STR_EQ(dfd::architecture_name(config.architecture), "spatial");
  const json::Value out = dfd::model_config_to_json(config);
  ck_assert_ptr_null(json::find(*json::find(out, "transformer"), "head_hidden"));
  ck_assert_ptr_null(json::find(*json::find(out, "transformer"), "tokens"));
  const ModelConfig back = dfd::parse_model_config_text(json::dump(out), kLabel);
  ck_assert(same_config(config, back));

  json::Value large = spatial_config_json();
  large["input"]["size"] = 384;
  const ModelConfig big = dfd::parse_model_config(large, kLabel);
  ck_assert_int_eq(big.token_count(), 145);
  ck_assert_int_eq(big.grid_width(), 12);
}
END_TEST

// Returns a copy of the seed config with one field replaced; a null `value` removes it.
json::Value mutated(json::Value base, const std::string &section, const std::string &key,
                    const json::Value *value) {
  json::Value &target = section.empty() ? base : base[section];
  if (value) {
    target[key] = *value;
  } else {
    json::as_object(target).erase(key);
  }
  return base;
}

START_TEST(test_config_bad_fields) {
  const json::Value seed = json::parse(kSeedConfigText);
  const json::Value spatial = spatial_config_json();
  const struct {
    const json::Value *base;
    const char *section;
    const char *key;
    const char *value;  // JSON text; nullptr removes the field
    std::vector<const char *> needles;
  } cases[] = {
      {&seed,
       "transformer",
       "heads",
       "0",
       {"test.safetensors: config field 'transformer.heads': must be an integer in [1, 64], got "
        "0"}},
      {&seed, "transformer", "heads", "8.5", {"'transformer.heads'", "got 8.5"}},
      {&seed, "transformer", "heads", "\"8\"", {"'transformer.heads'", "got \"8\""}},
      {&seed, "transformer", "depth", "49", {"'transformer.depth'", "[1, 48]"}},
      {&seed, "transformer", "dim_head", "1025", {"'transformer.dim_head'"}},
      {&seed, "transformer", "mlp_dim", "0", {"'transformer.mlp_dim'"}},
      {&seed, "transformer", "head_hidden", "65537", {"'transformer.head_hidden'"}},
      {&seed, "transformer", "head_hidden", nullptr, {"'transformer.head_hidden'", "missing"}},
      {&seed, "transformer", "tokens", nullptr, {"'transformer.tokens'", "missing"}},
      {&seed, "transformer", "tokens", "1000", {"'transformer.tokens'", "perfect square"}},
      {&seed, "transformer", "dim", "50", {"'transformer.dim'", "49", "feature cell"}},
      {&spatial, "transformer", "dim", "4097", {"'transformer.dim'", "[1, 4096]"}},
      {&seed, "transformer", "dropout", "1", {"'transformer.dropout'", "[0, 1)"}},
      {&seed, "transformer", "emb_dropout", "-0.1", {"'transformer.emb_dropout'"}},
      {&seed, "transformer", "depht", "6", {"'transformer.depht'", "unknown field"}},
      {&seed, "input", "size", "100", {"'input.size'", "multiple of 32"}},
      {&seed, "input", "size", "0", {"'input.size'"}},
      {&seed, "input", "size", "2048", {"'input.size'"}},
      {&seed, "input", "size", "224.5", {"'input.size'"}},
      // A valid size for the spatial model, but the seed's dim 49 needs 224.
      {&seed, "input", "size", "256", {"'transformer.dim'", "64"}},
      {&seed, "input", "std", "[1, 0, 1]", {"'input.std[1]'", "greater than 0"}},
      {&seed, "input", "std", "[1, 1e-50, 1]", {"'input.std[1]'"}},  // zero as a float32
      {&seed, "input", "std", "[1, 1]", {"'input.std'", "3 numbers"}},
      {&seed, "input", "std", "[1, 1, \"1\"]", {"'input.std[2]'"}},
      {&seed, "input", "mean", "[1e300, 0, 0]", {"'input.mean[0]'", "finite"}},
      {&seed, "input", "mean", "0", {"'input.mean'"}},
      {&seed, "input", "color_order", "\"YUV\"", {"'input.color_order'", "YUV"}},
      {&seed, "input", "resize", "\"stretch\"", {"'input.resize'", "stretch"}},
      {&seed, "input", "crop", "1", {"'input.crop'", "unknown field"}},
      {&seed, "", "input", "[]", {"'input'", "object"}},
      {&seed, "", "transformer", nullptr, {"'transformer'", "missing"}},
      {&seed, "", "threshold", "0", {"'threshold'", "(0, 1)"}},
      {&seed, "", "threshold", "1", {"'threshold'"}},
      {&seed, "", "threshold", "\"0.5\"", {"'threshold'"}},
      {&seed, "", "format", "\"other\"", {"'format'", "gst-deepfake-model"}},
      {&seed, "", "format", nullptr, {"'format'", "missing"}},
      {&seed, "", "format_version", "2", {"'format_version'", "version 2"}},
      {&seed, "", "format_version", "\"1\"", {"'format_version'"}},
      {&seed, "", "name", "\"\"", {"'name'", "empty"}},
      {&seed, "", "name", "7", {"'name'", "string"}},
      {&seed, "", "source", nullptr, {"'source'", "missing"}},
      {&seed,
       "",
       "backbone",
       "\"efficientnet-b4\"",
       {"'backbone'", "efficientnet-b4", "supports \"efficientnet-b0\""}},
      {&seed, "", "architecture", "\"cnn\"", {"'architecture'", "cnn"}},
      {&seed, "", "thresold", "0.5", {"'thresold'", "unknown field"}},
  };
  for (const auto &item : cases) {
    json::Value replacement;
    if (item.value) replacement = json::parse(item.value);
    const json::Value config =
        mutated(*item.base, item.section, item.key, item.value ? &replacement : nullptr);
    const Outcome outcome = config_outcome(config);
    ck_assert_msg(outcome.model_error, "%s.%s = %s: expected a ModelError, got: %s", item.section,
                  item.key, item.value ? item.value : "(removed)", outcome.message.c_str());
    ck_assert_msg(outcome.message.rfind(std::string(kLabel) + ": config field '", 0) == 0,
                  "message does not start with the label and field: %s", outcome.message.c_str());
    for (const char *needle : item.needles) {
      ck_assert_msg(outcome.message.find(needle) != std::string::npos,
                    "%s.%s: \"%s\" does not contain \"%s\"", item.section, item.key,
                    outcome.message.c_str(), needle);
    }
  }
  // Accepted variations: spatial with the seed-only fields, whole numbers written as 8.0, an
  // empty source, RGB.
  json::Value variant = spatial;
  variant["transformer"]["tokens"] = 49;
  variant["transformer"]["head_hidden"] = 64;
  variant["transformer"]["heads"] = 4.0;
  variant["source"] = "";
  dfd::parse_model_config(variant, kLabel);
  // Spatial still checks the optional fields when they are given.
  variant["transformer"]["tokens"] = 0;
  ASSERT_MODEL_ERROR(config_outcome(variant), kLabel, "'transformer.tokens'");

  ASSERT_MODEL_ERROR(config_outcome(json::parse("[]")), kLabel, "config is not a JSON object");
  ASSERT_MODEL_ERROR(outcome_of([] { dfd::parse_model_config_text("{\"format\": ", kLabel); }),
                     "test.safetensors: config is not valid JSON", "at byte");
  ASSERT_MODEL_ERROR(
      outcome_of([] { dfd::parse_model_config_text(R"({"name": "a", "name": "b"})", kLabel); }),
      "config is not valid JSON", "duplicate key");
}
END_TEST

// ---- Model file -------------------------------------------------------------------------

// The smallest valid spatial model: a 32x32 input (one feature cell) and a 4-wide transformer.
// Its layout still holds the whole EfficientNet-B0 backbone (about 4M floats, 16 MB).
ModelConfig tiny_config() {
  ModelConfig config;
  config.architecture = dfd::Architecture::Spatial;
  config.image_size = 32;
  config.transformer.dim = 4;
  config.transformer.depth = 1;
  config.transformer.heads = 1;
  config.transformer.dim_head = 4;
  config.transformer.mlp_dim = 8;
  config.name = "tiny";
  config.source = "test_model_format";
  return config;
}

struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

struct ModelFixture {
  std::vector<TensorSpec> tensors;
  std::string config_text;
};

// Built once in the parent process (an unchecked fixture) and inherited by each forked test.
std::unique_ptr<TempDir> g_dir;
std::unique_ptr<ModelFixture> g_model;
std::string g_model_path;

void model_setup() {
  g_dir = std::make_unique<TempDir>();
  g_model = std::make_unique<ModelFixture>();
  const ModelConfig config = tiny_config();
  g_model->config_text = json::dump(dfd::model_config_to_json(config));
  std::vector<std::vector<float>> values;
  std::vector<dfd::NamedFloatTensor> named;
  size_t counter = 0;
  for (const dfd::ExpectedTensor &expected : dfd::expected_tensors(config)) {
    int64_t numel = 1;
    for (int64_t dim : expected.shape) numel *= dim;
    std::vector<float> data(static_cast<size_t>(numel));
    // Distinct, finite values, so a swapped or misread tensor shows.
    for (float &x : data) x = std::sin(static_cast<float>(++counter) * 0.001f);
    TensorSpec spec{expected.name, DType::F32, expected.shape,
                    std::vector<uint8_t>(data.size() * sizeof(float))};
    if (!data.empty()) std::memcpy(spec.bytes.data(), data.data(), spec.bytes.size());
    g_model->tensors.push_back(std::move(spec));
    values.push_back(std::move(data));
  }
  for (size_t i = 0; i < values.size(); ++i) {
    named.push_back({g_model->tensors[i].name, g_model->tensors[i].shape, values[i].data()});
  }
  g_model_path = g_dir->file("tiny.safetensors");
  dfd::write_model_file(g_model_path, config, named);
}

void model_teardown() {
  g_model.reset();
  g_dir.reset();
}

// Writes a model file from `tensors` with `config_text` as metadata (if non-null).
std::string write_variant(const std::string &name, const std::vector<TensorSpec> &tensors,
                          const std::map<std::string, std::string> &metadata) {
  std::vector<TensorToWrite> out;
  for (const TensorSpec &spec : tensors) {
    out.push_back({spec.name, spec.dtype, spec.shape, spec.bytes.data()});
  }
  const std::string path = g_dir->file(name);
  dfd::write_safetensors(path, metadata, out);
  return path;
}

std::map<std::string, std::string> config_metadata() {
  return {{"config", g_model->config_text}};
}

Outcome open_outcome(const std::string &path) {
  return outcome_of([&] { dfd::ModelFile::open(path); });
}

TensorSpec &spec_named(std::vector<TensorSpec> &tensors, const std::string &name) {
  for (TensorSpec &spec : tensors) {
    if (spec.name == name) return spec;
  }
  ck_abort_msg("no tensor %s in the layout", name.c_str());
  return tensors.front();
}

START_TEST(test_model_file_valid) {
  const dfd::ModelFile model = dfd::ModelFile::open(g_model_path);
  ck_assert(same_config(model.config(), tiny_config()));
  ck_assert_uint_eq(model.file().tensors().size(), g_model->tensors.size());
  for (const TensorSpec &spec : g_model->tensors) {
    const std::vector<float> values = model.tensor_as_float(spec.name);
    ck_assert_uint_eq(values.size() * sizeof(float), spec.bytes.size());
    ck_assert_int_eq(std::memcmp(values.data(), spec.bytes.data(), spec.bytes.size()), 0);
  }
  ASSERT_MODEL_ERROR(outcome_of([&] { model.tensor_as_float("nope"); }), g_model_path.c_str(),
                     "'nope'");
  // The layout really is the whole backbone plus the tiny transformer.
  ck_assert_ptr_nonnull(model.file().find("efficient_net._conv_stem.weight"));
  ck_assert_ptr_nonnull(model.file().find("head.weight"));
  ck_assert_int_eq(dfd::parameter_count(tiny_config()) > 3000000, 1);
}
END_TEST

START_TEST(test_model_file_half_precision) {
  std::vector<TensorSpec> tensors = g_model->tensors;
  TensorSpec &head = spec_named(tensors, "head.weight");  // shape [1, 4]
  ck_assert(head.shape == (std::vector<int64_t>{1, 4}));
  // F16: 1, -2, the smallest subnormal (2^-24), the largest finite (65504).
  const uint16_t f16[4] = {0x3C00, 0xC000, 0x0001, 0x7BFF};
  head.dtype = DType::F16;
  head.bytes.assign(reinterpret_cast<const uint8_t *>(f16),
                    reinterpret_cast<const uint8_t *>(f16) + sizeof f16);
  // BF16: 1, -3, the smallest subnormal, -0.
  TensorSpec &bias = spec_named(tensors, "norm.weight");  // shape [4]
  const uint16_t bf16[4] = {0x3F80, 0xC040, 0x0001, 0x8000};
  bias.dtype = DType::BF16;
  bias.bytes.assign(reinterpret_cast<const uint8_t *>(bf16),
                    reinterpret_cast<const uint8_t *>(bf16) + sizeof bf16);
  const std::string path = write_variant("half.safetensors", tensors, config_metadata());
  const dfd::ModelFile model = dfd::ModelFile::open(path);
  const std::vector<float> h = model.tensor_as_float("head.weight");
  ck_assert(h[0] == 1.f && h[1] == -2.f && h[2] == std::ldexp(1.f, -24) && h[3] == 65504.f);
  const std::vector<float> b = model.tensor_as_float("norm.weight");
  ck_assert(b[0] == 1.f && b[1] == -3.f && b[2] == std::ldexp(1.f, -133));
  ck_assert(b[3] == 0.f && std::signbit(b[3]));

  // F16 subnormals across the range, and a normal with a mantissa.
  const uint16_t more[4] = {0x03FF, 0x0200, 0x8001, 0x3555};
  head.dtype = DType::F16;
  head.bytes.assign(reinterpret_cast<const uint8_t *>(more),
                    reinterpret_cast<const uint8_t *>(more) + sizeof more);
  const dfd::ModelFile model2 =
      dfd::ModelFile::open(write_variant("half2.safetensors", tensors, config_metadata()));
  const std::vector<float> m = model2.tensor_as_float("head.weight");
  ck_assert(m[0] == 1023.f * std::ldexp(1.f, -24));
  ck_assert(m[1] == std::ldexp(1.f, -15));
  ck_assert(m[2] == -std::ldexp(1.f, -24));
  ck_assert(m[3] == 0x155 / 1024.f * 0.25f + 0.25f);  // 0.33325195...

  // Infinity and NaN are refused at load in both half formats.
  for (const uint16_t bits : {uint16_t{0x7C00}, uint16_t{0xFC00}, uint16_t{0x7E00}}) {
    const uint16_t bad[4] = {0x3C00, bits, 0, 0};
    head.dtype = DType::F16;
    head.bytes.assign(reinterpret_cast<const uint8_t *>(bad),
                      reinterpret_cast<const uint8_t *>(bad) + sizeof bad);
    ASSERT_MODEL_ERROR(open_outcome(write_variant("bad16.safetensors", tensors, config_metadata())),
                       "bad16.safetensors", "tensor 'head.weight'", "NaN or infinity");
  }
  head.dtype = DType::BF16;
  const uint16_t bad_bf16[4] = {0x3F80, 0x7F80, 0, 0};
  head.bytes.assign(reinterpret_cast<const uint8_t *>(bad_bf16),
                    reinterpret_cast<const uint8_t *>(bad_bf16) + sizeof bad_bf16);
  ASSERT_MODEL_ERROR(open_outcome(write_variant("badbf.safetensors", tensors, config_metadata())),
                     "tensor 'head.weight'", "NaN or infinity");
}
END_TEST

START_TEST(test_model_file_bad_tensors) {
  const std::string first = g_model->tensors.front().name;
  {  // NaN and infinity in a float32 tensor, anywhere in it
    std::vector<TensorSpec> tensors = g_model->tensors;
    TensorSpec &spec = tensors.back();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::memcpy(spec.bytes.data() + spec.bytes.size() - 4, &nan, 4);
    ASSERT_MODEL_ERROR(open_outcome(write_variant("nan.safetensors", tensors, config_metadata())),
                       "nan.safetensors", ("tensor '" + spec.name + "'").c_str(),
                       "contains NaN or infinity");
    tensors = g_model->tensors;
    const float inf = -std::numeric_limits<float>::infinity();
    std::memcpy(tensors.front().bytes.data(), &inf, 4);
    ASSERT_MODEL_ERROR(open_outcome(write_variant("inf.safetensors", tensors, config_metadata())),
                       ("tensor '" + first + "'").c_str(), "contains NaN or infinity");
  }
  {  // a shape that is not the config's (same byte count, so only the check can catch it)
    std::vector<TensorSpec> tensors = g_model->tensors;
    TensorSpec &spec = spec_named(tensors, "efficient_net._conv_stem.weight");  // [32, 3, 3, 3]
    spec.shape = {32, 27};
    ASSERT_MODEL_ERROR(
        open_outcome(write_variant("shape.safetensors", tensors, config_metadata())),
        "shape.safetensors",
        "tensor 'efficient_net._conv_stem.weight': shape [32, 27] but the config needs "
        "[32, 3, 3, 3]");
  }
  {  // an integer dtype of the same size
    std::vector<TensorSpec> tensors = g_model->tensors;
    spec_named(tensors, "head.bias").dtype = DType::I32;
    ASSERT_MODEL_ERROR(open_outcome(write_variant("dtype.safetensors", tensors, config_metadata())),
                       "dtype.safetensors",
                       "tensor 'head.bias': dtype I32 is not a floating-point type");
    tensors = g_model->tensors;
    TensorSpec &wide = spec_named(tensors, "head.bias");
    wide.dtype = DType::F64;
    wide.bytes.resize(8);
    ASSERT_MODEL_ERROR(open_outcome(write_variant("f64.safetensors", tensors, config_metadata())),
                       "tensor 'head.bias': dtype F64 is not a floating-point type");
  }
  {  // a tensor missing
    std::vector<TensorSpec> tensors = g_model->tensors;
    tensors.erase(tensors.begin() + 3);
    ASSERT_MODEL_ERROR(
        open_outcome(write_variant("missing.safetensors", tensors, config_metadata())),
        "missing.safetensors", ("missing tensor '" + g_model->tensors[3].name + "'").c_str());
  }
  {  // a tensor the config does not know
    std::vector<TensorSpec> tensors = g_model->tensors;
    tensors.push_back({"bogus.weight", DType::F32, {2}, std::vector<uint8_t>(8, 0)});
    ASSERT_MODEL_ERROR(open_outcome(write_variant("extra.safetensors", tensors, config_metadata())),
                       "extra.safetensors", "unexpected tensor 'bogus.weight'");
  }
  {  // a config that disagrees with the weights: both sides are reported
    json::Value config = json::parse(g_model->config_text);
    config["transformer"]["depth"] = 2;
    ASSERT_MODEL_ERROR(open_outcome(write_variant("depth.safetensors", g_model->tensors,
                                                  {{"config", json::dump(config)}})),
                       "depth.safetensors", "missing tensor 'transformer.blocks.1.");
    config["transformer"]["depth"] = 1;
    config["transformer"]["dim"] = 8;
    ASSERT_MODEL_ERROR(open_outcome(write_variant("dim.safetensors", g_model->tensors,
                                                  {{"config", json::dump(config)}})),
                       "dim.safetensors", "but the config needs");
  }
}
END_TEST

START_TEST(test_model_file_bad_config) {
  ASSERT_MODEL_ERROR(open_outcome(write_variant("noconfig.safetensors", g_model->tensors, {})),
                     "noconfig.safetensors", "no 'config' entry in the safetensors metadata");
  ASSERT_MODEL_ERROR(open_outcome(write_variant("otherkey.safetensors", g_model->tensors,
                                                {{"Config", g_model->config_text}})),
                     "no 'config' entry");
  ASSERT_MODEL_ERROR(open_outcome(write_variant("badjson.safetensors", g_model->tensors,
                                                {{"config", "{not json"}})),
                     "badjson.safetensors", "config is not valid JSON", "at byte ");
  const struct {
    const char *section;
    const char *key;
    const char *value;
    const char *field;
  } cases[] = {
      {"transformer", "heads", "0", "config field 'transformer.heads'"},
      {"input", "size", "48", "config field 'input.size'"},
      {"", "architecture", "\"vit\"", "config field 'architecture'"},
      {"", "threshold", "1.5", "config field 'threshold'"},
      {"", "extra", "{}", "config field 'extra'"},
      {"input", "std", "[0, 1, 1]", "config field 'input.std[0]'"},
  };
  for (const auto &item : cases) {
    json::Value config = json::parse(g_model->config_text);
    const json::Value replacement = json::parse(item.value);
    config = mutated(config, item.section, item.key, &replacement);
    const std::string path = write_variant(std::string("config-") + item.key + ".safetensors",
                                           g_model->tensors, {{"config", json::dump(config)}});
    ASSERT_MODEL_ERROR(open_outcome(path), (path + ": " + item.field).c_str());
  }
  // Other metadata is allowed beside the config.
  std::map<std::string, std::string> metadata = config_metadata();
  metadata["format"] = "pt";
  dfd::ModelFile::open(write_variant("extra-meta.safetensors", g_model->tensors, metadata));
}
END_TEST

START_TEST(test_model_file_truncation_fuzz) {
  const std::vector<uint8_t> whole = read_bytes(g_model_path);
  ck_assert_uint_gt(whole.size(), 1000000);
  const size_t header_end = 8 + header_length_of(whole);
  std::mt19937_64 rng(20240601);
  std::vector<size_t> cuts = {0, 7, 8, header_end - 1, header_end, whole.size() - 1};
  std::uniform_int_distribution<size_t> anywhere(0, whole.size() - 1);
  std::uniform_int_distribution<size_t> in_header(0, header_end);
  while (cuts.size() < 56) {
    cuts.push_back(cuts.size() % 3 == 0 ? in_header(rng) : anywhere(rng));
  }
  for (const size_t cut : cuts) {
    std::vector<uint8_t> bytes(whole.begin(), whole.begin() + static_cast<long>(cut));
    const Outcome outcome = model_outcome(std::move(bytes));
    ck_assert_msg(outcome.model_error, "cut at %zu of %zu: %s", cut, whole.size(),
                  outcome.message.c_str());
    ck_assert_msg(outcome.message.rfind(std::string(kLabel) + ": ", 0) == 0, "cut at %zu: %s", cut,
                  outcome.message.c_str());
  }
  // Single corrupted header bytes: refused with a ModelError, or (rarely, e.g. a digit in the
  // padding-free JSON that still makes a valid file) accepted, but never anything else.
  std::uniform_int_distribution<size_t> header_byte(0, header_end - 1);
  std::uniform_int_distribution<int> byte_value(0, 255);
  int refused = 0;
  for (int i = 0; i < 30; ++i) {
    std::vector<uint8_t> bytes = whole;
    const size_t at = header_byte(rng);
    bytes[at] = static_cast<uint8_t>(byte_value(rng));
    const Outcome outcome = model_outcome(std::move(bytes));
    ck_assert_msg(outcome.model_error || outcome.message == "no exception",
                  "byte %zu corrupted: %s", at, outcome.message.c_str());
    refused += outcome.model_error;
  }
  ck_assert_int_gt(refused, 20);
}
END_TEST

Suite *format_suite() {
  Suite *suite = suite_create("model-format");

  TCase *json_case = tcase_create("json");
  tcase_add_test(json_case, test_json_valid_documents);
  tcase_add_test(json_case, test_json_escapes_and_unicode);
  tcase_add_test(json_case, test_json_numbers);
  tcase_add_test(json_case, test_json_depth_limit);
  tcase_add_test(json_case, test_json_string_limit);
  tcase_add_test(json_case, test_json_duplicates_and_garbage);
  tcase_add_test(json_case, test_json_dump);
  suite_add_tcase(suite, json_case);

  TCase *safetensors_case = tcase_create("safetensors");
  tcase_add_test(safetensors_case, test_safetensors_round_trip);
  tcase_add_test(safetensors_case, test_safetensors_write_errors);
  tcase_add_test(safetensors_case, test_safetensors_padding_and_empty);
  tcase_add_test(safetensors_case, test_safetensors_truncated);
  tcase_add_test(safetensors_case, test_safetensors_header_length);
  tcase_add_test(safetensors_case, test_safetensors_bad_json);
  tcase_add_test(safetensors_case, test_safetensors_bad_entries);
  tcase_add_test(safetensors_case, test_safetensors_coverage);
  tcase_add_test(safetensors_case, test_safetensors_metadata_and_limits);
  suite_add_tcase(suite, safetensors_case);

  TCase *config_case = tcase_create("config");
  tcase_add_test(config_case, test_config_seed);
  tcase_add_test(config_case, test_config_spatial);
  tcase_add_test(config_case, test_config_bad_fields);
  suite_add_tcase(suite, config_case);

  TCase *model_case = tcase_create("model-file");
  tcase_add_unchecked_fixture(model_case, model_setup, model_teardown);
  tcase_set_timeout(model_case, 60);
  tcase_add_test(model_case, test_model_file_valid);
  tcase_add_test(model_case, test_model_file_half_precision);
  tcase_add_test(model_case, test_model_file_bad_tensors);
  tcase_add_test(model_case, test_model_file_bad_config);
  tcase_add_test(model_case, test_model_file_truncation_fuzz);
  suite_add_tcase(suite, model_case);
  return suite;
}

}  // namespace

int main() {
  SRunner *runner = srunner_create(format_suite());
  srunner_run_all(runner, CK_VERBOSE);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
