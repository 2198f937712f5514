// Minimal test harness: ASSERT macros that print file:line and the values, QS_TEST_SKIP
// (exit 77, reported as SKIP by ctest), and helpers to find shared data.
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


#define ASSERT_TRUE(x)                                                              \
    do {                                                                            \
        if (!(x)) {                                                                 \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #x); \
            exit(1);                                                                \
        }                                                                           \
    } while (0)
#define ASSERT_EQ(a, b)                                                             \
    do {                                                                            \
        long long qs_a_ = (long long)(a), qs_b_ = (long long)(b);                   \
        if (qs_a_ != qs_b_) {                                                       \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, \
                    #a, #b, qs_a_, qs_b_);                                          \
            exit(1);                                                                \
        }                                                                           \
    } while (0)
#define ASSERT_OK(expr) ASSERT_EQ((expr), QS_STATUS_OK)
#define ASSERT_STR_CONTAINS(hay, needle)                                            \
    do {                                                                            \
        if (!strstr((hay), (needle))) {                                             \
            fprintf(stderr, "%s:%d: '%s' does not contain '%s'\n", __FILE__, __LINE__, \
                    (hay), (needle));                                               \
            exit(1);                                                                \
        }                                                                           \
    } while (0)
#define QS_TEST_SKIP(...)                      \
    do {                                       \
        printf("SKIP: ");                      \
        printf(__VA_ARGS__);                   \
        printf("\n");                          \
        exit(77);                              \
    } while (0)

// Path of a file in ../shared/data (QS_SHARED_DATA), or NULL when it is absent.
static inline const char *qs_test_shared(const char *rel) {
    static char buf[8][4096];
    static int k;
    const char *root = getenv("QS_SHARED_DATA");
    if (!root) return NULL;
    char *p = buf[k++ % 8];
    snprintf(p, 4096, "%s/%s", root, rel);
    struct stat st;
    return stat(p, &st) == 0 ? p : NULL;
}
// Path of a repo fixture in tests/fixtures.
static inline const char *qs_test_data(const char *rel) {
    static char buf[8][4096];
    static int k;
    const char *root = getenv("QS_TEST_DATA");
    char *p = buf[k++ % 8];
    snprintf(p, 4096, "%s/%s", root ? root : "fixtures", rel);
    return p;
}
