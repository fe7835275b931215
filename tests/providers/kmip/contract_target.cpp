// KMIP in the provider contract suite: one PyKMIP server for the whole
// binary, with one AES key made by PyKMIP's client. In CBC mode: PyKMIP
// reports a GCM tag that does not verify as General Failure, where the
// contract (and the KMIP spec) wants an integrity error; our CBC binding
// gives one (docs/providers/kmip.md).
#include <string>

#include "pykmip_server.hpp"
#include "support/contract_targets.hpp"

TROUSSEAU_CONTRACT_TARGET("kmip", [] {
  using trousseau::testkit::PyKmipServer;
  static PyKmipServer server;
  static const std::string uid = server.create_key("contract");
  return "{name: contract, type: kmip, " + server.entry(uid, "mode: cbc") + "}";
})
