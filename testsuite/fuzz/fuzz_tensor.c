/*
 * fuzz_tensor.c: libFuzzer harness for tensor files (.npy and ONNX TensorProto .pb,
 * runtime/io/tensor_io.c). dp_tensor_read takes only a path and picks the format by suffix, so
 * the bytes go to one file that both names point at, and both readers see every input.
 */
#include "fuzz_util.h"
#include "tensor_io.h"

#include <sys/stat.h>

static volatile unsigned char sink;

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static char pb[160];
    const char *npy = fuzz_write("t.npy", data, size);
    if (!pb[0]) {
        snprintf(pb, sizeof pb, "%s/t.pb", fuzz_dir());
        if (symlink("t.npy", pb) != 0)
            abort();
    }
    const char *paths[] = {npy, pb};
    for (int i = 0; i < 2; i++) {
        dp_arena a;
        dp_arena_init(&a, (size_t)256 << 20);
        dp_tensor t;
        char *name;
        dp_error err = {0};
        if (dp_tensor_read(paths[i], &a, &t, &name, &err) == DP_OK) {
            /* A tensor read must be whole: touch every byte the shape promises. */
            size_t n = dp_nbytes(&t);
            for (size_t k = 0; k < n; k++)
                sink ^= ((const unsigned char *)t.data)[k];
            if (!name)
                abort();
        } else if (!err.msg[0]) {
            abort(); /* a failure must say why */
        }
        dp_arena_free(&a);
    }
    return 0;
}
