/*
 * dpfile.h: the .dp container's layout, and what its writer (dpfile_write.c), reader
 * (dpfile_read.c), validator (dpfile_validate.c) and lister (dpfile_disasm.c) share
 * (dpfile.c). Private to runtime/format: the API is dp_program.h.
 *
 * Layout (integers little-endian):
 *     0    8  magic "DPCCPROG"
 *     8    4  format version (DP_FORMAT_VERSION)
 *    12    4  flags; none are defined, so they must be 0
 *    16    8  metadata length M
 *    24    8  weights length W
 *    32    4  CRC-32 (IEEE) of the metadata followed by the weights
 *    36   28  zero
 *    64    M  metadata: a dp.Program message (schemas/dp.proto)
 *             zero padding up to the next multiple of 64
 *     B    W  the weight blob, B = 64 + M rounded up to 64; constants' offsets are relative
 *             to it and 64-byte aligned, so in a 64-byte aligned file buffer every constant
 *             is aligned for any element type
 * and nothing after. The loader reads the file into one aligned buffer, checks the header,
 * the sizes and the checksum, converts the metadata, and then validates every index, offset,
 * size, dtype and op, so that nothing a file says can make the executor touch memory
 * outside what it allocated.
 */
#ifndef DP_DPFILE_H
#define DP_DPFILE_H

#include "dp_program.h"

#define DPF_HEADER_BYTES 64
#define DPF_ALIGN 64
#define DPF_MAGIC "DPCCPROG"
#define DPF_MAX_METADATA ((uint64_t)INT32_MAX) /* protobuf's own limit on a message */
/* No tensor exceeds DP_MAX_ELEMENTS of 8 bytes; the bound keeps offset sums far from overflow. */
#define DPF_MAX_ARENA ((uint64_t)DP_MAX_ELEMENTS * 8)

/* x rounded up to DPF_ALIGN. */
uint64_t dpf_align_up(uint64_t x);
/* Little-endian integers of `bytes` bytes. */
void dpf_put_le(unsigned char *p, uint64_t v, int bytes);
uint64_t dpf_get_le(const unsigned char *p, int bytes);

/* s, or "" for NULL. */
const char *dpf_str(const char *s);
const char *dpf_storage_name(dp_storage s);
/* "FILE: WHERE: message", WHERE naming the tensor or instruction. */
dp_status dpf_fail_at(dp_error *err, dp_status code, const char *file, const char *where,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
const char *dpf_tensor_where(char *buf, size_t n, const dp_program *p, int i);
const char *dpf_instr_where(char *buf, size_t n, int i, const char *op, const char *name);

/* Every index, offset, size, dtype and op of p checked (dpfile_validate.c): DP_EINPUT naming
 * file and the first fault, or DP_OK. */
dp_status dpf_validate(const dp_program *p, const char *file, dp_error *err);

#endif
