#include "quorum/write_state.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/fd.hpp"
#include "common/text.hpp"

namespace trousseau::quorum {

namespace json = boost::json;

std::string WriteState::names() const {
  return join(std::vector<std::string>(missing.begin(), missing.end()), ",");
}

Result<WriteState> load_write_state(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (!std::filesystem::exists(path)) return WriteState{};
    return unavailable("cannot read state file " + path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  const json::object* o = ec ? nullptr : v.if_object();
  if (o == nullptr) return Error(Code::failed_precondition, "state file " + path + " is corrupt");
  const json::value* version = o->if_contains("version");
  bool counts = true;
  if (version == nullptr) {
    // The earlier format: names counted only while "degraded" was true.
    const json::value* g = o->if_contains("generation");
    const json::value* d = o->if_contains("degraded");
    if (g == nullptr || !(g->is_uint64() || (g->is_int64() && g->as_int64() >= 0)) ||
        (d != nullptr && !d->is_bool())) {
      return Error(Code::failed_precondition, "state file " + path + " is corrupt");
    }
    counts = d != nullptr && d->as_bool();
  } else if (!version->is_int64() || version->as_int64() != 2) {
    return Error(Code::failed_precondition, "state file " + path + ": unknown version");
  }
  WriteState s;
  const json::value* m = o->if_contains("missing");
  if (m == nullptr && version == nullptr) return s;
  if (m == nullptr || !m->is_array()) {
    return Error(Code::failed_precondition, "state file " + path + ": bad \"missing\"");
  }
  for (const json::value& name : m->as_array()) {
    if (!name.is_string() || name.as_string().empty()) {
      return Error(Code::failed_precondition, "state file " + path + ": bad \"missing\"");
    }
    if (counts) s.missing.insert(std::string(name.as_string()));
  }
  return s;
}

Error save_write_state(const std::string& path, const WriteState& state) {
  json::object o;
  o["version"] = 2;
  json::array missing;
  for (const std::string& m : state.missing) missing.emplace_back(m);
  o["missing"] = std::move(missing);
  const std::string text = json::serialize(o) + "\n";

  std::filesystem::path p(path);
  std::error_code ec;
  std::filesystem::create_directories(p.parent_path(), ec);
  const std::string tmp = path + ".tmp";
  // O_EXCL | O_NOFOLLOW: never write through a link or into a file someone
  // else prepared. A temp file left by a crash (or planted) is removed
  // (unlink removes a link, never its target) and creation tried once more.
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  UniqueFd fd(::open(tmp.c_str(), kFlags, 0600));
  if (!fd && errno == EEXIST && ::unlink(tmp.c_str()) == 0) {
    fd.reset(::open(tmp.c_str(), kFlags, 0600));
  }
  if (!fd) return unavailable("cannot write " + tmp + ": " + std::strerror(errno));
  bool ok = ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd.get()) == 0;
  int err = errno;
  fd.reset();
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    return unavailable("cannot write " + path + ": " + std::strerror(err));
  }
  // Makes the rename itself durable; best effort.
  if (UniqueFd dir(::open(p.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); dir) {
    ::fsync(dir.get());
  }
  return {};
}

}  // namespace trousseau::quorum
