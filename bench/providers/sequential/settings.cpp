#include "bench/providers/sequential/settings.hpp"

#include <set>

namespace trousseau::bench::sequential {

namespace {
constexpr std::size_t kMaxMembers = 8;
}  // namespace

std::unique_ptr<Settings> parse_settings(settings::Node& node) {
  auto s = std::make_unique<Settings>();
  std::vector<settings::Node> members = node.sequence("members");
  if (members.empty()) node.error("members", "at least one member is required");
  if (members.size() > kMaxMembers) {
    node.error("members", "at most " + std::to_string(kMaxMembers) + " members");
  }
  std::set<std::string> names;
  for (settings::Node& m : members) {
    Member member;
    member.name = m.string("name");
    if (!member.name.empty() && !names.insert(member.name).second) {
      m.error("name", "duplicate member name '" + member.name + "'");
    }
    member.settings = injected::parse_settings(m);
    m.reject_unknown_keys();
    s->members.push_back(std::move(member));
  }
  s->member_timeout = node.duration("member_timeout", s->member_timeout,
                                    std::chrono::milliseconds(1), std::chrono::hours(1));
  return s;
}

}  // namespace trousseau::bench::sequential
