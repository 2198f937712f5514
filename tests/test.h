// Minimal test harness: ASSERT macros that print file:line and the values, QS_TEST_SKIP
// (exit 77, reported as SKIP by ctest), and helpers to find shared data.
#pragma once

#include <stdbool.h>
#include <stdint.h>
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

// Damages a text in place for the bad-input tests of the file loaders: `edits` random edits,
// each replacing a byte with one of `alphabet`, dropping a byte, repeating the line that
// holds a byte, or cutting the text short. `text` holds `len` bytes and a NUL in a buffer of
// `cap`; returns the new length. `state` is an xorshift64 state (non-zero).
static inline size_t qs_test_mutate(char *text, size_t len, size_t cap, uint64_t *state,
                                    const char *alphabet, int edits) {
    uint64_t x = *state;
    const size_t n_alpha = strlen(alphabet);
    for (int k = 0; k < edits && len > 0; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t i = (size_t)(x >> 8) % len;
        switch ((x >> 3) % 4) {
        case 0:
            text[i] = alphabet[(x >> 40) % n_alpha];
            break;
        case 1:
            memmove(text + i, text + i + 1, len - i);
            len--;
            break;
        case 2: {
            size_t a = i, b = i;
            while (a > 0 && text[a - 1] != '\n') a--;
            while (b < len && text[b] != '\n') b++;
            size_t ln = b - a + (b < len);
            if (len + ln >= cap) break;
            memmove(text + a + ln, text + a, len - a + 1);
            len += ln;
            break;
        }
        default:
            text[i] = 0;
            len = i;
        }
    }
    *state = x;
    return len;
}

/// One load of a mutation test: 0 when `text` loaded, 1 when it was refused as it should be
/// (the expected status, a message naming the file), -1 when refused otherwise (then `why`
/// holds the status and the message).
typedef int (*qs_test_load_fn)(const char *text, void *user, char *why, size_t why_size);

/// The bad-input test of a file loader: 600 damaged copies of `base` (qs_test_mutate, 1 to 3
/// edits with bytes from `alphabet`) must each load or be refused as they should be; never a
/// crash (the sanitizer round runs these too). Seeded by QS_TEST_SEED, else `seed`; prints
/// the counts; at least one copy must be refused, and with `need_ok` at least one load.
static inline void qs_test_mutations(const char *base, const char *alphabet, uint64_t seed,
                                     bool need_ok, qs_test_load_fn load, void *user) {
    const char *env = getenv("QS_TEST_SEED");
    if (env) seed = strtoull(env, NULL, 0);
    uint64_t x = seed ? seed : 1;
    const size_t n = strlen(base), cap = 2 * n + 64;  // room for repeated lines
    char *text = malloc(cap);
    ASSERT_TRUE(text != NULL);
    int ok = 0, bad = 0;
    for (int it = 0; it < 600; it++) {
        memcpy(text, base, n + 1);
        qs_test_mutate(text, n, cap, &x, alphabet, 1 + it % 3);
        char why[512] = "";
        const int r = load(text, user, why, sizeof why);
        if (r < 0) {
            fprintf(stderr, "seed %#llx iteration %d: %s\n--\n%s\n--\n",
                    (unsigned long long)seed, it, why, text);
            exit(1);
        }
        r == 0 ? ok++ : bad++;
    }
    free(text);
    printf("mutations: %d loaded, %d refused naming the file (seed %#llx)\n", ok, bad,
           (unsigned long long)seed);
    ASSERT_TRUE(bad > 0 && (ok > 0 || !need_ok));
}
