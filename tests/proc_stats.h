// Resident memory, open file descriptors and threads of this process, read from /proc/self:
// the figures that leak checks (state cycles, the soak) compare over time.
#pragma once

#include <dirent.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace dfd::testing {

struct ProcStats {
  long rss_kb = -1;
  int fds = -1;
  int threads = -1;
  // Threads GLib's shared pool started that have not yet run anything else (named
  // "pool-<program>"): it spawns them for short jobs (gst_element_call_async) and retires them
  // after 15 s idle, on its own schedule.
  int pool_threads = -1;
  // Pages the process faulted in without disk I/O since it started: memory handed back to
  // the OS and taken again shows here long before it shows as speed.
  long minor_faults = -1;
};

inline ProcStats proc_stats() {
  ProcStats stats;
  if (FILE *status = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, status) != nullptr) {
      long value = 0;
      if (std::sscanf(line, "VmRSS: %ld", &value) == 1) stats.rss_kb = value;
      if (std::sscanf(line, "Threads: %ld", &value) == 1) stats.threads = static_cast<int>(value);
    }
    std::fclose(status);
  }
  if (DIR *dir = opendir("/proc/self/task")) {
    stats.pool_threads = 0;
    while (const dirent *entry = readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      const std::string comm_path = std::string("/proc/self/task/") + entry->d_name + "/comm";
      if (FILE *comm = std::fopen(comm_path.c_str(), "r")) {
        char name[32] = {};
        if (std::fgets(name, sizeof name, comm) != nullptr && std::strncmp(name, "pool-", 5) == 0)
          ++stats.pool_threads;
        std::fclose(comm);
      }
    }
    closedir(dir);
  }
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) stats.minor_faults = usage.ru_minflt;
  if (DIR *dir = opendir("/proc/self/fd")) {
    int count = 0;
    while (const dirent *entry = readdir(dir)) {
      if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) ++count;
    }
    closedir(dir);
    // The directory stream itself holds one descriptor while it is read.
    stats.fds = count - 1;
  }
  return stats;
}

}  // namespace dfd::testing
