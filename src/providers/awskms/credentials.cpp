#include "providers/awskms/credentials.hpp"

#include "common/completion.hpp"
#include "common/file.hpp"
#include "common/log.hpp"
#include "providers/awskms/web_identity.hpp"

namespace trousseau::providers::awskms {

namespace {

constexpr const char* kVariables[] = {
    "AWS_ACCESS_KEY_ID",           "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE",           "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",                "AWS_ROLE_SESSION_NAME", "AWS_ENDPOINT_URL_STS",
    "AWS_REGION",                  "HOME",
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string get(const std::map<std::string, std::string>& env, const std::string& key) {
  auto it = env.find(key);
  return it == env.end() ? std::string() : it->second;
}

/// As the AWS SDKs read it: any mode, any owner, through symlinks. Its
/// keys are long-lived, but protecting the file is the operator's call.
constexpr SecretFileRules kCredentialsFileRules{.what = "shared credentials file",
                                                .max_size = 1024 * 1024,
                                                .follow_symlinks = true,
                                                .private_mode = false,
                                                .owner_check = false};

}  // namespace

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (const char* name : kVariables) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') env[name] = v;
  }
  return env;
}

Result<Credentials> parse_credentials_file(std::string_view text, const std::string& profile,
                                           const std::string& path) {
  Credentials c;
  bool in_profile = false, found = false;
  std::string_view rest = text;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    std::string_view line = trim(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      std::string_view name = line.back() == ']' ? trim(line.substr(1, line.size() - 2)) : "";
      in_profile = name == profile;
      found = found || in_profile;
      continue;
    }
    if (!in_profile) continue;
    auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = trim(line.substr(0, eq));
    std::string_view value = trim(line.substr(eq + 1));
    if (key == "aws_access_key_id") c.access_key_id = value;
    if (key == "aws_secret_access_key") c.secret_access_key = SecretBytes(as_bytes(value));
    if (key == "aws_session_token") c.session_token = SecretBytes(as_bytes(value));
  }
  const std::string where = "profile '" + profile + "' of " + path;
  if (!found) return Error(Code::failed_precondition, "no " + where);
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return Error(Code::failed_precondition,
                 where + " lacks aws_access_key_id or aws_secret_access_key");
  }
  c.source = "shared credentials file " + path + " (profile " + profile + ")";
  return c;
}

CredentialChain::CredentialChain(asio::any_io_executor executor, ChainOptions options)
    : executor_(std::move(executor)), options_(std::move(options)) {}

CredentialChain::~CredentialChain() = default;

Result<std::shared_ptr<CredentialChain>> CredentialChain::create(asio::any_io_executor executor,
                                                                 ChainOptions options) {
  std::shared_ptr<CredentialChain> chain(new CredentialChain(std::move(executor), std::move(options)));
  auto& env = chain->options_.env;
  Error error;
  // 1. Environment.
  const std::string key_id = get(env, "AWS_ACCESS_KEY_ID");
  std::string secret = get(env, "AWS_SECRET_ACCESS_KEY");
  std::string token = get(env, "AWS_SESSION_TOKEN");
  for (const char* name : {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}) {
    if (auto it = env.find(name); it != env.end()) {
      secure_wipe(it->second);
      env.erase(it);
    }
  }
  if (!key_id.empty() || !secret.empty()) {
    if (key_id.empty() || secret.empty()) {
      error = Error(Code::failed_precondition,
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    } else {
      auto c = std::make_shared<Credentials>();
      c->access_key_id = key_id;
      c->secret_access_key = SecretBytes(as_bytes(secret));
      if (!token.empty()) c->session_token = SecretBytes(as_bytes(token));
      c->source = "environment";
      chain->static_ = std::move(c);
    }
  }
  secure_wipe(secret);
  secure_wipe(token);
  if (!error.ok()) return error;
  // 2. Shared credentials file.
  if (!chain->static_) {
    std::string path = get(env, "AWS_SHARED_CREDENTIALS_FILE");
    if (path.empty() && !get(env, "HOME").empty()) path = get(env, "HOME") + "/.aws/credentials";
    std::string profile = chain->options_.profile;
    if (profile.empty()) profile = get(env, "AWS_PROFILE");
    const bool chosen = !profile.empty();
    if (!chosen) profile = "default";
    Result<SecretBytes> text = path.empty() ? Result<SecretBytes>(unavailable("HOME is not set"))
                                            : read_secret_file(path, kCredentialsFileRules);
    if (text.ok()) {
      Result<Credentials> parsed = parse_credentials_file(as_chars(text->view()), profile, path);
      if (parsed.ok()) {
        chain->static_ = std::make_shared<Credentials>(std::move(parsed).value());
        chain->file_path_ = path;
        chain->file_profile_ = profile;
        // Rotated keys are picked up without a restart. The watch starts
        // after this read: a change in between is seen at the next call
        // as a spurious bump at worst.
        if (auto watch = FileWatch::start(path); watch.ok()) {
          chain->file_watch_ = std::move(watch).value();
          chain->file_generation_ = chain->file_watch_->generation();
          chain->file_watch_->rearm();
        } else {
          log::warn("the AWS shared credentials file is not watched; restart after rotating it",
                    {{"path", path}, {"error", watch.error().message()}});
        }
      } else if (chosen || parsed.error().message().rfind("no profile", 0) != 0) {
        return parsed.error();  // a chosen profile must exist; a broken one is an error
      }
    } else if (chosen && get(env, "AWS_WEB_IDENTITY_TOKEN_FILE").empty()) {
      return Error(Code::failed_precondition,
                   "profile '" + profile + "' was requested but " + text.error().message());
    }
  }
  // 3. Web identity.
  if (!chain->static_) {
    const std::string token_file = get(env, "AWS_WEB_IDENTITY_TOKEN_FILE");
    const std::string role = get(env, "AWS_ROLE_ARN");
    if (!token_file.empty() || !role.empty()) {
      if (token_file.empty() || role.empty()) {
        return Error(Code::failed_precondition,
                     "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN must be set together");
      }
      Result<std::unique_ptr<WebIdentity>> web = WebIdentity::create(chain->executor_, chain->options_);
      if (!web.ok()) return web.error();
      chain->web_ = std::move(web).value();
    }
  }
  if (chain->static_) {
    chain->source_ = chain->static_->source;
  } else if (chain->web_) {
    chain->source_ = chain->web_->describe();
  } else {
    return Error(Code::failed_precondition,
                 "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, provide a "
                 "shared credentials file, or AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN");
  }
  log::info("AWS credentials", {{"source", chain->source_}});
  return chain;
}

CredentialsPtr CredentialChain::current_file_credentials() {
  std::lock_guard lock(file_mutex_);
  const std::uint64_t g = file_watch_->generation();
  if (g == file_generation_) return static_;
  file_generation_ = g;
  file_watch_->rearm();  // before reading (file_watch.hpp)
  Result<SecretBytes> text = read_secret_file(file_path_, kCredentialsFileRules);
  Result<Credentials> parsed =
      text.ok() ? parse_credentials_file(as_chars(text->view()), file_profile_, file_path_)
                : Result<Credentials>(text.error());
  if (!parsed.ok()) {
    log::error("cannot re-read the AWS shared credentials file; keeping the credentials read before",
               {{"path", file_path_}, {"error", parsed.error().message()}});
    return static_;
  }
  static_ = std::make_shared<Credentials>(std::move(parsed).value());
  log::info("AWS shared credentials file re-read", {{"path", file_path_}});
  return static_;
}

void CredentialChain::get_impl(http::Deadline deadline,
                               asio::any_completion_handler<CredentialsSignature> handler) {
  if (web_) return web_->get(shared_from_this(), deadline, std::move(handler));
  CredentialsPtr credentials = file_watch_ ? current_file_credentials() : static_;
  post_completion(executor_, std::move(handler), Error(), std::move(credentials));
}

void CredentialChain::invalidate() {
  if (web_) web_->invalidate();
}

}  // namespace trousseau::providers::awskms
