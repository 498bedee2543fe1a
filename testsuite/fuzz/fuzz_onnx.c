/*
 * fuzz_onnx.c: libFuzzer harness for the ONNX frontend (compiler/frontend/frontend.c) and shape
 * inference. dpc_load_onnx reads a path, so the bytes go to a file in a private folder
 * (external data resolves against that folder and cannot leave it).
 */
#include "frontend.h"
#include "fuzz_util.h"
#include "passes.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const char *path = fuzz_write("model.onnx", data, size);
    dp_arena mem;
    /* A hostile model may declare huge shapes: the arena limit turns them into errors
     * rather than the fuzzer's out-of-memory reports. */
    dp_arena_init(&mem, (size_t)256 << 20);
    dpc_frontend_opts opts = {.max_file_bytes = (size_t)16 << 20};
    dpc_model *model = NULL;
    ir_graph *g = NULL;
    dp_error err = {0};
    dp_status st = dpc_load_onnx(path, &opts, &mem, &model, &g, &err);
    if (st == DP_OK)
        st = pass_infer_shapes(g, &err);
    if (st != DP_OK && !err.msg[0])
        abort(); /* a failure must say why */
    if (st == DP_EINTERNAL)
        abort(); /* an invariant broke: a bug, whatever the input */
    dpc_model_release(model);
    dp_arena_free(&mem);
    return 0;
}
