/*
 * tensor_io.h: tensor files (ONNX TensorProto .pb and NumPy .npy) and the whole-file
 * read and atomic write that they and the .dp loader share.
 *
 * The format is chosen by the path's suffix. Readers treat every file as hostile: sizes,
 * ranks and element counts are checked before any allocation depends on them, and a file
 * whose data is shorter or longer than its shape fails with DP_EINPUT naming the file.
 */
#ifndef DP_TENSOR_IO_H
#define DP_TENSOR_IO_H

#include "dp_arena.h"
#include "dp_dist.h"
#include "dp_tensor.h"

/*
 * Reads PATH (.pb or .npy) into *out; the data and *name_out (the TensorProto's name, ""
 * for .npy or an unnamed tensor) live in a. name_out may be NULL.
 */
dp_status dp_tensor_read(const char *path, dp_arena *a, dp_tensor *out, char **name_out,
                         dp_error *err);

/*
 * Writes t to PATH (.pb with raw_data, or .npy version 1.0) through a temporary file renamed
 * into place. name (may be NULL) is stored in a .pb and ignored for .npy.
 */
dp_status dp_tensor_write(const char *path, const dp_tensor *t, const char *name, dp_error *err);

/*
 * Reads the whole of PATH into one 64-byte aligned buffer, refusing files larger than
 * max_bytes. With a non-NULL arena the buffer comes from it; otherwise it is malloc'd and
 * the caller frees it. Bytes after *len up to the next multiple of 64 are zero.
 */
dp_status dp_file_read(const char *path, dp_arena *a, uint64_t max_bytes, unsigned char **buf,
                       size_t *len, dp_error *err);

/*
 * dp_file_read over the ranks of d: rank 0 reads PATH and the others receive its bytes
 * (dp_dist_bcast); a failure to read is every rank's. NULL d: dp_file_read.
 */
dp_status dp_file_read_dist(dp_dist *d, const char *path, dp_arena *a, uint64_t max_bytes,
                            unsigned char **buf, size_t *len, dp_error *err);

typedef struct dp_chunk {
    const void *data;
    size_t len;
} dp_chunk;

/*
 * Writes the concatenation of parts[0..n) to PATH: into a new temporary file in the same
 * folder, flushed to disk, then renamed over PATH. On any failure the temporary is removed,
 * and PATH is left as it was. Through a symbolic link, the file the link names is replaced
 * (created where the link dangles) and the link stays. A character device or FIFO at PATH
 * (or at the end of its links: /dev/null, /dev/stdout, a named pipe) is written in place,
 * not replaced; so is standard output for PATH "-". A folder, block device or socket is
 * refused.
 */
dp_status dp_file_write_atomic(const char *path, const dp_chunk *parts, int n, dp_error *err);

#endif
