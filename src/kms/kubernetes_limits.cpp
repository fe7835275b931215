#include "kms/kubernetes_limits.hpp"

#include "envelope/format.hpp"

namespace trousseau::kms {

namespace {
bool is_label(std::string_view l) {
  if (l.empty() || l.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(l.front()) || !alnum(l.back())) return false;
  for (char c : l) {
    if (!alnum(c) && c != '-') return false;
  }
  return true;
}
}  // namespace

bool is_fully_qualified_domain_name(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t labels = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = name.find('.', start);
    const std::string_view label =
        std::string_view(name).substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!is_label(label)) return false;
    ++labels;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return labels >= 2;
}

Error check_v2_encrypt_response(const std::string& ciphertext, const std::string& key_id,
                                const std::map<std::string, std::string>& annotations) {
  if (ciphertext.empty() || ciphertext.size() > envelope::kMaxV2Ciphertext) {
    return internal_error("ciphertext of " + std::to_string(ciphertext.size()) +
                          " bytes is outside apiserver's 1..1024");
  }
  if (key_id.empty() || key_id.size() > kMaxKeyIdSize) {
    return internal_error("key_id of " + std::to_string(key_id.size()) +
                          " bytes is outside apiserver's 1..1024");
  }
  std::size_t total = 0;
  for (const auto& [k, v] : annotations) {
    if (!is_fully_qualified_domain_name(k)) {
      return internal_error("annotation key '" + k + "' is not a fully qualified domain name");
    }
    total += k.size() + v.size();
  }
  if (total > envelope::kMaxV2Annotations) {
    return internal_error("annotations of " + std::to_string(total) +
                          " bytes exceed apiserver's 32 KiB");
  }
  return {};
}

}  // namespace trousseau::kms
