/*
 * annotate.c: the schedule into an ONNX model's metadata_props, and a schedule back out of
 * such a model or a --report JSON (docs/annotate.md).
 *
 * Only ModelProto.metadata_props changes: node attributes would make onnxruntime refuse the
 * model (it rejects unknown attributes on standard-domain ops), and metadata is what viewers
 * such as Netron show. protobuf-c keeps the fields it does not know, so the graph is written
 * back as it was read.
 */
#include "annotate.h"

#include "onnx.pb-c.h"
#include "tensor_io.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest model or report read back: as large as the frontend accepts. */
#define MAX_SCHEDULE_FILE ((uint64_t)8 << 30)

static dp_status layer_error(dp_error *err, const char *what, int i, const char *name,
                             const char *problem)
{
    if (name)
        return dp_fail(err, DP_EINPUT, "%s: schedule layer %d (node '%s'): %s", what, i, name,
                       problem);
    return dp_fail(err, DP_EINPUT, "%s: schedule layer %d: %s", what, i, problem);
}

dp_status dpc_schedule_parse(const char *text, size_t len, const char *what, dp_arena *mem,
                             dpc_given_schedule *out, dp_error *err)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return dp_fail(err, DP_EINPUT, "%s: the schedule is not a JSON object", what);
    }
    dp_status st = DP_OK;
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "schema_version");
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    if (version && !cJSON_IsNumber(version))
        st = dp_fail(err, DP_EINPUT, "%s: schema_version is not a number", what);
    else if (version && !(version->valuedouble >= 1
                          && version->valuedouble <= DP_REPORT_SCHEMA_VERSION))
        st = dp_fail(err, DP_EINPUT, "%s: schema_version %g: this dpcc reads versions 1 to %d",
                     what, version->valuedouble, DP_REPORT_SCHEMA_VERSION);
    else if (!cJSON_IsArray(layers))
        st = dp_fail(err, DP_EINPUT, "%s: the schedule has no \"layers\" array", what);
    int n = st == DP_OK ? cJSON_GetArraySize(layers) : 0;
    if (st == DP_OK && !(out->entries = dp_arena_calloc(mem, (size_t)n + 1, sizeof *out->entries)))
        st = dp_fail(err, DP_ENOMEM, "out of memory for the schedule");
    const cJSON *layer, *each = st == DP_OK ? layers : NULL;
    int i = 0;
    cJSON_ArrayForEach(layer, each) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(layer, "name");
        const cJSON *reps = cJSON_GetObjectItemCaseSensitive(layer, "repetitions");
        const char *nm = cJSON_IsString(name) && *name->valuestring ? name->valuestring : NULL;
        if (!nm)
            st = layer_error(err, what, i, NULL, "no node name (\"name\")");
        else if (!cJSON_IsNumber(reps))
            st = layer_error(err, what, i, nm, "no \"repetitions\" number");
        else if (!(reps->valuedouble >= 1 && reps->valuedouble <= INT32_MAX
                   && reps->valuedouble == floor(reps->valuedouble)))
            st = layer_error(err, what, i, nm, "repetitions must be a whole number >= 1");
        else if (!(out->entries[i].name = dp_arena_strdup(mem, nm)))
            st = dp_fail(err, DP_ENOMEM, "out of memory for the schedule");
        if (st != DP_OK)
            break;
        out->entries[i++].repetitions = (int32_t)reps->valuedouble;
    }
    out->n = st == DP_OK ? i : 0;
    cJSON_Delete(root);
    return st;
}

static const char *metadata_value(const Onnx__ModelProto *m, const char *key)
{
    for (size_t i = 0; i < m->n_metadata_props; i++)
        if (m->metadata_props[i]->key && strcmp(m->metadata_props[i]->key, key) == 0)
            return m->metadata_props[i]->value ? m->metadata_props[i]->value : "";
    return NULL;
}

dp_status dpc_schedule_read(dp_dist *d, const char *path, dp_arena *mem,
                            dpc_given_schedule *out, dp_error *err)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    dp_status st = dp_file_read_dist(d, path, NULL, MAX_SCHEDULE_FILE, &buf, &len, err);
    if (st != DP_OK)
        return st;
    size_t lead = 0;
    while (lead < len && strchr(" \t\r\n", buf[lead]))
        lead++;
    char what[4200];
    if (lead < len && buf[lead] == '{') {
        snprintf(what, sizeof what, "--schedule from:%s", path);
        st = dpc_schedule_parse((const char *)buf, len, what, mem, out, err);
        free(buf);
        return st;
    }
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    free(buf);
    if (!m)
        return dp_fail(err, DP_EINPUT, "--schedule from:%s: neither an ONNX model nor a JSON "
                       "report", path);
    const char *text = metadata_value(m, DPC_SCHEDULE_KEY);
    snprintf(what, sizeof what, "--schedule from:%s (metadata %s)", path, DPC_SCHEDULE_KEY);
    if (!text)
        st = dp_fail(err, DP_EINPUT, "--schedule from:%s: the model has no %s metadata (write "
                     "it with dpcc --annotate)", path, DPC_SCHEDULE_KEY);
    else
        st = dpc_schedule_parse(text, strlen(text), what, mem, out, err);
    onnx__model_proto__free_unpacked(m, NULL);
    return st;
}

dp_status dpc_schedule_match(const dp_program *p, const dp_device *d,
                             const dpc_given_schedule *s, int32_t *reps, dp_error *err)
{
    memset(reps, 0, sizeof *reps * (size_t)p->n_instrs);
    for (int e = 0; e < s->n; e++) {
        const dpc_schedule_entry *en = &s->entries[e];
        int found = -1, digital = -1;
        for (int i = 0; i < p->n_instrs && found < 0; i++) {
            if (!p->instrs[i].name || strcmp(p->instrs[i].name, en->name) != 0)
                continue;
            if (!p->instrs[i].mvm)
                digital = i;
            else if (reps[i] == 0)
                found = i;
        }
        if (found < 0 && digital >= 0)
            return dp_fail(err, DP_EINPUT, "node '%s' (%s) is not an analog layer",
                           en->name, p->instrs[digital].op);
        if (found < 0) {
            /* a second entry for a layer, or a name the compiled model does not have */
            bool twice = false;
            for (int k = 0; k < e && !twice; k++)
                twice = strcmp(s->entries[k].name, en->name) == 0;
            return dp_fail(err, DP_EINPUT, twice ? "node '%s' is given twice"
                           : "node '%s' is not an analog layer of this model (a schedule "
                           "for another model?)", en->name);
        }
        if (d && (en->repetitions > d->max_repetitions
                  || dpc_round_repetitions(d, en->repetitions) != en->repetitions))
            return dp_fail(err, DP_EINPUT, "node '%s': %d repetitions, but device "
                           "'%s' runs 1 to %d%s", en->name, en->repetitions, d->name,
                           d->max_repetitions, d->repetitions_power_of_two
                           ? ", powers of two only" : "");
        reps[found] = en->repetitions;
    }
    for (int i = 0; i < p->n_instrs; i++)
        if (p->instrs[i].mvm && reps[i] == 0)
            return dp_fail(err, DP_EINPUT, "analog layer '%s' (%s) has no repetitions "
                           "in the schedule", p->instrs[i].name, p->instrs[i].op);
    return DP_OK;
}

dp_status dpc_schedule_load(dp_dist *d, const char *path, const dp_program *p,
                            dp_arena *mem, int32_t **reps, dp_error *err)
{
    dpc_given_schedule s;
    *reps = NULL;
    if (!path || !*path)
        return dp_fail(err, DP_EUSAGE, "--schedule from: needs a file");
    dp_status st = dpc_schedule_read(d, path, mem, &s, err);
    *reps = st == DP_OK ? dp_arena_calloc(mem, (size_t)p->n_instrs + 1, sizeof **reps) : NULL;
    if (st == DP_OK && !*reps)
        st = dp_fail(err, DP_ENOMEM, "out of memory for the schedule");
    if (st == DP_OK && (st = dpc_schedule_match(p, p->device, &s, *reps, err)) != DP_OK)
        dp_error_prefix(err, "--schedule from:%s", path);
    return st;
}

/*
 * The metadata entries: the whole report under DPC_SCHEDULE_KEY, and per analog layer a
 * short JSON object under DPC_NODE_KEY_PREFIX + its node name ("#2", "#3" after a name a
 * second and third time, since keys must be unique). Strings are malloc'd into *keys and
 * *values, n of each.
 */
static dp_status schedule_entries(const char *report_json, char ***keys, char ***values, int *n,
                                  dp_error *err)
{
    static const char *const per_node[] = {"op", "repetitions", "effective_bits", "energy_j",
                                           "sensitivity"};
    cJSON *root = report_json ? cJSON_Parse(report_json) : cJSON_CreateObject();
    if (root && !report_json) {
        cJSON_AddNumberToObject(root, "schema_version", DP_REPORT_SCHEMA_VERSION);
        cJSON_AddStringToObject(root, "dpcc_version", DP_VERSION);
        cJSON_AddStringToObject(root, "producer", "dpcc");
        cJSON_AddArrayToObject(root, "layers");
    }
    if (!root)
        return dp_fail(err, DP_EINTERNAL, "--annotate: the report is not valid JSON");
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    int n_layers = cJSON_GetArraySize(layers);
    *n = 0;
    *keys = calloc((size_t)n_layers + 1, sizeof **keys);
    *values = calloc((size_t)n_layers + 1, sizeof **values);
    dp_status st = *keys && *values ? DP_OK : dp_fail(err, DP_ENOMEM, "out of memory");
    if (st == DP_OK) {
        (*keys)[0] = strdup(DPC_SCHEDULE_KEY);
        (*values)[0] = cJSON_PrintUnformatted(root);
        *n = 1;
    }
    const cJSON *layer, *each = st == DP_OK ? layers : NULL;
    int i = 0;
    cJSON_ArrayForEach(layer, each) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(layer, "name");
        const char *nm = cJSON_IsString(name) ? name->valuestring : "";
        int seen = 1;
        const cJSON *prev = layers->child;
        for (int k = 0; k < i; k++, prev = prev->next) {
            const cJSON *pn = cJSON_GetObjectItemCaseSensitive(prev, "name");
            seen += cJSON_IsString(pn) && strcmp(pn->valuestring, nm) == 0;
        }
        cJSON *o = cJSON_CreateObject();
        for (size_t k = 0; o && k < sizeof per_node / sizeof per_node[0]; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(layer, per_node[k]);
            if (v)
                cJSON_AddItemToObject(o, per_node[k], cJSON_Duplicate(v, 1));
        }
        size_t klen = strlen(DPC_NODE_KEY_PREFIX) + strlen(nm) + 16;
        char *key = malloc(klen);
        if (key)
            snprintf(key, klen, seen > 1 ? "%s%s#%d" : "%s%s", DPC_NODE_KEY_PREFIX, nm, seen);
        (*keys)[*n] = key;
        (*values)[*n] = o ? cJSON_PrintUnformatted(o) : NULL;
        (*n)++;
        cJSON_Delete(o);
        i++;
    }
    for (int k = 0; st == DP_OK && k < *n; k++)
        if (!(*keys)[k] || !(*values)[k])
            st = dp_fail(err, DP_ENOMEM, "out of memory for the model's metadata");
    cJSON_Delete(root);
    return st;
}

dp_status dpc_annotate_onnx(const char *model_path, const void *model_data, size_t model_len,
                            const char *out_path, const char *report_json, dp_error *err)
{
    unsigned char *buf = NULL;
    size_t len = model_len;
    dp_status st = model_data ? DP_OK
                              : dp_file_read(model_path, NULL, MAX_SCHEDULE_FILE, &buf, &len, err);
    if (st != DP_OK)
        return st;
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, model_data ? model_data : buf);
    free(buf);
    if (!m)
        return dp_fail(err, DP_EINPUT, "%s: not a valid ONNX model (the protobuf is truncated "
                       "or corrupted)", model_path);
    char **keys = NULL, **values = NULL;
    int n = 0;
    st = schedule_entries(report_json, &keys, &values, &n, err);
    /* the new list: the model's own keys, then ours; restored before the free below, which
     * must only see what protobuf-c allocated */
    size_t n_old = m->n_metadata_props, n_new = 0;
    Onnx__StringStringEntryProto **old = m->metadata_props;
    Onnx__StringStringEntryProto **list = calloc(n_old + (size_t)n + 1, sizeof *list);
    Onnx__StringStringEntryProto *ours = calloc((size_t)n + 1, sizeof *ours);
    if (st == DP_OK && (!list || !ours))
        st = dp_fail(err, DP_ENOMEM, "out of memory for the model's metadata");
    for (size_t i = 0; st == DP_OK && i < n_old; i++)
        if (!old[i]->key || strncmp(old[i]->key, DPC_KEY_PREFIX, strlen(DPC_KEY_PREFIX)) != 0)
            list[n_new++] = old[i];
    for (int i = 0; st == DP_OK && i < n; i++) {
        ours[i] = (Onnx__StringStringEntryProto)ONNX__STRING_STRING_ENTRY_PROTO__INIT;
        ours[i].key = keys[i];
        ours[i].value = values[i];
        list[n_new++] = &ours[i];
    }
    unsigned char *out = NULL;
    size_t out_len = 0;
    if (st == DP_OK) {
        m->metadata_props = list;
        m->n_metadata_props = n_new;
        out_len = onnx__model_proto__get_packed_size(m);
        out = malloc(out_len + 1);
        if (!out)
            st = dp_fail(err, DP_ENOMEM, "%s: out of memory for %zu bytes", out_path, out_len);
        else
            onnx__model_proto__pack(m, out);
        m->metadata_props = old;
        m->n_metadata_props = n_old;
    }
    if (st == DP_OK) {
        dp_chunk part = {out, out_len};
        st = dp_file_write_atomic(out_path, &part, 1, err);
    }
    free(out);
    free(list);
    free(ours);
    for (int i = 0; i < n; i++) {
        free(keys[i]);
        free(values[i]);
    }
    free(keys);
    free(values);
    onnx__model_proto__free_unpacked(m, NULL);
    return st;
}
