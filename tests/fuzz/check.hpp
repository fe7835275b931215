// What the fuzz targets share: a property check that aborts, so that
// libFuzzer records the input as a crash, and a reader of the input.
#pragma once

#include <cstdio>
#include <cstdlib>

/// A broken property is a bug like a crash: libFuzzer saves the input.
#define FUZZ_CHECK(cond)                                                        \
  do {                                                                          \
    if (!(cond)) {                                                              \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                      \
      std::abort();                                                             \
    }                                                                           \
  } while (false)
