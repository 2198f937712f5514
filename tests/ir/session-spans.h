// Prefix-reuse tests (ir/session-reuse.h): the values live at a cut, copied out of one
// session and restored into another by tensor identity.
#pragma once

#include "ir/session-reuse.h"
#include "test.h"

#include <stdbool.h>
#include <string.h>

/// The bytes of spans sa[0 .. n) back to back (malloc'd; free it).
static inline unsigned char *spans_save(const struct qs_session_span *sa, int n) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += sa[i].bytes;
    unsigned char *saved = malloc(total + 1), *p = saved;
    ASSERT_TRUE(saved != NULL);
    for (int i = 0; i < n; i++) {
        memcpy(p, sa[i].data, sa[i].bytes);
        p += sa[i].bytes;
    }
    return saved;
}

/// Copies the values saved from spans sa into the spans sb of another session at the same
/// cut, matching them by tensor id (and size); every sb span must find its value.
static inline void spans_restore(const struct qs_session_span *sa,
                                 const unsigned char *saved, const struct qs_session_span *sb,
                                 int n) {
    for (int i = 0; i < n; i++) {
        size_t off = 0;
        bool found = false;
        for (int j = 0; j < n; j++) {
            if (sa[j].id == sb[i].id && sa[j].bytes == sb[i].bytes) {
                memcpy(sb[i].data, saved + off, sb[i].bytes);
                found = true;
            }
            off += sa[j].bytes;
        }
        ASSERT_TRUE(found);
    }
}
