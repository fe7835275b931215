// trousseau age-recipient | age-identity: the strings age needs to encrypt
// to this plugin's quorum and to decrypt with it. Both name the socket
// (an absolute path) and nothing secret (docs/integrations/age.md).
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>

#include "age/trousseau_keys.hpp"
#include "cli/commands.hpp"
#include "cli/io.hpp"
#include "config/config.hpp"

namespace trousseau::cli {

namespace {

struct AgeOptions {
  std::string socket = config::Config{}.socket;
};

CLI::App* add(CLI::App& parent, const char* name, const char* help, AgeOptions& o) {
  CLI::App* app = parent.add_subcommand(name, help);
  app->add_option("-s,--socket", o.socket, "The plugin's unix socket, made absolute")
      ->capture_default_str();
  app->footer(
      "Needs age-plugin-trousseau in PATH where age runs, and that socket there.\n"
      "Exit codes: 0 printed; 2 usage error.");
  return app;
}

std::string absolute(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

}  // namespace

Command add_age_recipient(CLI::App& parent) {
  auto o = std::make_shared<AgeOptions>();
  CLI::App* app = add(parent, "age-recipient",
                      "Print the age recipient (age1trousseau1…) that wraps file keys with the quorum", *o);
  return {app, [o] {
            Result<std::string> r = age::recipient_for(absolute(o->socket));
            if (!r.ok()) {
              print_error("age-recipient", r.error().message());
              return static_cast<int>(kExitUsage);
            }
            std::cout << *r << "\n";
            return static_cast<int>(kExitOk);
          }};
}

Command add_age_identity(CLI::App& parent) {
  auto o = std::make_shared<AgeOptions>();
  CLI::App* app = add(parent, "age-identity",
                      "Print an age identity file (AGE-PLUGIN-TROUSSEAU-1…) that unwraps with the quorum",
                      *o);
  return {app, [o] {
            const std::string socket = absolute(o->socket);
            Result<std::string> id = age::identity_for(socket);
            Result<std::string> r = age::recipient_for(socket);
            if (!id.ok() || !r.ok()) {
              print_error("age-identity", id.ok() ? r.error().message() : id.error().message());
              return static_cast<int>(kExitUsage);
            }
            std::cout << "# socket: " << socket << " (this identity holds no secret)\n"
                      << "# recipient: " << *r << "\n"
                      << *id << "\n";
            return static_cast<int>(kExitOk);
          }};
}

}  // namespace trousseau::cli
