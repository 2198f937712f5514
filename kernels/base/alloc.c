#include "kernels/internal.h"

#include <stdint.h>
#include <string.h>

static struct qs_allocator g_alloc;
static bool g_custom;

void qs_set_allocator(const struct qs_allocator *a) {
    if (a) {
        g_alloc = *a;
        g_custom = true;
    } else {
        g_custom = false;
    }
}

void *qs__malloc(size_t size) {
    if (size == 0) size = 1;
    return g_custom ? g_alloc.malloc(g_alloc.ctx, size) : malloc(size);
}

void *qs__calloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = qs__malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void *qs__realloc(void *ptr, size_t size) {
    if (size == 0) size = 1;
    if (!g_custom) return realloc(ptr, size);
    if (g_alloc.realloc) return g_alloc.realloc(g_alloc.ctx, ptr, size);
    // Without a realloc hook the old size is unknown, so custom allocators must give one
    // to be used with growing arrays.
    return NULL;
}

void qs__free(void *ptr) {
    if (!ptr) return;
    if (g_custom)
        g_alloc.free(g_alloc.ctx, ptr);
    else
        free(ptr);
}

char *qs__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = qs__malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

// The raw pointer is stored just before the aligned block so that any allocator works.
void *qs__aligned_alloc(size_t size) {
    if (size > SIZE_MAX - 128 - QS_EXTRA_BYTES) return NULL;
    unsigned char *raw = qs__malloc(size + QS_EXTRA_BYTES + 64 + sizeof(void *));
    if (!raw) return NULL;
    uintptr_t a = ((uintptr_t)(raw + sizeof(void *)) + 63) & ~(uintptr_t)63;
    ((void **)a)[-1] = raw;
    return (void *)a;
}

void qs__aligned_free(void *ptr) {
    if (ptr) qs__free(((void **)ptr)[-1]);
}
