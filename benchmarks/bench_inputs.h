// What the benchmark programs feed the engine: model-input face crops read from a raw file
// (so that a reference implementation can be fed the very same faces) or random bytes (speed
// does not depend on what the pixels show), and their comma-separated number lists.
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace dfd::bench {

inline std::vector<int> parse_int_list(const std::string &text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stoi(item));
  return out;
}

// `path`: raw uint8 N x size x size x 3 crops in the model's colour order; empty: 8 random
// faces. Throws std::runtime_error when the file is empty or not a whole number of crops.
inline std::vector<uint8_t> load_face_pool(const std::string &path, int size) {
  const size_t face_bytes = static_cast<size_t>(size) * size * 3;
  std::vector<uint8_t> pool;
  if (path.empty()) {
    std::mt19937 rng(1);
    pool.resize(face_bytes * 8);
    for (auto &b : pool) b = static_cast<uint8_t>(rng() & 0xff);
    return pool;
  }
  std::ifstream in(path, std::ios::binary);
  pool.assign(std::istreambuf_iterator<char>(in), {});
  if (pool.empty() || pool.size() % face_bytes != 0) {
    throw std::runtime_error(path + " is not a whole number of " + std::to_string(size) + "x" +
                             std::to_string(size) + "x3 crops");
  }
  return pool;
}

}  // namespace dfd::bench
