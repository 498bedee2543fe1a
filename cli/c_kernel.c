/*
 * c_kernel.c: dprun's loader of C kernels (c_kernel.h).
 */
#include "c_kernel.h"

#include "dataset.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool dpr_is_shared_object(const char *path)
{
    size_t n = strlen(path);
    if (n > 3 && strcmp(path + n - 3, ".so") == 0)
        return true;
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(magic, 1, sizeof magic, f) : 0;
    if (f)
        fclose(f);
    return got == 4 && memcmp(magic, "\177ELF", 4) == 0;
}

static dp_status kernel_fail(const dpr_kernel *k, int status, dp_error *err)
{
    return dp_fail(err, status > 0 && status <= DP_EINTERNAL ? (dp_status)status : DP_EINTERNAL,
                   "%s", k->last_error());
}

static dp_tensor_info kernel_tensor(const dpr_kernel *k, int i, bool output, dp_arena *mem)
{
    dp_tensor_info ti = {.storage = output ? DP_STORE_DYNAMIC : DP_STORE_INPUT};
    const char *name = output ? k->output_name(i) : k->input_name(i);
    const int64_t *dims = output ? k->output_dims(i) : k->input_dims(i);
    ti.name = dp_arena_strdup(mem, name ? name : "");
    ti.t.dtype = (dp_dtype)(output ? k->output_dtype(i) : k->input_dtype(i));
    ti.t.rank = output ? k->output_rank(i) : k->input_rank(i);
    for (int d = 0; d < ti.t.rank && d < DP_MAX_RANK; d++)
        ti.t.dims[d] = dims[d];
    return ti;
}

dp_status dpr_kernel_load(const char *path, dpr_kernel *k, dp_arena *mem, dp_program **out,
                          dp_error *err)
{
    char full[4096];
    /* without a slash, dlopen would search the library path instead of the file named */
    snprintf(full, sizeof full, "%s%s", strchr(path, '/') ? "" : "./", path);
    /* a missing file is exit 1, as a missing .dp is; one dlopen cannot load is a bad file */
    if (access(full, R_OK) != 0)
        return dp_fail(err, DP_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (!(k->lib = dlopen(full, RTLD_NOW | RTLD_LOCAL)))
        return dp_fail(err, DP_EINPUT, "%s: cannot load the C kernel: %s", path, dlerror());
    const char *prefix = dlsym(k->lib, "dpcc_kernel_v1");
    if (!prefix)
        return dp_fail(err, DP_EINPUT, "%s: not a C kernel of this dpcc (no dpcc_kernel_v1)", path);
    static const char *const names[] = {"num_inputs",  "num_outputs",  "input_name", "output_name",
                                        "input_dtype", "output_dtype", "input_rank", "output_rank",
                                        "input_dims",  "output_dims",  "open",       "infer",
                                        "output",      "close",        "last_error"};
    void (**fns[])(void) = {(void (**)(void)) & k->num_inputs,  (void (**)(void)) & k->num_outputs,
                            (void (**)(void)) & k->input_name,  (void (**)(void)) & k->output_name,
                            (void (**)(void)) & k->input_dtype, (void (**)(void)) & k->output_dtype,
                            (void (**)(void)) & k->input_rank,  (void (**)(void)) & k->output_rank,
                            (void (**)(void)) & k->input_dims,  (void (**)(void)) & k->output_dims,
                            (void (**)(void)) & k->open,        (void (**)(void)) & k->infer,
                            (void (**)(void)) & k->output,      (void (**)(void)) & k->close,
                            (void (**)(void)) & k->last_error};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char sym[256];
        snprintf(sym, sizeof sym, "%.64s_%s", prefix, names[i]);
        void *f = dlsym(k->lib, sym);
        if (!f)
            return dp_fail(err, DP_EINPUT, "%s: the C kernel lacks %s", path, sym);
        memcpy(fns[i], &f, sizeof f);
    }
    dp_program *p = dp_arena_calloc(mem, 1, sizeof *p);
    int n_in = k->num_inputs(), n_out = k->num_outputs();
    if (!p || !(p->tensors = dp_arena_calloc(mem, (size_t)(n_in + n_out) + 1, sizeof *p->tensors))
        || !(p->inputs = dp_arena_calloc(mem, (size_t)n_in + 1, sizeof *p->inputs))
        || !(p->outputs = dp_arena_calloc(mem, (size_t)n_out + 1, sizeof *p->outputs)))
        return dp_fail(err, DP_ENOMEM, "out of memory");
    for (int i = 0; i < n_in; i++) {
        p->inputs[i] = p->n_tensors;
        p->tensors[p->n_tensors++] = kernel_tensor(k, i, false, mem);
    }
    for (int i = 0; i < n_out; i++) {
        p->outputs[i] = p->n_tensors;
        p->tensors[p->n_tensors++] = kernel_tensor(k, i, true, mem);
    }
    p->n_inputs = n_in;
    p->n_outputs = n_out;
    *out = p;
    return DP_OK;
}

dp_status dpr_kernel_run(dpr_kernel *k, const dp_program *p, const dp_tensor *in, int64_t chunks,
                         dp_arena *mem, dp_tensor *out, dp_error *err)
{
    const void **ptr = dp_arena_calloc(mem, (size_t)p->n_inputs + 1, sizeof *ptr);
    if (!ptr)
        return dp_fail(err, DP_ENOMEM, "out of memory");
    for (int i = 0; i < p->n_inputs; i++) {
        const dp_tensor_info *ti = &p->tensors[p->inputs[i]];
        if (in[i].dtype != ti->t.dtype)
            return dp_fail(err, DP_EINPUT, "input %d ('%s') has dtype %s, the model expects %s", i,
                           ti->name, dp_dtype_name(in[i].dtype), dp_dtype_name(ti->t.dtype));
    }
    for (int64_t c = 0; c < chunks; c++) {
        for (int i = 0; i < p->n_inputs; i++)
            ptr[i] = chunks == 1
                         ? in[i].data
                         : dp_dataset_chunk(&in[i], p->tensors[p->inputs[i]].t.dims[0], c).data;
        int rc = k->infer(k->session, (uint64_t)c, ptr);
        if (rc != 0)
            return kernel_fail(k, rc, err);
        for (int i = 0; i < p->n_outputs; i++) {
            dp_tensor v = {.dtype = p->tensors[p->outputs[i]].t.dtype};
            v.data = (void *)k->output(k->session, i, &v.rank, v.dims);
            if (c == 0 && !out[i].data) {
                out[i] = v;
                if (chunks > 1 && v.rank == 0)
                    return dp_fail(err, DP_EUNSUPPORTED,
                                   "output %d is a scalar: the program "
                                   "cannot run a batch of %lld",
                                   i, (long long)chunks);
                if (chunks > 1)
                    out[i].dims[0] *= chunks;
                if (!(out[i].data = dp_arena_alloc(mem, dp_nbytes(&out[i]) + 1)))
                    return dp_fail(err, DP_ENOMEM, "out of memory for output %d", i);
            }
            if (v.rank != out[i].rank || dp_nbytes(&v) * (size_t)chunks != dp_nbytes(&out[i]))
                return dp_fail(err, DP_EUNSUPPORTED,
                               "output %d changes shape between batch "
                               "chunks",
                               i);
            memcpy((unsigned char *)out[i].data + (size_t)c * dp_nbytes(&v), v.data, dp_nbytes(&v));
        }
    }
    return DP_OK;
}

dp_status dpr_kernel_open(dpr_kernel *k, uint32_t seed, bool ideal, dp_error *err)
{
    int rc = k->open(&k->session, seed, ideal);
    return rc == 0 ? DP_OK : kernel_fail(k, rc, err);
}

void dpr_kernel_close(dpr_kernel *k)
{
    if (k->session)
        k->close(k->session);
    if (k->lib)
        dlclose(k->lib);
    k->session = k->lib = NULL;
}
