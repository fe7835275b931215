#include "common/file_watch.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace trousseau {

namespace {

constexpr std::uint32_t kFileEvents =
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF;
constexpr std::uint32_t kDirEvents = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                     IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

}  // namespace

/// The process's one inotify instance and the thread that reads it.
class FileWatcher {
 public:
  static FileWatcher& instance() {
    static FileWatcher* watcher = new FileWatcher;  // outlives every watch
    return *watcher;
  }

  Error attach() {
    std::lock_guard life(life_);
    if (watches_ == 0) {
      if (Error e = start(); !e.ok()) return e;
    }
    ++watches_;
    return {};
  }

  void detach(FileWatch* watch) {
    std::lock_guard life(life_);
    {
      std::lock_guard lock(mutex_);
      for (auto it = subscribers_.begin(); it != subscribers_.end();) {
        std::erase_if(it->second, [&](const Subscriber& s) { return s.watch == watch; });
        if (it->second.empty()) {
          ::inotify_rm_watch(inotify_, it->first);
          it = subscribers_.erase(it);
        } else {
          ++it;
        }
      }
    }
    // From here the thread cannot reach `watch`: it bumps under mutex_.
    if (--watches_ == 0) stop();
  }

  /// Watches `target` for `watch`; `entry` is the one name in a directory
  /// that concerns it ("" for the file itself).
  void arm(FileWatch* watch, const std::string& target, std::uint32_t mask, std::string entry) {
    std::lock_guard lock(mutex_);
    const int wd = ::inotify_add_watch(inotify_, target.c_str(), mask);
    if (wd < 0) return;  // missing for now: the directory above sees it come
    std::vector<Subscriber>& subs = subscribers_[wd];
    for (Subscriber& s : subs) {
      if (s.watch == watch) {
        s.entry = std::move(entry);
        return;
      }
    }
    subs.push_back({watch, std::move(entry)});
  }

 private:
  struct Subscriber {
    FileWatch* watch;
    std::string entry;
  };

  Error start() {
    inotify_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_ < 0) {
      return Error(Code::unavailable,
                   std::string("cannot watch files: inotify_init1: ") + std::strerror(errno));
    }
    wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_ < 0) {
      const int err = errno;
      ::close(inotify_);
      return Error(Code::unavailable,
                   std::string("cannot watch files: eventfd: ") + std::strerror(err));
    }
    thread_ = std::thread([this, inotify = inotify_, wake = wake_] { run(inotify, wake); });
    return {};
  }

  void stop() {
    const std::uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
    thread_.join();
    ::close(inotify_);
    ::close(wake_);
    inotify_ = wake_ = -1;
  }

  void run(int inotify, int wake) {
    alignas(inotify_event) char buffer[4096];
    pollfd fds[2] = {{inotify, POLLIN, 0}, {wake, POLLIN, 0}};
    for (;;) {
      if (::poll(fds, 2, -1) < 0) continue;  // EINTR
      if (fds[1].revents != 0) return;
      const ssize_t n = ::read(inotify, buffer, sizeof buffer);
      if (n > 0) dispatch(buffer, static_cast<std::size_t>(n));
    }
  }

  void dispatch(const char* buffer, std::size_t n) {
    std::lock_guard lock(mutex_);
    for (std::size_t at = 0; at + sizeof(inotify_event) <= n;) {
      inotify_event event;
      std::memcpy(&event, buffer + at, sizeof event);
      const char* name = buffer + at + sizeof event;
      at += sizeof event + event.len;
      if (event.mask & IN_Q_OVERFLOW) {  // events were lost: anything may have changed
        for (auto& [wd, subs] : subscribers_) {
          for (Subscriber& s : subs) s.watch->bump();
        }
        continue;
      }
      auto it = subscribers_.find(event.wd);
      if (it == subscribers_.end()) continue;
      for (Subscriber& s : it->second) {
        // The file itself, a directory's own change, or our entry in it.
        if (s.entry.empty() || event.len == 0 || (event.mask & IN_IGNORED) ||
            std::strncmp(name, s.entry.c_str(), event.len) == 0) {
          s.watch->bump();
        }
      }
      if (event.mask & IN_IGNORED) subscribers_.erase(it);  // gone with its inode
    }
  }

  std::mutex life_;   // attach/detach: starting and stopping the thread
  std::mutex mutex_;  // subscribers_, and every bump
  std::size_t watches_ = 0;
  int inotify_ = -1;
  int wake_ = -1;
  std::thread thread_;
  std::map<int, std::vector<Subscriber>> subscribers_;
};

Result<std::unique_ptr<FileWatch>> FileWatch::start(std::string path) {
  if (Error e = FileWatcher::instance().attach(); !e.ok()) return e;
  auto watch = std::unique_ptr<FileWatch>(new FileWatch(std::move(path)));
  watch->rearm();
  return watch;
}

FileWatch::~FileWatch() { FileWatcher::instance().detach(this); }

void FileWatch::rearm() {
  FileWatcher& watcher = FileWatcher::instance();
  const std::filesystem::path file(path_);
  const std::filesystem::path parent = file.parent_path();
  watcher.arm(this, path_, kFileEvents, "");
  if (parent.empty()) return;
  watcher.arm(this, parent.string(), kDirEvents, file.filename().string());
  const std::filesystem::path grandparent = parent.parent_path();
  if (!grandparent.empty() && grandparent != parent) {
    watcher.arm(this, grandparent.string(), kDirEvents, parent.filename().string());
  }
}

}  // namespace trousseau
