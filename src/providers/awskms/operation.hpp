// Operation moved to providers/operation.hpp when the Azure provider came
// to share it; this name stays for the AWS files that include it.
#pragma once

#include "providers/operation.hpp"

namespace trousseau::providers::awskms {

using providers::Operation;
using providers::OperationState;

}  // namespace trousseau::providers::awskms
