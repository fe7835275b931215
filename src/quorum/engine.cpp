#include "quorum/engine.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>

#include "common/log.hpp"
#include "common/text.hpp"

namespace trousseau::quorum {

Engine::Engine(asio::io_context& io, const config::Config& cfg,
               std::vector<std::shared_ptr<ManagedProvider>> providers, std::string state_path,
               std::optional<asio::any_io_executor> state_writer)
    : io_(io), cfg_(cfg), owned_(std::move(providers)), state_path_(std::move(state_path)) {
  if (state_writer) {
    state_writer_ = *state_writer;
  } else {
    own_writer_.emplace(1);  // one thread: writes land in the order they were queued
    state_writer_ = own_writer_->get_executor();
  }
  for (const auto& names : cfg_.policy.slots) {
    std::vector<ManagedProvider*> slot;
    for (const std::string& name : names) {
      ManagedProvider* p = find(name);
      assert(p != nullptr && "policy names a provider that was not built");
      slot.push_back(p);
    }
    slots_.push_back(std::move(slot));
  }
  if (!state_path_.empty()) {
    auto loaded = load_write_state(state_path_);
    if (loaded.ok()) {
      // Names the configuration no longer has cannot be waited for.
      for (const std::string& name : loaded->missing) {
        if (find(name) != nullptr) writes_.missing.insert(name);
      }
      if (writes_.degraded()) degraded_since_ = Clock::now();
    } else {
      // Safe to start clean: envelopes written degraded carry their own
      // key_id, so they stay stale whatever this node reports. At worst
      // the first Encrypt during an outage answers a key_id that Status
      // had not reported yet, and apiserver asks again.
      log::error("cannot load the write state; assuming complete writes",
                 {{"error", loaded.error().message()}});
    }
  }
}

Engine::~Engine() {
  if (own_writer_) own_writer_->join();  // every queued state write lands first
}

ManagedProvider* Engine::find(std::string_view name) const {
  for (const auto& p : owned_) {
    if (p->name() == name) return p.get();
  }
  return nullptr;
}

std::vector<std::size_t> Engine::forgeable_slots() const {
  std::vector<std::size_t> out;
  for (std::size_t s = 0; s < slots_.size(); ++s) {
    for (const ManagedProvider* p : slots_[s]) {
      if (p->provider().anyone_can_wrap()) {
        out.push_back(s);
        break;
      }
    }
  }
  return out;
}

std::vector<ManagedProvider*> Engine::providers() const {
  std::vector<ManagedProvider*> out;
  for (const auto& p : owned_) out.push_back(p.get());
  return out;
}

Counters Engine::counters() const {
  Counters c;
  {
    std::lock_guard lock(mutex_);
    c.degraded_encrypts = degraded_encrypts_;
  }
  c.bad_shares = bad_shares_.load(std::memory_order_relaxed);
  c.hedges = hedges_.load(std::memory_order_relaxed);
  c.forgeries_refused = forgeries_refused_.load(std::memory_order_relaxed);
  c.earlier_policy_reads = earlier_policy_reads_.load(std::memory_order_relaxed);
  c.legacy_reads = legacy_reads_.load(std::memory_order_relaxed);
  c.combinations_tried = combinations_tried_.load(std::memory_order_relaxed);
  return c;
}

WriteState Engine::write_state() const {
  std::lock_guard lock(mutex_);
  return writes_;
}

std::string Engine::key_id() const {
  std::lock_guard lock(mutex_);
  return key_id_locked();
}

std::string Engine::key_id_locked() const {
  std::string canonical = "trousseau key_id v2\nthreshold " + std::to_string(cfg_.policy.threshold) +
                          "\nmin_encrypt_slots " + std::to_string(cfg_.policy.min_encrypt_slots);
  for (const auto& slot : slots_) {
    canonical += "\nslot";
    for (const ManagedProvider* p : slot) {
      canonical += " " + p->name() + "=" + p->provider().type() + ":" +
                   p->provider().key_identity();
    }
  }
  // Only what every node can observe alike: no counter, no history. The
  // names of providers a degraded write missed are the one exception, and
  // they leave again when those providers are healthy.
  if (writes_.degraded()) {
    canonical += "\nwrites without";
    for (const std::string& name : writes_.missing) canonical += " " + name;
  }
  Bytes digest = sha256({as_bytes(canonical)});
  return "trousseau-" + hex_encode(ByteView(digest).first(20));
}

Status Engine::status() const {
  Status s;
  std::size_t healthy_slots = 0;
  for (const auto& slot : slots_) {
    bool any = false;
    for (const ManagedProvider* p : slot) {
      if (p->healthy()) {
        any = true;
      } else {
        s.detail += (s.detail.empty() ? "" : "; ") + p->name() + ": " + p->health().last_error;
      }
    }
    healthy_slots += any ? 1 : 0;
  }
  // W >= k, so reaching W covers decryption too.
  s.healthy = healthy_slots >= cfg_.policy.min_encrypt_slots &&
              healthy_slots >= cfg_.policy.threshold;
  s.key_id = key_id();
  return s;
}

void Engine::persist_locked() {
  if (state_path_.empty()) return;
  // Called under the lock from a request or probe strand: the write and its
  // fsyncs go to the writer, with a snapshot, so no strand waits for a disk.
  // The job owns what it reads; it may outlive the engine when the writer
  // is not ours.
  asio::post(state_writer_, [path = state_path_, snapshot = writes_] {
    if (Error e = save_write_state(path, snapshot); !e.ok()) {
      log::error("cannot save the write state", {{"error", e.message()}});
    }
  });
}

std::string Engine::note_degraded(const std::vector<std::string>& missing) {
  std::lock_guard lock(mutex_);
  ++degraded_encrypts_;
  degraded_since_ = Clock::now();
  const std::size_t before = writes_.missing.size();
  writes_.missing.insert(missing.begin(), missing.end());
  if (writes_.missing.size() != before) {
    persist_locked();
    log::warn("writes are degraded; key_id names the missing providers until they are healthy",
              {{"missing", writes_.names()}});
  }
  return key_id_locked();
}

void Engine::on_health_changed() {
  std::lock_guard lock(mutex_);
  if (!writes_.degraded()) return;
  for (const std::string& name : writes_.missing) {
    const ManagedProvider* p = find(name);
    if (p == nullptr) continue;
    // Seen healthy by a probe that started after the newest degraded
    // write. A provider counts as healthy before its first probe (so that
    // requests may try it), which after a restart says nothing; and a probe
    // already on its way when the outage began can answer well after the
    // write that missed the provider.
    const HealthSnapshot h = p->health();
    // (A provider never probed has no good probe start, so it never counts.)
    if (!h.healthy || h.good_probe_started < degraded_since_) return;
  }
  const std::string names = writes_.names();
  writes_.missing.clear();
  persist_locked();
  log::info("the providers degraded writes missed are healthy; key_id is that of complete writes again",
            {{"key_id", key_id_locked()}, {"were_missing", names}});
}

Error aggregate_failures(const std::string& what,
                         const std::vector<std::pair<std::string, Error>>& failures) {
  bool all_data = !failures.empty();
  bool exhausted = false;
  bool other = false;
  std::string detail;
  for (const auto& [name, e] : failures) {
    const bool data = e.code() == Code::integrity || e.code() == Code::invalid_argument;
    all_data = all_data && data;
    if (e.code() == Code::resource_exhausted) {
      exhausted = true;
    } else if (!data) {
      other = true;
    }
    detail += "; [" + name + "] " + e.message();
  }
  Code code = Code::unavailable;
  if (all_data) {
    code = Code::invalid_argument;
  } else if (exhausted && !other) {
    code = Code::resource_exhausted;
  }
  return Error(code, what + detail);
}

}  // namespace trousseau::quorum
