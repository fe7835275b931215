// Which sanitizer the build runs under: gcc says it with __SANITIZE_*__,
// clang (the ASan + UBSan and fuzz build) only through __has_feature.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define TROUSSEAU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TROUSSEAU_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define TROUSSEAU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TROUSSEAU_TSAN 1
#endif
#endif
