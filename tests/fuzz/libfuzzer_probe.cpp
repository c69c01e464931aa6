// Linked at configure time with the fuzz target's flags: proves that clang++ has libFuzzer and
// the ASan and UBSan runtimes before the fuzz target is added to the build.
#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *, size_t) {
  return 0;
}
