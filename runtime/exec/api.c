/*
 * api.c: the public runtime API (include/dpcc/dprt.h) over the loader and the data-set
 * runner.
 *
 * A session is a dp_runner (so a batch that is a multiple of the compiled one runs as a data
 * set, on several threads if asked, and a single inference's products spread over them) plus
 * an arena for the outputs, reset at each run. The runner's analog configuration is changed
 * only when a run asks for another mode or seed: programming a device instance costs more
 * than an inference.
 */
#include "dpcc/dprt.h"

#include "dataset.h"
#include "tensor_io.h"

#ifdef DPCC_WITH_MPI
#include "dp_dist_mpi.h"
#include "dpcc/mpi.h"
#endif

#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(dpcc_tensor) == sizeof(dp_tensor)
               && offsetof(dpcc_tensor, dims) == offsetof(dp_tensor, dims)
               && offsetof(dpcc_tensor, data) == offsetof(dp_tensor, data)
               && DPCC_MAX_RANK == DP_MAX_RANK, "dpcc_tensor must match dp_tensor");

struct dprt_model {
    dp_error err;
    dp_program *prog;
    dp_dist *dist;          /* dprt_model_set_mpi_comm's ranks; NULL: one process */
};

struct dprt_session {
    dp_error err;
    const dp_program *prog;
    dp_runner *runner;
    dp_arena out_mem;
    dp_tensor *outputs;
    bool ran;
    bool mode_set;                  /* the runner's analog configuration is ideal/seed */
    bool ideal;
    uint32_t seed;
};

const char *dprt_version(void)
{
    return DPCC_VERSION_STRING;
}

dpcc_status dprt_model_new(dprt_model **out)
{
    if (!out)
        return DPCC_EUSAGE;
    *out = calloc(1, sizeof **out);
    return *out ? DPCC_OK : DPCC_ENOMEM;
}

void dprt_model_free(dprt_model *m)
{
    if (!m)
        return;
    dp_program_free(m->prog);
#ifdef DPCC_WITH_MPI
    dp_dist_mpi_delete(m->dist);
#endif
    free(m);
}

#ifdef DPCC_WITH_MPI
dpcc_status dprt_model_set_mpi_comm(dprt_model *m, MPI_Comm comm)
{
    if (!m)
        return DPCC_EUSAGE;
    return (dpcc_status)dp_dist_mpi_renew(&m->dist, comm, &m->err);
}
#endif

const char *dprt_model_error(const dprt_model *m)
{
    return m ? m->err.msg : "no model (NULL handle)";
}

/* Each call on a model clears the message of an earlier one. A NULL handle has nowhere to keep
 * a message, so the caller answers it with DPCC_EUSAGE alone (likewise for sessions). */
static bool model_begin(dprt_model *m)
{
    if (!m)
        return false;
    dp_error_clear(&m->err);
    return true;
}

static bool session_begin(dprt_session *s)
{
    if (!s)
        return false;
    dp_error_clear(&s->err);
    return true;
}

static dpcc_status model_begin_load(dprt_model *m)
{
    if (!model_begin(m))
        return DPCC_EUSAGE;
    if (m->prog)
        return (dpcc_status)dp_fail(&m->err, DP_EUSAGE, "the model is already loaded");
    return DPCC_OK;
}

dpcc_status dprt_model_load_file(dprt_model *m, const char *path)
{
    dpcc_status st = model_begin_load(m);
    if (st == DPCC_OK && !path)
        st = (dpcc_status)dp_fail(&m->err, DP_EUSAGE, "dprt_model_load_file: no path");
    return st == DPCC_OK ? (dpcc_status)dp_program_read(path, &m->prog, &m->err) : st;
}

dpcc_status dprt_model_load_buffer(dprt_model *m, const void *data, size_t len)
{
    dpcc_status st = model_begin_load(m);
    if (st == DPCC_OK && !data)
        st = (dpcc_status)dp_fail(&m->err, DP_EUSAGE, "dprt_model_load_buffer: no data");
    return st == DPCC_OK ? (dpcc_status)dp_program_parse(data, len, &m->prog, &m->err) : st;
}

int dprt_model_num_inputs(const dprt_model *m)
{
    return m && m->prog ? m->prog->n_inputs : 0;
}

int dprt_model_num_outputs(const dprt_model *m)
{
    return m && m->prog ? m->prog->n_outputs : 0;
}

int dprt_model_num_analog_layers(const dprt_model *m)
{
    int n = 0;
    for (int i = 0; m && m->prog && i < m->prog->n_instrs; i++)
        n += m->prog->instrs[i].mvm != NULL;
    return n;
}

static dpcc_status io_info(dprt_model *m, int i, bool output, dprt_io_info *out)
{
    if (!model_begin(m))
        return DPCC_EUSAGE;
    if (!out)
        return (dpcc_status)dp_fail(&m->err, DP_EUSAGE, "dprt_model_%s: no place for the "
                                    "description (out is NULL)", output ? "output" : "input");
    if (!m->prog)
        return (dpcc_status)dp_fail(&m->err, DP_EUSAGE, "no program loaded");
    int n = output ? m->prog->n_outputs : m->prog->n_inputs;
    if (i < 0 || i >= n)
        return (dpcc_status)dp_fail(&m->err, DP_EUSAGE, "no %s %d (the program has %d)",
                                    output ? "output" : "input", i, n);
    const dp_tensor_info *ti = &m->prog->tensors[output ? m->prog->outputs[i] : m->prog->inputs[i]];
    memset(out, 0, sizeof *out);
    out->name = ti->name;
    out->dtype = (dpcc_dtype)ti->t.dtype;
    out->rank = ti->t.rank;
    for (int d = 0; d < ti->t.rank; d++)
        out->dims[d] = ti->t.dims[d];
    return DPCC_OK;
}

dpcc_status dprt_model_input(dprt_model *m, int i, dprt_io_info *out)
{
    return io_info(m, i, false, out);
}

dpcc_status dprt_model_output(dprt_model *m, int i, dprt_io_info *out)
{
    return io_info(m, i, true, out);
}

dpcc_status dprt_session_new(dprt_model *m, const dprt_session_options *options,
                             dprt_session **out)
{
    static const dprt_session_options defaults;
    if (out)
        *out = NULL;
    if (!model_begin(m))
        return DPCC_EUSAGE;
    if (!out)
        return (dpcc_status)dp_fail(&m->err, DP_EUSAGE, "dprt_session_new: no place for the "
                                    "session (out is NULL)");
    if (!options)
        options = &defaults;
    if (!m->prog)
        return (dpcc_status)dp_fail(&m->err, DP_EUSAGE, "no program loaded");
    if (options->threads < 0 || options->threads > 256)
        return (dpcc_status)dp_fail(&m->err, DP_EUSAGE, "threads must be from 0 to 256, not %d",
                                    options->threads);
    dprt_session *s = calloc(1, sizeof *s);
    if (!s || !(s->outputs = calloc((size_t)m->prog->n_outputs + 1, sizeof *s->outputs))) {
        free(s);
        return (dpcc_status)dp_fail(&m->err, DP_ENOMEM, "out of memory");
    }
    s->prog = m->prog;
    dp_arena_init(&s->out_mem, options->max_memory);
    dp_runner_opts ro = {.session = {.max_memory = options->max_memory},
                         .threads = options->threads, .dist = m->dist};
    dp_status st = dp_runner_new(m->prog, &ro, &s->runner, &m->err);
    if (st != DP_OK) {
        dprt_session_free(s);
        return (dpcc_status)st;
    }
    *out = s;
    return DPCC_OK;
}

void dprt_session_free(dprt_session *s)
{
    if (!s)
        return;
    dp_runner_free(s->runner);
    dp_arena_free(&s->out_mem);
    free(s->outputs);
    free(s);
}

const char *dprt_session_error(const dprt_session *s)
{
    return s ? s->err.msg : "no session (NULL handle)";
}

/* Puts the runner in the mode a run asks for, unless it is in it already. */
static dp_status set_mode(dprt_session *s, bool ideal, uint32_t seed)
{
    if (s->mode_set && s->ideal == ideal && (ideal || s->seed == seed))
        return DP_OK;
    s->mode_set = false;
    dp_analog_config cfg = {.seed = seed};
    dp_status st = dp_runner_set_analog(s->runner, ideal ? NULL : &cfg, &s->err);
    if (st == DP_OK) {
        s->mode_set = true;
        s->ideal = ideal;
        s->seed = seed;
    }
    return st;
}

dpcc_status dprt_session_run(dprt_session *s, const dpcc_tensor *inputs, int n,
                             const dprt_run_options *options)
{
    static const dprt_run_options noisy;
    if (!session_begin(s))
        return DPCC_EUSAGE;
    const dp_program *p = s->prog;
    s->ran = false;
    if (!options)
        options = &noisy;
    if (n != p->n_inputs || (n > 0 && !inputs))
        return (dpcc_status)dp_fail(&s->err, DP_EUSAGE, "the program has %d inputs, %d given",
                                    p->n_inputs, n);
    dp_tensor *in = calloc((size_t)n + 1, sizeof *in);
    if (!in)
        return (dpcc_status)dp_fail(&s->err, DP_ENOMEM, "out of memory");
    dp_status st = DP_OK;
    for (int i = 0; st == DP_OK && i < n; i++) {
        memcpy(&in[i], &inputs[i], sizeof in[i]);
        st = dp_shape_check(&in[i], &s->err, p->tensors[p->inputs[i]].name);
        if (st == DP_OK && (!in[i].data || in[i].dtype != p->tensors[p->inputs[i]].t.dtype))
            st = dp_fail(&s->err, DP_EINPUT, "input %d ('%s'): %s, the program takes %s", i,
                         p->tensors[p->inputs[i]].name,
                         in[i].data ? dp_dtype_name(in[i].dtype) : "no data",
                         dp_dtype_name(p->tensors[p->inputs[i]].t.dtype));
    }
    int64_t chunks = 1;
    if (st == DP_OK)
        st = dp_dataset_chunks(p, in, NULL, &chunks, &s->err);
    if (st == DP_OK)
        st = set_mode(s, options->ideal != 0, options->seed);
    if (st == DP_OK) {
        dp_arena_reset(&s->out_mem);
        memset(s->outputs, 0, (size_t)p->n_outputs * sizeof *s->outputs);
        st = dp_runner_run(s->runner, in, chunks, 0, &s->out_mem, s->outputs, &s->err);
    }
    free(in);
    s->ran = st == DP_OK;
    return (dpcc_status)st;
}

dpcc_status dprt_session_output(dprt_session *s, int i, dpcc_tensor *out)
{
    if (!session_begin(s))
        return DPCC_EUSAGE;
    if (!out)
        return (dpcc_status)dp_fail(&s->err, DP_EUSAGE, "dprt_session_output: no place for the "
                                    "output (out is NULL)");
    if (!s->ran)
        return (dpcc_status)dp_fail(&s->err, DP_EUSAGE, "no outputs: the session has not run "
                                    "successfully");
    if (i < 0 || i >= s->prog->n_outputs)
        return (dpcc_status)dp_fail(&s->err, DP_EUSAGE, "no output %d (the program has %d)", i,
                                    s->prog->n_outputs);
    memcpy(out, &s->outputs[i], sizeof *out);
    return DPCC_OK;
}

dpcc_status dprt_tensor_read(dprt_model *m, const char *path, dpcc_tensor *out)
{
    /* cleared first, so that dprt_tensor_release is safe after any failure */
    if (out)
        memset(out, 0, sizeof *out);
    if (!model_begin(m))
        return DPCC_EUSAGE;
    if (!path || !out)
        return (dpcc_status)dp_fail(&m->err, DP_EUSAGE, "dprt_tensor_read: needs a path and a "
                                    "place for the tensor");
    dp_arena mem;
    dp_arena_init(&mem, 0);
    dp_tensor t;
    dp_status st = dp_tensor_read(path, &mem, &t, NULL, &m->err);
    size_t bytes = st == DP_OK ? dp_nbytes(&t) : 0;
    void *data = st == DP_OK ? malloc(bytes + 1) : NULL;
    if (st == DP_OK && !data)
        st = dp_fail(&m->err, DP_ENOMEM, "%s: out of memory", path);
    if (st == DP_OK) {
        memcpy(data, t.data, bytes);
        t.data = data;
        memcpy(out, &t, sizeof *out);
    }
    dp_arena_free(&mem);
    return (dpcc_status)st;
}

void dprt_tensor_release(dpcc_tensor *t)
{
    if (!t)
        return;
    free(t->data);
    t->data = NULL;
}

dpcc_status dprt_tensor_write(dprt_model *m, const char *path, const dpcc_tensor *t,
                              const char *name)
{
    if (!model_begin(m))
        return DPCC_EUSAGE;
    if (!path || !t || !t->data)
        return (dpcc_status)dp_fail(&m->err, DP_EUSAGE, "dprt_tensor_write: needs a path and a "
                                    "tensor with data");
    /* dp_tensor_write takes a bad type for a bug of dpcc's own; here it is the caller's */
    if (dp_dtype_size((dp_dtype)t->dtype) == 0)
        return (dpcc_status)dp_fail(&m->err, DP_EUSAGE, "dprt_tensor_write: %s: dtype %d is not "
                                    "one dpcc stores", path, (int)t->dtype);
    dp_tensor v;
    memcpy(&v, t, sizeof v);
    dp_status st = dp_shape_check(&v, &m->err, path);
    return (dpcc_status)(st == DP_OK ? dp_tensor_write(path, &v, name, &m->err) : st);
}
