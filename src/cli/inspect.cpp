// trousseau inspect [FILE|-]: what a stored ciphertext holds, without a KMS.
#include <CLI/CLI.hpp>
#include <map>
#include <memory>

#include "cli/commands.hpp"
#include "cli/inspection.hpp"
#include "cli/io.hpp"

namespace trousseau::cli {

namespace {

/// etcd's default request limit is 1.5 MiB; base64 makes that 2.
constexpr std::size_t kMaxInput = 8 << 20;

struct InspectOptions {
  std::string file = "-";
  InputFormat format = InputFormat::automatic;
  bool json = false;
};

int inspect_command(const InspectOptions& o) {
  auto input = read_input(o.file, kMaxInput);
  if (!input.ok()) {
    print_error("inspect", input.error().message());
    return kExitFailed;
  }
  auto inspection = inspect(as_bytes(input.value()), o.format);
  if (!inspection.ok()) {
    print_error("inspect", inspection.error().message());
    return kExitFailed;
  }
  const std::string out =
      o.json ? render_json(inspection.value()) + "\n" : render_text(inspection.value());
  if (const int code = print_output("inspect", out); code != kExitOk) return code;
  return inspection->problems.empty() ? kExitOk : kExitFailed;
}

}  // namespace

Command add_inspect(CLI::App& parent) {
  auto o = std::make_shared<InspectOptions>();
  CLI::App* app = parent.add_subcommand(
      "inspect", "Show what a stored ciphertext holds, without any KMS and printing no secret");
  app->add_option("file", o->file, "The ciphertext, or - for standard input")
      ->capture_default_str();
  const std::map<std::string, InputFormat> formats{{"auto", InputFormat::automatic},
                                                   {"raw", InputFormat::raw},
                                                   {"base64", InputFormat::base64},
                                                   {"etcd", InputFormat::etcd},
                                                   {"json", InputFormat::json}};
  app->add_option("-f,--format", o->format,
                  "auto, raw (what Encrypt returns), base64 (of any form), etcd (the value "
                  "kube-apiserver stores, k8s:enc:kms:v1|v2:<name>:...), json (encrypt --json)")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case))
      ->default_str("auto");
  app->add_flag("--json", o->json, "Print one JSON object instead of text");
  app->footer(
      "Exit codes: 0 printed and nothing wrong found; 1 the input is not one of the "
      "forms or is malformed (a message says what is wrong), or it reads but has "
      "problems (printed under \"problems\"); 2 usage error.");
  return {app, [o] { return inspect_command(*o); }};
}

}  // namespace trousseau::cli
