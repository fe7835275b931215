// The telemetry listener's address, as the configuration writes it.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "common/error.hpp"

namespace trousseau::config {

/// "127.0.0.1:8095", "[::1]:8095", "0.0.0.0:9000" (port 0: any free one).
Result<boost::asio::ip::tcp::endpoint> parse_listen_address(const std::string& text);

}  // namespace trousseau::config
