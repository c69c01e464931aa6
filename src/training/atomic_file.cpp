#include "atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace dfd::training {

namespace {

[[noreturn]] void fail(const std::string &path, const std::string &what, int error) {
  throw std::runtime_error(path + ": " + what + ": " + std::strerror(error));
}

class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  Descriptor(const Descriptor &) = delete;
  Descriptor &operator=(const Descriptor &) = delete;
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // close() can report a failed delayed write, so the success path checks it.
  int close() {
    const int result = ::close(fd_);
    fd_ = -1;
    return result;
  }

 private:
  int fd_;
};

}  // namespace

void write_file_atomically(const std::string &path, const std::string &contents) {
  const std::string temporary = path + ".tmp";
  {
    Descriptor fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) fail(temporary, "cannot create", errno);
    const char *bytes = contents.data();
    size_t left = contents.size();
    while (left > 0) {
      const ssize_t written = ::write(fd.get(), bytes, left);
      if (written < 0) {
        if (errno == EINTR) continue;
        const int error = errno;
        ::unlink(temporary.c_str());
        fail(temporary, "cannot write", error);
      }
      bytes += written;
      left -= static_cast<size_t>(written);
    }
    if (::fsync(fd.get()) != 0 || fd.close() != 0) {
      const int error = errno;
      ::unlink(temporary.c_str());
      fail(temporary, "cannot flush", error);
    }
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    fail(path, "cannot replace", error);
  }
}

std::string read_whole_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open", errno);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(path, "cannot read", errno);
  return text.str();
}

}  // namespace dfd::training
