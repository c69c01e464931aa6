#include "dataset.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>

namespace dfd::training {

namespace fs = std::filesystem;

std::string source_name(const std::string &folder) {
  fs::path path = fs::path(folder).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();  // "a/b/" names b
  const std::string name = path.filename().string();
  if ((name == "real" || name == "fake") && path.has_parent_path()) {
    const std::string parent = path.parent_path().filename().string();
    if (!parent.empty() && parent != "." && parent != "..") return parent;
  }
  return name;
}

uint32_t fnv1a(std::string_view text) {
  uint32_t hash = 2166136261u;
  for (const char c : text) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 16777619u;
  }
  return hash;
}

bool is_validation_name(std::string_view basename, int val_percent) {
  return static_cast<int>(fnv1a(basename) % 100u) < val_percent;
}

static bool has_image_extension(const fs::path &path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".webp";
}

std::vector<ImageEntry> scan_image_folder(const std::string &dir, bool fake, int val_percent) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    throw std::runtime_error(dir + ": not a readable folder");
  }
  std::vector<ImageEntry> out;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, error);
  if (error) throw std::runtime_error(dir + ": cannot list: " + error.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (error) throw std::runtime_error(dir + ": cannot list: " + error.message());
    if (!it->is_regular_file(error) || !has_image_extension(it->path())) continue;
    ImageEntry entry;
    entry.path = it->path().string();
    entry.name = it->path().filename().string();
    entry.folder = dir;
    entry.source = source_name(dir);
    entry.fake = fake;
    entry.validation = is_validation_name(entry.name, val_percent);
    out.push_back(std::move(entry));
  }
  if (out.empty()) throw std::runtime_error(dir + ": no images (jpg, jpeg, png, bmp, webp)");
  std::sort(out.begin(), out.end(),
            [](const ImageEntry &a, const ImageEntry &b) { return a.path < b.path; });
  return out;
}

Dataset load_dataset(const std::vector<std::string> &real_dirs,
                     const std::vector<std::string> &fake_dirs, int val_percent) {
  if (real_dirs.empty()) throw std::runtime_error("no folder of real faces given (--real)");
  Dataset data;
  const auto add = [&](const std::string &dir, bool fake) {
    for (ImageEntry &entry : scan_image_folder(dir, fake, val_percent)) {
      auto &list = fake ? (entry.validation ? data.val_fake : data.train_fake)
                        : (entry.validation ? data.val_real : data.train_real);
      list.push_back(std::move(entry));
    }
    (fake ? data.fake_folders : data.real_folders).push_back(dir);
  };
  for (const std::string &dir : real_dirs) add(dir, false);
  for (const std::string &dir : fake_dirs) add(dir, true);
  if (data.train_real.empty()) {
    throw std::runtime_error("every real image fell into the validation split (val_percent " +
                             std::to_string(val_percent) + "): nothing to train on");
  }
  if (val_percent > 0 && data.val_real.empty()) {
    throw std::runtime_error("no real image fell into the validation split (val_percent " +
                             std::to_string(val_percent) + "): add images or raise it");
  }
  return data;
}

}  // namespace dfd::training
