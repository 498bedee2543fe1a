/* dp_arena.c: a chain of blocks; allocation bumps a pointer in the newest block. */
#include "dp_arena.h"
#include "dp_base.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64
#define MIN_BLOCK ((size_t)1 << 20)

struct dp_arena_block {
    dp_arena_block *next;
    size_t size, off;
    size_t reserved; /* bytes counted against the limit for this block */
    _Alignas(ALIGN) unsigned char mem[];
};

void dp_arena_init(dp_arena *a, size_t limit)
{
    a->head = NULL;
    a->used = a->peak = 0;
    a->limit = limit;
}

static size_t total_reserved(const dp_arena *a)
{
    size_t n = 0;
    for (const dp_arena_block *b = a->head; b; b = b->next)
        n += b->reserved;
    return n;
}

void *dp_arena_alloc_raw(dp_arena *a, size_t bytes)
{
    size_t need = (bytes + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need < bytes)
        return NULL;
    dp_arena_block *b = a->head;
    if (!b || b->size - b->off < need) {
        size_t size = need > MIN_BLOCK ? need : MIN_BLOCK;
        if (b && b->size * 2 > size && b->size * 2 <= ((size_t)1 << 28))
            size = b->size * 2;
        if (a->limit && (size > a->limit || total_reserved(a) > a->limit - size)) {
            size = need;
            if (size > a->limit || total_reserved(a) > a->limit - size)
                return NULL;
        }
        if (size > SIZE_MAX - sizeof *b)
            return NULL;
        b = malloc(sizeof *b + size);
        if (!b)
            return NULL;
        b->size = size;
        b->off = 0;
        b->reserved = size;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->mem + b->off;
    DP_ASSERT((uintptr_t)p % ALIGN == 0 && b->off + need <= b->size);
    b->off += need;
    a->used += need;
    if (a->used > a->peak)
        a->peak = a->used;
    return p;
}

void *dp_arena_alloc(dp_arena *a, size_t bytes)
{
    void *p = dp_arena_alloc_raw(a, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void *dp_arena_calloc(dp_arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return dp_arena_alloc(a, n * size);
}

char *dp_arena_strndup(dp_arena *a, const char *s, size_t n)
{
    char *p = dp_arena_alloc(a, n + 1);
    if (p) {
        if (n) /* s may be NULL when n is 0 (protobuf-c's empty bytes) */
            memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *dp_arena_strdup(dp_arena *a, const char *s)
{
    return dp_arena_strndup(a, s, strlen(s));
}

void *dp_arena_memdup(dp_arena *a, const void *p, size_t n)
{
    void *q = dp_arena_alloc(a, n);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

void dp_arena_reset(dp_arena *a)
{
    if (!a->head)
        return;
    /* Merge the chain into one block of the total size, so that from the second inference
     * on a steady-state run allocates nothing. */
    size_t total = 0;
    for (dp_arena_block *b = a->head; b; b = b->next)
        total += b->size;
    if (a->head->next) {
        dp_arena_block *merged = malloc(sizeof *merged + total);
        if (merged) {
            dp_arena_free(a);
            merged->size = merged->reserved = total;
            merged->next = NULL;
            a->head = merged;
        } else {
            dp_arena_block *rest = a->head->next;
            a->head->next = NULL;
            for (dp_arena_block *next; rest; rest = next) {
                next = rest->next;
                free(rest);
            }
        }
    }
    a->head->off = 0;
    a->used = 0;
}

void dp_arena_free(dp_arena *a)
{
    for (dp_arena_block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
    a->used = 0;
}
