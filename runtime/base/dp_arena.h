/*
 * dp_arena.h: bump allocation for one compilation or one inference.
 *
 * Everything allocated from an arena lives until dp_arena_reset or dp_arena_free, so
 * passes and kernels never free individual objects. A byte limit (the --max-memory
 * option) turns a runaway allocation from a hostile model into a clear error.
 */
#ifndef DP_ARENA_H
#define DP_ARENA_H

#include <stddef.h>

typedef struct dp_arena_block dp_arena_block;

typedef struct dp_arena {
    dp_arena_block *head;
    size_t used;      /* bytes handed out since the last reset, for reports */
    size_t peak;      /* high-water mark of used */
    size_t limit;     /* 0: unlimited */
} dp_arena;

void dp_arena_init(dp_arena *a, size_t limit);
/* 64-byte aligned, zeroed memory; NULL when out of memory or over the limit. */
void *dp_arena_alloc(dp_arena *a, size_t bytes);
/* The same, left as it was: for buffers written in full before they are read (a kernel's
 * packed panels and im2col matrices, where zeroing cost a pass over each). */
void *dp_arena_alloc_raw(dp_arena *a, size_t bytes);
void *dp_arena_calloc(dp_arena *a, size_t n, size_t size);
char *dp_arena_strdup(dp_arena *a, const char *s);
char *dp_arena_strndup(dp_arena *a, const char *s, size_t n);
void *dp_arena_memdup(dp_arena *a, const void *p, size_t n);
/* Frees all but the first block and rewinds it: memory is reused by the next inference. */
void dp_arena_reset(dp_arena *a);
void dp_arena_free(dp_arena *a);

#endif
