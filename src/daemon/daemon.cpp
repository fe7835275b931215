#include "daemon/daemon.hpp"

#include <filesystem>

#include "common/log.hpp"
#include "config/listen.hpp"
#include "telemetry/readiness.hpp"

namespace trousseau::daemon {

namespace asio = boost::asio;

namespace {

/// Reload can change much, but not what start() bound.
Error check_fixed(const config::Config& running, const config::Config& next) {
  std::vector<std::string> changed;
  if (running.socket != next.socket) changed.push_back("socket");
  if (running.socket_group != next.socket_group) changed.push_back("socket_group");
  if (running.state_dir != next.state_dir) changed.push_back("state_dir");
  if (running.telemetry.listen != next.telemetry.listen) changed.push_back("telemetry.listen");
  if (running.sops_keyservice.socket != next.sops_keyservice.socket) {
    changed.push_back("sops_keyservice.socket");
  }
  if (changed.empty()) return {};
  std::string names;
  for (const auto& c : changed) names += (names.empty() ? "" : ", ") + c;
  return Error(Code::failed_precondition, "changing " + names + " needs a restart");
}

}  // namespace

Daemon::Daemon(const config::Config& cfg, Options options)
    : options_(std::move(options)),
      socket_path_(cfg.socket),
      socket_group_(cfg.socket_group),
      state_dir_(cfg.state_dir),
      telemetry_listen_(cfg.telemetry.listen),
      metrics_(TROUSSEAU_VERSION) {}

Result<std::unique_ptr<Daemon>> Daemon::create(const config::Config& cfg, Options options) {
  std::unique_ptr<Daemon> d(new Daemon(cfg, std::move(options)));
  auto generation = d->build(cfg);
  if (!generation.ok()) return generation.error();
  d->current_ = std::move(generation.value());
  d->engines_.set(d->current_->engine);
  d->note_load(true);
  d->server_ = std::make_unique<kms::Server>(
      kms::SocketOptions{cfg.socket, cfg.socket_group},
      kms::ServiceContext{d->engines_, d->inflight_, d->metrics_});
  if (cfg.sops_keyservice.socket) {
    // Always 0600: socket_group opens the KMS socket to kube-apiserver's
    // group, which is no reason to open this one to it.
    d->sops_server_ = std::make_unique<kms::Server>(
        kms::SocketOptions{*cfg.sops_keyservice.socket, std::nullopt},
        kms::ServiceContext{d->engines_, d->inflight_, d->metrics_}, kms::Surface::sops);
  }
  return d;
}

Daemon::~Daemon() { shutdown(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<Daemon::Generation>> Daemon::build(const config::Config& cfg) {
  // reload_mutex_ held, or called from create().
  const bool same_health = current_ && current_->cfg.health == cfg.health;
  providers::ProviderContext context{io_.get_executor(), options_.create_missing_keys};
  std::vector<std::shared_ptr<quorum::ManagedProvider>> managed;
  for (const config::ProviderConfig& pc : cfg.providers) {
    auto kept = providers_.find(pc.name);
    if (same_health && kept != providers_.end() && fingerprints_[pc.name] == pc.fingerprint) {
      managed.push_back(kept->second);
      continue;
    }
    auto p = config::create_provider(pc, context);
    if (!p.ok()) return p.error();
    auto m = std::make_shared<quorum::ManagedProvider>(std::move(p.value()), pc, cfg.health,
                                                       io_.get_executor());
    m->set_observer(metrics_.provider_observer(pc.name));
    managed.push_back(std::move(m));
  }
  auto g = std::make_unique<Generation>();
  g->cfg = cfg;
  const std::string state = (std::filesystem::path(cfg.state_dir) / "state.json").string();
  g->engine = std::make_shared<quorum::Engine>(io_, cfg, managed, state, state_writer_.get_executor());
  g->engine->set_observer(metrics_.engine_observer());
  g->health = std::make_unique<quorum::HealthMonitor>(*g->engine, io_);
  // Only now, with nothing left to fail: the set in force.
  std::map<std::string, std::shared_ptr<quorum::ManagedProvider>> by_name;
  std::map<std::string, std::string> prints;
  for (std::size_t i = 0; i < cfg.providers.size(); ++i) {
    by_name[cfg.providers[i].name] = managed[i];
    prints[cfg.providers[i].name] = cfg.providers[i].fingerprint;
  }
  providers_ = std::move(by_name);
  fingerprints_ = std::move(prints);
  return g;
}

namespace {

/// Public-key wraps (Provider::anyone_can_wrap) are confidential, not
/// authentic: when such slots alone reach the threshold, whoever can write
/// to etcd can make envelopes the plugin opens, with no KMS. Said at start
/// and at each reload, as an error: the operator decides.
void warn_if_forgeable(const quorum::Engine& engine) {
  const std::vector<std::size_t> slots = engine.forgeable_slots();
  const unsigned k = engine.config().policy.threshold;
  if (slots.size() < k) return;
  std::string names;
  for (std::size_t s : slots) {
    for (const quorum::ManagedProvider* p : engine.slots()[s]) {
      if (p->provider().anyone_can_wrap()) names += (names.empty() ? "" : ",") + p->name();
    }
  }
  log::error("the policy can be forged with public keys alone: an envelope opens with shares that "
             "anyone holding these providers' public keys can wrap; raise the threshold or add a "
             "slot of symmetric keys (docs/providers/azure.md#authenticity)",
             {{"providers", names}, {"forgeable_slots", slots.size()}, {"threshold", k}});
}

}  // namespace

Error Daemon::start() {
  const unsigned n =
      options_.threads ? options_.threads : std::max(2u, std::thread::hardware_concurrency());
  work_.emplace(io_.get_executor());
  for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { io_.run(); });
  {
    std::lock_guard lock(reload_mutex_);
    current_->health->start();
  }
  current_->health->wait_first_round(options_.first_probe_wait);
  warn_if_forgeable(*current_->engine);
  for (quorum::ManagedProvider* p : current_->engine->providers()) {
    const auto h = p->health();
    if (!h.probed) {
      log::warn("first probe still running", {{"provider", p->name()}});
    } else if (!h.healthy) {
      log::warn("unhealthy at start", {{"provider", p->name()}, {"error", h.last_error}});
    }
  }
  if (telemetry_listen_) {
    auto at = config::parse_listen_address(*telemetry_listen_);
    if (!at.ok()) return at.error();
    auto http = telemetry::HttpServer::bind(
        io_, at.value(), [this](const std::string& path, const std::string& query) {
          return answer(path, query);
        });
    if (!http.ok()) return http.error();
    http_ = std::move(http.value());
    http_->start();
    std::ostringstream where;
    where << http_->local_endpoint();
    log::info("telemetry listening", {{"address", where.str()}});
  }
  if (Error e = server_->start(); !e.ok()) return e;
  if (sops_server_) {
    if (Error e = sops_server_->start(); !e.ok()) return e.prefixed("sops_keyservice");
    log::info("serving SOPS's key service", {{"socket", sops_server_->socket_path()}});
  }
  started_ = true;
  log::info("serving", {{"socket", socket_path_}, {"key_id", engine()->key_id()}});

  if (!options_.config_path.empty() && options_.watch_config) {
    auto watch = FileWatch::start(options_.config_path);
    if (watch.ok()) {
      config_watch_ = std::move(watch.value());
      loaded_watch_generation_ = config_watch_->generation();
      config_watch_->rearm();
    } else {
      log::warn("configuration file changes are not watched; reload with SIGHUP",
                {{"error", watch.error().message()}});
    }
  }
  control_ = std::thread([this] { control_loop(); });
  return {};
}

void Daemon::request_reload() {
  {
    std::lock_guard lock(control_mutex_);
    reload_requested_ = true;
  }
  control_cv_.notify_one();
}

void Daemon::control_loop() {
  std::unique_lock lock(control_mutex_);
  while (!control_stop_) {
    // The file watch is one atomic load; looking at it each interval costs
    // nothing and needs no io thread.
    control_cv_.wait_for(lock, options_.watch_interval,
                         [this] { return reload_requested_ || control_stop_; });
    if (control_stop_) break;
    const bool changed =
        config_watch_ && config_watch_->generation() != loaded_watch_generation_;
    if (!reload_requested_ && !changed) continue;
    reload_requested_ = false;
    if (changed) {
      loaded_watch_generation_ = config_watch_->generation();
      config_watch_->rearm();  // before reading: a later change is seen again
      log::info("configuration file changed; reloading", {{"path", options_.config_path}});
    }
    lock.unlock();
    (void)reload();
    lock.lock();
  }
}

Error Daemon::reload() {
  config::Diagnostics diag;
  auto cfg = config::load_file(options_.config_path, diag);
  if (!cfg) {
    std::string why;
    for (const std::string& e : diag.errors()) why += (why.empty() ? "" : "; ") + e;
    log::error("reload failed; the running configuration stays in force",
               {{"path", options_.config_path}, {"error", why}});
    std::lock_guard lock(reload_mutex_);
    note_load(false);
    return invalid_argument(options_.config_path + ": " + why);
  }
  return apply(*cfg);
}

Error Daemon::apply(const config::Config& cfg) {
  std::lock_guard lock(reload_mutex_);
  if (stopped_) return Error(Code::failed_precondition, "shutting down");
  Error fixed = check_fixed(current_->cfg, cfg);
  auto next = fixed.ok() ? build(cfg) : Result<std::unique_ptr<Generation>>(fixed);
  if (!next.ok()) {
    log::error("reload failed; the running configuration stays in force",
               {{"error", next.error().message()}});
    note_load(false);
    return next.error();
  }
  const std::string before = current_->engine->key_id();
  log::set_level(cfg.log_level);
  log::set_format(cfg.log_format);
  if (started_) next.value()->health->start();
  engines_.set(next.value()->engine);
  // The old probes stop. The old engine lives on while requests, their
  // straggling provider calls or a last probe hold it; once only this list
  // does, it is freed here, off the io threads.
  current_->health.reset();  // stops its loops
  retired_.push_back(std::move(current_->engine));
  current_ = std::move(next.value());
  std::erase_if(retired_, [](const std::shared_ptr<quorum::Engine>& e) { return e.use_count() == 1; });
  note_load(true);
  warn_if_forgeable(*current_->engine);
  log::info("configuration reloaded",
            {{"providers", cfg.providers.size()},
             {"key_id", current_->engine->key_id()},
             {"key_id_changed", before != current_->engine->key_id()}});
  return {};
}

void Daemon::note_load(bool ok) {
  ++loads_;
  if (!ok) ++load_failures_;
  metrics_.config_loaded(ok, std::chrono::system_clock::now());
}

std::uint64_t Daemon::reloads() const {
  std::lock_guard lock(reload_mutex_);
  return loads_;
}

std::uint64_t Daemon::reload_failures() const {
  std::lock_guard lock(reload_mutex_);
  return load_failures_;
}

std::optional<asio::ip::tcp::endpoint> Daemon::telemetry_endpoint() const {
  if (!http_) return std::nullopt;
  return http_->local_endpoint();
}

telemetry::HttpAnswer Daemon::answer(const std::string& path, const std::string& query) {
  if (path == "/livez") {
    // The process serves its socket. A KMS that is down never fails this:
    // a restart would not bring it back.
    if (server_->serving()) return {200, "text/plain; charset=utf-8", "ok\n"};
    return {503, "text/plain; charset=utf-8", "not serving the socket\n"};
  }
  const telemetry::Readiness state = telemetry::readiness(*engine());
  if (path == "/metrics") {
    return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_.scrape(state)};
  }
  if (path == "/readyz") {
    const unsigned status = state.ready ? 200 : 503;
    if (query == "verbose" || query.starts_with("verbose=") || query.starts_with("verbose&")) {
      return {status, "application/json", telemetry::to_json(state)};
    }
    return {status, "text/plain; charset=utf-8",
            state.ready ? "ok\n" : "not ready: " + state.reason + "\n"};
  }
  return {404, "text/plain; charset=utf-8", "not found; try /metrics, /livez or /readyz\n"};
}

void Daemon::shutdown(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(reload_mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  {
    std::lock_guard lock(control_mutex_);
    control_stop_ = true;
  }
  control_cv_.notify_one();
  if (control_.joinable()) control_.join();
  if (server_) server_->shutdown(grace);
  if (sops_server_) sops_server_->shutdown(grace);
  if (http_) http_->stop();
  // None when create() failed before the first generation was built.
  if (current_) current_->health->stop();
  // Let cancelled provider calls drain, then stop.
  work_.reset();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!threads_.empty() && !io_.stopped() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  io_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  state_writer_.join();
}

}  // namespace trousseau::daemon
