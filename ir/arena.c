#include "ir/ir-impl.h"

// Blocks grow geometrically so a big model costs a handful of mallocs.
void *qs__arena_alloc(qs_arena *a, size_t size) {
    size = (size + 15) & ~(size_t)15;
    qs_arena_block *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t bs = QS_MAX(size, QS_MAX((size_t)16384, a->total / 2));
        b = qs__malloc(sizeof *b + bs);
        if (!b) return NULL;
        b->next = a->head;
        b->used = 0;
        b->size = bs;
        a->head = b;
        a->total += bs;
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *qs__arena_strndup(qs_arena *a, const char *s, size_t n) {
    char *p = qs__arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

char *qs__arena_strdup(qs_arena *a, const char *s) {
    return qs__arena_strndup(a, s ? s : "", s ? strlen(s) : 0);
}

void qs__arena_free(qs_arena *a) {
    qs_arena_block *b = a->head;
    while (b) {
        qs_arena_block *n = b->next;
        qs__free(b);
        b = n;
    }
    a->head = NULL;
    a->total = 0;
}
