// trousseau-micro: microbenchmarks of the envelope primitives and of secret
// memory. The debian package ships no pkg-config file for benchmark_main,
// hence this one line.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
