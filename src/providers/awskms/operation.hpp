// awskms's operations are the shared providers::Operation; this header
// keeps the includes of the awskms files unchanged.
#pragma once

#include "providers/operation.hpp"
