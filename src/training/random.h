// Random draws for the data pipeline, defined on std::mt19937's raw output rather than on the
// standard distributions, whose algorithms differ between standard libraries: a seed then
// gives the same pseudo-fakes and augmentations with any compiler.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <random>

namespace dfd::training {

using Rng = std::mt19937;

// splitmix64's finaliser: spreads every input bit over the output, so seeds derived from
// (run seed, epoch, index) are independent even when the inputs differ by one.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline uint64_t derive_seed(uint64_t base, std::initializer_list<uint64_t> parts) {
  uint64_t seed = mix64(base);
  for (const uint64_t part : parts) seed = mix64(seed ^ mix64(part));
  return seed;
}

// mt19937 takes 32 bits of seed; both halves are folded in.
inline Rng make_rng(uint64_t seed) {
  return Rng(static_cast<uint32_t>(seed ^ (seed >> 32)));
}

// Uniform in [0, 1) with 53 random bits.
inline double uniform01(Rng &rng) {
  const uint64_t high = rng() >> 5;  // 27 bits
  const uint64_t low = rng() >> 6;   // 26 bits
  return static_cast<double>((high << 26) | low) * (1.0 / 9007199254740992.0);
}

inline double uniform(Rng &rng, double low, double high) {
  return low + (high - low) * uniform01(rng);
}

// Uniform integer in [low, high], both included.
inline int uniform_int(Rng &rng, int low, int high) {
  const double span = static_cast<double>(high) - low + 1.0;
  const int value = low + static_cast<int>(std::floor(uniform01(rng) * span));
  return value > high ? high : value;
}

inline bool chance(Rng &rng, double probability) {
  return uniform01(rng) < probability;
}

// Standard normal by Box-Muller (one value per call; simplicity over speed).
inline double normal(Rng &rng) {
  const double u1 = 1.0 - uniform01(rng);  // (0, 1]: log stays finite
  const double u2 = uniform01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace dfd::training
