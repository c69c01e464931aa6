// The image folders a run trains and validates on, and their split. The split depends on the
// file name alone (never on the folder, the machine or the order a directory lists), so every
// machine and every rerun agrees on which files are held out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dfd::training {

struct ImageEntry {
  std::string path;    // as opened
  std::string name;    // basename: the split key
  std::string folder;  // the folder as given on the command line, for per-folder figures
  std::string source;  // source_name(folder)
  bool fake = false;
  bool validation = false;
};

// The data source a folder belongs to: its name, or its parent's where the folder is named
// "real" or "fake" ("faces/dfdc/real" -> "dfdc", "faces/real-photos" -> "real-photos"). Reals and
// fakes of one source pair up, and config weights and per-source figures use this name.
std::string source_name(const std::string &folder);

// 32-bit FNV-1a: tiny, fixed by definition, and the same on every platform and compiler.
uint32_t fnv1a(std::string_view text);

// A file is held out when fnv1a(basename) % 100 < val_percent.
bool is_validation_name(std::string_view basename, int val_percent);

// Regular files with an image extension (jpg, jpeg, png, bmp, webp; any case) under `dir`,
// recursively, sorted by path so runs see the same order. Throws std::runtime_error when the
// folder cannot be read or holds no image.
std::vector<ImageEntry> scan_image_folder(const std::string &dir, bool fake, int val_percent);

struct Dataset {
  std::vector<ImageEntry> train_real, train_fake, val_real, val_fake;
  std::vector<std::string> real_folders, fake_folders;
};

// Scans every folder and splits it. Throws std::runtime_error for unreadable or empty folders
// and when a split needed by the run is empty (named, so the user knows which).
Dataset load_dataset(const std::vector<std::string> &real_dirs,
                     const std::vector<std::string> &fake_dirs, int val_percent);

}  // namespace dfd::training
