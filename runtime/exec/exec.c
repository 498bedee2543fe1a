/*
 * exec.c: the instruction-stream executor.
 *
 * Every instruction is checked before its kernel runs: the op's own type and shape rules
 * are applied to the actual inputs, and for statically planned tensors the result must
 * equal what the program declares, so a .dp whose shapes were tampered with cannot steer a
 * kernel outside its buffers.
 */
#include "exec.h"

#include <stdlib.h>
#include <string.h>

#include "weight_panels.h"

#define DEFAULT_MAX_MEMORY ((size_t)16 << 30)

struct dp_session {
    const dp_program *prog;
    unsigned char *act;         /* the planned activation arena */
    dp_tensor *vals;            /* every tensor's current view */
    dp_arena dyn;               /* dynamically shaped tensors: one inference */
    dp_arena scratch;           /* kernel scratch: one instruction */
    uint64_t inference;         /* the index of the running inference in its data set */
    dp_observe_fn observe;
    void *observe_ctx;
    dp_analog_state *analog;    /* NULL: ideal */
    dp_weight_panels *panels;   /* constant weights packed for ideal products */
    dp_parallel *parallel;      /* NULL: products on the calling thread */
};

dp_status dp_session_new(const dp_program *prog, const dp_session_opts *opts, dp_session **out,
                         dp_error *err)
{
    size_t limit = opts && opts->max_memory ? opts->max_memory : DEFAULT_MAX_MEMORY;
    *out = NULL;
    if (prog->arena_bytes > limit)
        return dp_fail(err, DP_ENOMEM, "the program needs %llu bytes of activations, above the "
                       "memory limit of %zu", (unsigned long long)prog->arena_bytes, limit);
    dp_session *s = calloc(1, sizeof *s);
    if (!s)
        return dp_fail(err, DP_ENOMEM, "out of memory creating a session");
    s->prog = prog;
    if (opts) {
        s->observe = opts->observe;
        s->observe_ctx = opts->observe_ctx;
    }
    s->act = aligned_alloc(64, ((size_t)prog->arena_bytes + 64) & ~(size_t)63);
    s->vals = calloc((size_t)prog->n_tensors + 1, sizeof *s->vals);
    /* what the activations leave of the limit: a quarter for the packed weights, the rest
     * for tensors of data-dependent shape and the kernels' scratch */
    size_t rest = limit - (size_t)prog->arena_bytes;
    s->panels = dp_weight_panels_new(prog->weights, (size_t)prog->weights_bytes, rest / 4);
    if (!s->act || !s->vals) {
        dp_session_free(s);
        return dp_fail(err, DP_ENOMEM, "out of memory for %llu bytes of activations",
                       (unsigned long long)prog->arena_bytes);
    }
    dp_arena_init(&s->dyn, rest / 8 * 3);
    dp_arena_init(&s->scratch, rest / 8 * 3);
    *out = s;
    return DP_OK;
}

void dp_session_free(dp_session *s)
{
    if (!s)
        return;
    dp_analog_state_free(s->analog);
    dp_weight_panels_free(s->panels);
    free(s->act);
    free(s->vals);
    dp_arena_free(&s->dyn);
    dp_arena_free(&s->scratch);
    free(s);
}

static dp_status bind_inputs(dp_session *s, const dp_tensor *inputs, dp_error *err)
{
    const dp_program *p = s->prog;
    for (int i = 0; i < p->n_tensors; i++) {
        const dp_tensor_info *ti = &p->tensors[i];
        s->vals[i] = ti->t;
        if (ti->storage == DP_STORE_CONST)
            s->vals[i].data = (void *)(p->weights + ti->offset);
        else if (ti->storage == DP_STORE_ARENA)
            s->vals[i].data = s->act + ti->offset;
        else
            s->vals[i].data = NULL;
    }
    for (int i = 0; i < p->n_inputs; i++) {
        const dp_tensor_info *ti = &p->tensors[p->inputs[i]];
        const dp_tensor *in = &inputs[i];
        char a[160], b[160];
        if (in->dtype != ti->t.dtype)
            return dp_fail(err, DP_EINPUT, "input %d ('%s') has dtype %s, the model expects %s",
                           i, ti->name, dp_dtype_name(in->dtype), dp_dtype_name(ti->t.dtype));
        if (!dp_same_shape(in, &ti->t))
            return dp_fail(err, DP_EINPUT, "input %d ('%s') has shape %s, the model expects %s",
                           i, ti->name, dp_shape_str(in, a, sizeof a), dp_shape_str(&ti->t, b, sizeof b));
        s->vals[p->inputs[i]].data = in->data;
    }
    return DP_OK;
}

static dp_status run_instr(dp_session *s, int index, dp_error *err)
{
    const dp_program *p = s->prog;
    const dp_instr *ins = &p->instrs[index];
    dp_tensor *in[DP_MAX_NODE_INPUTS], out_t[DP_MAX_NODE_OUTPUTS], *out[DP_MAX_NODE_OUTPUTS];
    for (int j = 0; j < ins->n_in; j++) {
        in[j] = ins->in[j] < 0 ? NULL : &s->vals[ins->in[j]];
        if (in[j] && !in[j]->data)
            return dp_fail(err, DP_EINPUT, "instruction %d (%s '%s'): input %d is read before "
                           "it is written", index, ins->op, ins->name, j);
    }
    for (int j = 0; j < ins->n_out; j++) {
        out_t[j] = s->vals[ins->out[j]];
        out[j] = &out_t[j];
    }
    dp_kctx k = {.node = ins->name, .op = ins->op, .opset = ins->opset, .attrs = ins->attrs,
                 .n_attrs = ins->n_attrs, .in = in, .n_in = ins->n_in, .out = out,
                 .n_out = ins->n_out, .scratch = &s->scratch, .err = err, .panels = s->panels,
                 .parallel = s->parallel,
                 .analog = s->analog ? dp_analog_state_hook(s->analog, index, s->inference) : NULL};
    dp_status st = dp_node_types_infer(ins->def, &k);
    if (st == DP_DYNAMIC)
        st = dp_fail(err, DP_EINTERNAL, "instruction %d (%s '%s'): shape unknown at run time",
                     index, ins->op, ins->name);
    if (st != DP_OK)
        return st;
    for (int j = 0; j < ins->n_out; j++) {
        const dp_tensor_info *ti = &p->tensors[ins->out[j]];
        dp_tensor *v = &s->vals[ins->out[j]];
        if (ti->storage == DP_STORE_DYNAMIC) {
            size_t bytes = dp_nbytes(out[j]);
            out[j]->data = dp_arena_alloc(&s->dyn, bytes ? bytes : 1);
            if (!out[j]->data)
                return dp_fail(err, DP_ENOMEM, "instruction %d (%s '%s'): out of memory for "
                               "%zu bytes (raise --max-memory)", index, ins->op, ins->name, bytes);
        } else if (out[j]->dtype != ti->t.dtype || !dp_same_shape(out[j], &ti->t)) {
            char a[160], b[160];
            return dp_fail(err, DP_EINPUT, "instruction %d (%s '%s'): output %d is %s[%s] but "
                           "the program declares %s[%s]", index, ins->op, ins->name, j,
                           dp_dtype_name(out[j]->dtype), dp_shape_str(out[j], a, sizeof a),
                           dp_dtype_name(ti->t.dtype), dp_shape_str(&ti->t, b, sizeof b));
        }
        *v = *out[j];
    }
    st = ins->def->run(&k);
    dp_arena_reset(&s->scratch);
    if (st == DP_OK && s->observe)
        st = s->observe(s->observe_ctx, index, in, ins->n_in, out, ins->n_out, err);
    return st;
}

dp_status dp_session_set_analog(dp_session *s, const dp_analog_config *cfg, dp_error *err)
{
    dp_analog_state_free(s->analog);
    s->analog = NULL;
    return cfg ? dp_analog_state_new(s->prog, cfg, &s->analog, err) : DP_OK;
}

void dp_session_set_parallel(dp_session *s, dp_parallel *p)
{
    s->parallel = p;
}

dp_analog_state *dp_session_analog(dp_session *s)
{
    return s->analog;
}

dp_adc_counts dp_session_adc_counts(const dp_session *s, int instr)
{
    return s->analog ? dp_analog_state_counts(s->analog, instr) : (dp_adc_counts){0, 0};
}

dp_status dp_session_begin(dp_session *s, uint64_t index, const dp_tensor *inputs,
                           dp_error *err)
{
    s->inference = index;
    dp_arena_reset(&s->dyn);
    return bind_inputs(s, inputs, err);
}

dp_status dp_session_step(dp_session *s, int instr, dp_error *err)
{
    if (instr < 0 || instr >= s->prog->n_instrs)
        return dp_fail(err, DP_EINTERNAL, "instruction %d is outside the program", instr);
    return run_instr(s, instr, err);
}

void dp_session_outputs(const dp_session *s, dp_tensor *outputs)
{
    for (int i = 0; i < s->prog->n_outputs; i++)
        outputs[i] = s->vals[s->prog->outputs[i]];
}

size_t dp_session_state_bytes(const dp_session *s)
{
    return (size_t)s->prog->arena_bytes + (size_t)s->prog->n_tensors * sizeof *s->vals;
}

void dp_session_save(const dp_session *s, void *state)
{
    memcpy(state, s->act, (size_t)s->prog->arena_bytes);
    memcpy((char *)state + s->prog->arena_bytes, s->vals,
           (size_t)s->prog->n_tensors * sizeof *s->vals);
}

void dp_session_resume(dp_session *s, uint64_t index, const void *state)
{
    const dp_program *p = s->prog;
    s->inference = index;
    dp_arena_reset(&s->dyn);
    memcpy(s->act, state, (size_t)p->arena_bytes);
    memcpy(s->vals, (const char *)state + p->arena_bytes, (size_t)p->n_tensors * sizeof *s->vals);
    for (int i = 0; i < p->n_tensors; i++)
        if (p->tensors[i].storage == DP_STORE_ARENA)
            s->vals[i].data = s->act + p->tensors[i].offset;
}

dp_status dp_session_run(dp_session *s, uint64_t index, const dp_tensor *inputs,
                         dp_tensor *outputs, dp_error *err)
{
    dp_status st = dp_session_begin(s, index, inputs, err);
    for (int i = 0; st == DP_OK && i < s->prog->n_instrs; i++)
        st = run_instr(s, i, err);
    if (st == DP_OK)
        dp_session_outputs(s, outputs);
    return st;
}
