/*
 * device.c: device profiles: the JSON reader, the range checks shared with the .dp loader,
 * and the JSON writer.
 *
 * One table describes every key: its group, type, place in dp_device, whether it is required,
 * its default and its valid range. Parsing, checking and writing all walk it, so a key is
 * added in one place (and in dp.proto and dpfile.c, which carry the struct in a .dp).
 */
#include "device.h"

#include "tensor_io.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* KEY_CHOICE: one of a list of words in the profile, its index (an int32_t enum) in memory. */
typedef enum key_type { KEY_TEXT, KEY_INT, KEY_REAL, KEY_BOOL, KEY_CHOICE } key_type;

/* Which ends of [lo, hi] belong to the valid range. */
typedef enum interval { CLOSED, OPEN_LO, OPEN_HI } interval;

typedef struct key_def {
    const char *group;    /* NULL: a top-level key */
    const char *name;
    key_type type;
    size_t offset;        /* of the field in dp_device */
    bool required;
    double fallback;      /* the default of an optional number or boolean (1: true) */
    double lo, hi;        /* the valid range of a number */
    interval iv;
    const char *const *choices;   /* KEY_CHOICE: the words, NULL-terminated */
} key_def;

#define AT(member) offsetof(dp_device, member)
#define TEXT(name, member, req) {NULL, name, KEY_TEXT, AT(member), req, 0, 0, 0, CLOSED, NULL}
#define REQUIRED(group, name, type, member, lo, hi, iv) \
    {group, name, type, AT(member), true, 0, lo, hi, iv, NULL}
#define OPTIONAL(group, name, type, member, fallback, lo, hi, iv) \
    {group, name, type, AT(member), false, fallback, lo, hi, iv, NULL}
#define CHOICE(group, name, member, words) \
    {group, name, KEY_CHOICE, AT(member), false, 0, 0, sizeof words / sizeof words[0] - 2, \
     CLOSED, words}

/* The words of each choice, in the order of their enum (device.h); the first is the default. */
static const char *const shot_models[] = {"signal", "full_scale", NULL};
static const char *const thermal_models[] = {"output", "mac", NULL};
static const char *const adc_modes[] = {"integrate", "average", NULL};
static const char *const precisions[] = {"repetitions", "photons", NULL};

const char *dp_shot_model_name(int32_t model)
{
    return model == DP_SHOT_FULL_SCALE ? shot_models[1] : shot_models[0];
}

const char *dp_thermal_model_name(int32_t model)
{
    return model == DP_THERMAL_MAC ? thermal_models[1] : thermal_models[0];
}

const char *dp_adc_mode_name(int32_t mode)
{
    return mode == DP_ADC_AVERAGE ? adc_modes[1] : adc_modes[0];
}

const char *dp_precision_name(int32_t precision)
{
    return precision == DP_PRECISION_PHOTONS ? precisions[1] : precisions[0];
}

/*
 * The bounds catch unit mistakes (metres for nanometres, Hz for GHz) and values that break
 * the model; docs/device-profiles.md gives the reason for each. k3 stays below 1/3 so that
 * y - k3 y^3 is monotonic over the whole full scale [-1, 1].
 */
static const key_def keys[] = {
    TEXT("name", name, true),
    TEXT("description", description, false),
    REQUIRED("core", "rows", KEY_INT, rows, 1, 65536, CLOSED),
    REQUIRED("core", "cols", KEY_INT, cols, 1, 65536, CLOSED),
    REQUIRED("core", "clock_ghz", KEY_REAL, clock_ghz, 0, 1000, OPEN_LO),
    REQUIRED("optics", "wavelength_nm", KEY_REAL, wavelength_nm, 100, 20000, CLOSED),
    REQUIRED("optics", "photons_per_mac", KEY_REAL, photons_per_mac, 0, 1e9, OPEN_LO),
    OPTIONAL("optics", "efficiency", KEY_REAL, optical_efficiency, 1, 0, 1, OPEN_LO),
    REQUIRED("noise", "thermal_std", KEY_REAL, thermal_std, 0, 1, CLOSED),
    CHOICE("noise", "thermal_model", thermal_model, thermal_models),
    OPTIONAL("noise", "shot_noise", KEY_BOOL, shot_noise, 1, 0, 0, CLOSED),
    CHOICE("noise", "shot_model", shot_model, shot_models),
    OPTIONAL("noise", "weight_std", KEY_REAL, weight_noise_std, 0, 0, 1, CLOSED),
    OPTIONAL("noise", "input_std", KEY_REAL, input_noise_std, 0, 0, 1, CLOSED),
    OPTIONAL("noise", "static_weight_std", KEY_REAL, static_weight_std, 0, 0, 1, CLOSED),
    OPTIONAL("noise", "distortion_k3", KEY_REAL, distortion_k3, 0, 0, 1.0 / 3, OPEN_HI),
    REQUIRED("converters", "dac_bits", KEY_INT, dac_bits, 1, 24, CLOSED),
    REQUIRED("converters", "weight_bits", KEY_INT, weight_bits, 1, 24, CLOSED),
    REQUIRED("converters", "adc_bits", KEY_INT, adc_bits, 1, 24, CLOSED),
    OPTIONAL("converters", "remodulate_weights", KEY_BOOL, remodulate_weights, 1, 0, 0, CLOSED),
    CHOICE("converters", "adc_mode", adc_mode, adc_modes),
    OPTIONAL("converters", "headroom", KEY_REAL, headroom, 1, 1, 1e6, CLOSED),
    REQUIRED("repetitions", "max", KEY_INT, max_repetitions, 1, 1 << 20, CLOSED),
    OPTIONAL("repetitions", "power_of_two", KEY_BOOL, repetitions_power_of_two, 0, 0, 0, CLOSED),
    CHOICE("repetitions", "precision", precision, precisions),
    REQUIRED("energy", "dac_conversion_pj", KEY_REAL, dac_conversion_pj, 0, 1e6, CLOSED),
    REQUIRED("energy", "adc_conversion_pj", KEY_REAL, adc_conversion_pj, 0, 1e6, CLOSED),
    REQUIRED("energy", "digital_op_pj", KEY_REAL, digital_op_pj, 0, 1e6, CLOSED),
    REQUIRED("energy", "memory_byte_pj", KEY_REAL, memory_byte_pj, 0, 1e6, CLOSED),
};

enum { N_KEYS = sizeof keys / sizeof keys[0] };
enum { PATH_MAX_LEN = 128 };

static const char *key_path(const key_def *k, char *buf, size_t n)
{
    if (k->group)
        snprintf(buf, n, "%s.%s", k->group, k->name);
    else
        snprintf(buf, n, "%s", k->name);
    return buf;
}

static void *field(dp_device *d, const key_def *k)
{
    return (char *)d + k->offset;
}

static const void *cfield(const dp_device *d, const key_def *k)
{
    return (const char *)d + k->offset;
}

static bool is_group(const char *name)
{
    for (int i = 0; i < N_KEYS; i++)
        if (keys[i].group && strcmp(keys[i].group, name) == 0)
            return true;
    return false;
}

static const key_def *find_key(const char *group, const char *name)
{
    for (int i = 0; i < N_KEYS; i++) {
        const key_def *k = &keys[i];
        bool same_group = group ? k->group && strcmp(k->group, group) == 0 : k->group == NULL;
        if (same_group && strcmp(k->name, name) == 0)
            return k;
    }
    return NULL;
}

/* ---- checks ----------------------------------------------------------------------------- */

static dp_status check_number(const key_def *k, double x, const char *what, dp_error *err)
{
    char path[PATH_MAX_LEN];
    key_path(k, path, sizeof path);
    if (!isfinite(x))
        return dp_fail(err, DP_EINPUT, "%s: %s: %.15g is not a finite number", what, path, x);
    bool ok = (k->iv == OPEN_LO ? x > k->lo : x >= k->lo)
              && (k->iv == OPEN_HI ? x < k->hi : x <= k->hi);
    if (!ok)
        return dp_fail(err, DP_EINPUT, "%s: %s: %.15g is out of range, expected %s in %c%.15g, "
                       "%.15g%c", what, path, x, k->type == KEY_INT ? "an integer" : "a value",
                       k->iv == OPEN_LO ? '(' : '[', k->lo, k->hi, k->iv == OPEN_HI ? ')' : ']');
    return DP_OK;
}

/* A choice as stored (from a .dp): its index must name one of the words. */
static dp_status check_choice(const key_def *k, int32_t v, const char *what, dp_error *err)
{
    char path[PATH_MAX_LEN];
    if (v >= 0 && v <= (int32_t)k->hi)
        return DP_OK;
    return dp_fail(err, DP_EINPUT, "%s: %s: %d is not one of the %d choices", what,
                   key_path(k, path, sizeof path), v, (int)k->hi + 1);
}

/* Text is shown in messages, reports and listings: no control characters, and a name is
 * plain printable ASCII so that it can name files and report entries as it is. */
static dp_status check_text(const key_def *k, const char *s, size_t cap, const char *what,
                            dp_error *err)
{
    if (!memchr(s, 0, cap))
        return dp_fail(err, DP_EINPUT, "%s: %s: longer than %zu bytes", what, k->name, cap - 1);
    bool is_name = k->offset == AT(name);
    if (is_name && !s[0])
        return dp_fail(err, DP_EINPUT, "%s: name: empty, expected a non-empty name", what);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c < 0x20 || *c == 0x7f || (is_name && *c > 0x7e))
            return dp_fail(err, DP_EINPUT, "%s: %s: byte %d is 0x%02x, expected %s", what,
                           k->name, (int)((const char *)c - s), *c,
                           is_name ? "printable ASCII" : "no control characters");
    return DP_OK;
}

static size_t text_cap(const key_def *k)
{
    return k->offset == AT(name) ? DP_DEVICE_NAME_MAX : DP_DEVICE_DESCRIPTION_MAX;
}

dp_status dp_device_check(const dp_device *d, const char *what, dp_error *err)
{
    for (int i = 0; i < N_KEYS; i++) {
        const key_def *k = &keys[i];
        dp_status st = DP_OK;
        switch (k->type) {
        case KEY_TEXT: st = check_text(k, cfield(d, k), text_cap(k), what, err); break;
        case KEY_INT: st = check_number(k, *(const int32_t *)cfield(d, k), what, err); break;
        case KEY_CHOICE: st = check_choice(k, *(const int32_t *)cfield(d, k), what, err); break;
        case KEY_REAL: st = check_number(k, *(const double *)cfield(d, k), what, err); break;
        case KEY_BOOL: break;
        }
        if (st != DP_OK)
            return st;
    }
    /* The schedule rounds to powers of two up to the maximum: the maximum must be one. */
    uint32_t n = (uint32_t)d->max_repetitions;
    if (d->repetitions_power_of_two && (n & (n - 1)) != 0)
        return dp_fail(err, DP_EINPUT, "%s: repetitions.max: %u is not a power of two, as "
                       "repetitions.power_of_two demands", what, n);
    return DP_OK;
}

bool dp_device_repetitions_ok(const dp_device *d, int64_t n)
{
    return n >= 1 && n <= d->max_repetitions
        && (!d->repetitions_power_of_two || (n & (n - 1)) == 0);
}

dp_status dp_device_set_text(dp_device *d, const char *key, const char *value, const char *what,
                             dp_error *err)
{
    const key_def *k = find_key(NULL, key);
    if (!k || k->type != KEY_TEXT)
        return dp_fail(err, DP_EINTERNAL, "%s: '%s' is not a text field of a device", what, key);
    size_t cap = text_cap(k), len = strlen(value);
    if (len >= cap)
        return dp_fail(err, DP_EINPUT, "%s: %s: %zu bytes, longer than the limit of %zu", what,
                       key, len, cap - 1);
    memcpy(field(d, k), value, len + 1);
    return DP_OK;
}

/* ---- reading ---------------------------------------------------------------------------- */

static const char *json_type(const cJSON *v)
{
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "an invalid value";
}

/* Levenshtein distance; keys longer than the buffer are too far from any real one anyway. */
static int edit_distance(const char *a, const char *b)
{
    enum { MAXLEN = 64 };
    size_t m = strlen(a), n = strlen(b);
    if (m >= MAXLEN || n >= MAXLEN)
        return MAXLEN;
    int row[MAXLEN + 1];
    for (size_t j = 0; j <= n; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= m; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= n; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            best = up + 1 < best ? up + 1 : best;
            best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            row[j] = best;
            diag = up;
        }
    }
    return row[n];
}

/*
 * " (did you mean 'x'?)" for the known key nearest an unknown one: a misspelling (at most two
 * edits) or the right name in the wrong group; "" when nothing is near.
 */
static const char *suggestion(const char *group, const char *name, char *buf, size_t n)
{
    int best = 3;
    char path[PATH_MAX_LEN] = "";
    for (int i = 0; i < N_KEYS; i++) {
        const key_def *k = &keys[i];
        bool same_group = group ? k->group && strcmp(k->group, group) == 0 : k->group == NULL;
        /* A key of another group matches only by its exact name: "thermal_std" at the top. */
        int d = same_group ? edit_distance(name, k->name) : strcmp(name, k->name) == 0 ? 1 : 3;
        if (d < best && (size_t)d < strlen(name)) {
            best = d;
            key_path(k, path, sizeof path);
        }
        if (!group && k->group) {
            d = edit_distance(name, k->group);
            if (d < best && (size_t)d < strlen(name)) {
                best = d;
                snprintf(path, sizeof path, "%s", k->group);
            }
        }
    }
    if (best < 3)
        snprintf(buf, n, " (did you mean '%s'?)", path);
    else
        buf[0] = '\0';
    return buf;
}

/* "\"a\", \"b\" or \"c\"": a choice's words, for messages. */
static const char *choice_list(const key_def *k, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int c = 0; k->choices[c] && used < n; c++) {
        const char *sep = c == 0 ? "" : k->choices[c + 1] ? ", " : " or ";
        int w = snprintf(buf + used, n - used, "%s\"%s\"", sep, k->choices[c]);
        used += w > 0 ? (size_t)w : 0;
    }
    return buf;
}

static dp_status read_key(const char *group, const cJSON *item, dp_device *d, bool *seen,
                          const char *what, dp_error *err)
{
    const char *name = item->string;
    const key_def *k = find_key(group, name);
    char path[PATH_MAX_LEN];
    if (!k) {
        char hint[PATH_MAX_LEN + 32];
        return dp_fail(err, DP_EINPUT, "%s: unknown key '%s%s%.100s'%s", what,
                       group ? group : "", group ? "." : "", name,
                       suggestion(group, name, hint, sizeof hint));
    }
    key_path(k, path, sizeof path);
    if (seen[k - keys])
        return dp_fail(err, DP_EINPUT, "%s: %s: the key appears twice", what, path);
    seen[k - keys] = true;
    switch (k->type) {
    case KEY_TEXT:
        if (!cJSON_IsString(item))
            break;
        return dp_device_set_text(d, k->name, item->valuestring, what, err);
    case KEY_BOOL:
        if (!cJSON_IsBool(item))
            break;
        *(bool *)field(d, k) = cJSON_IsTrue(item);
        return DP_OK;
    case KEY_CHOICE:
        if (!cJSON_IsString(item))
            break;
        for (int32_t c = 0; k->choices[c]; c++)
            if (strcmp(item->valuestring, k->choices[c]) == 0) {
                *(int32_t *)field(d, k) = c;
                return DP_OK;
            }
        return dp_fail(err, DP_EINPUT, "%s: %s: \"%.100s\" is not %s", what, path,
                       item->valuestring, choice_list(k, (char[160]){0}, 160));
    case KEY_INT:
    case KEY_REAL: {
        if (!cJSON_IsNumber(item))
            break;
        double x = item->valuedouble;
        if (k->type == KEY_REAL) {
            *(double *)field(d, k) = x;
            return DP_OK; /* dp_device_check judges the range */
        }
        if (isfinite(x) && x != floor(x))
            return dp_fail(err, DP_EINPUT, "%s: %s: %.15g is not an integer", what, path, x);
        /* Checked before the conversion, which is undefined outside int32_t. */
        dp_status st = check_number(k, x, what, err);
        if (st == DP_OK)
            *(int32_t *)field(d, k) = (int32_t)x;
        return st;
    }
    }
    static const char *const expected[] = {"a string", "an integer", "a number",
                                           "true or false", "a string"};
    return dp_fail(err, DP_EINPUT, "%s: %s: expected %s, found %s", what, path,
                   expected[k->type], json_type(item));
}

static dp_status from_json(const cJSON *root, dp_device *d, const char *what, dp_error *err)
{
    if (!cJSON_IsObject(root))
        return dp_fail(err, DP_EINPUT, "%s: expected a JSON object at the top level, found %s",
                       what, json_type(root));
    bool seen[N_KEYS] = {0};
    dp_status st = DP_OK;
    for (const cJSON *c = root->child; c && st == DP_OK; c = c->next) {
        if (!is_group(c->string)) {
            st = read_key(NULL, c, d, seen, what, err);
            continue;
        }
        if (!cJSON_IsObject(c))
            return dp_fail(err, DP_EINPUT, "%s: %s: expected an object, found %s", what,
                           c->string, json_type(c));
        for (const cJSON *g = root->child; g != c; g = g->next)
            if (strcmp(g->string, c->string) == 0)
                return dp_fail(err, DP_EINPUT, "%s: %s: the key appears twice", what,
                               c->string);
        for (const cJSON *m = c->child; m && st == DP_OK; m = m->next)
            st = read_key(c->string, m, d, seen, what, err);
    }
    if (st != DP_OK)
        return st;
    for (int i = 0; i < N_KEYS; i++) {
        const key_def *k = &keys[i];
        char path[PATH_MAX_LEN];
        if (seen[i])
            continue;
        if (k->required)
            return dp_fail(err, DP_EINPUT, "%s: missing required key '%s'", what,
                           key_path(k, path, sizeof path));
        switch (k->type) {
        case KEY_TEXT: break; /* "" from the zeroed struct */
        case KEY_INT:
        case KEY_CHOICE: *(int32_t *)field(d, k) = (int32_t)k->fallback; break;
        case KEY_REAL: *(double *)field(d, k) = k->fallback; break;
        case KEY_BOOL: *(bool *)field(d, k) = k->fallback != 0; break;
        }
    }
    return DP_OK;
}

/* "line L, column C" of byte pos, both from 1, for an editor to jump to. */
static void position(const char *json, size_t pos, char *buf, size_t n)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos; i++) {
        col++;
        if (json[i] == '\n') {
            line++;
            col = 1;
        }
    }
    snprintf(buf, n, "line %zu, column %zu", line, col);
}

dp_status dp_device_parse(const char *json, size_t len, const char *what, dp_device *out,
                          dp_error *err)
{
    memset(out, 0, sizeof *out);
    char where[64];
    /* cJSON reads strings as C strings: a NUL would silently cut one short. */
    const char *nul = memchr(json, 0, len);
    if (nul) {
        position(json, (size_t)(nul - json), where, sizeof where);
        return dp_fail(err, DP_EINPUT, "%s: a NUL byte at %s: not JSON text", what, where);
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        position(json, end ? (size_t)(end - json) : 0, where, sizeof where);
        /* cJSON's position is where it gave up, at or just after the fault: "near". */
        return dp_fail(err, DP_EINPUT, "%s: malformed JSON near %s", what, where);
    }
    for (const char *c = end; c < json + len; c++)
        if (*c != ' ' && *c != '\t' && *c != '\n' && *c != '\r') {
            cJSON_Delete(root);
            position(json, (size_t)(c - json), where, sizeof where);
            return dp_fail(err, DP_EINPUT, "%s: malformed JSON: text after the profile at %s",
                           what, where);
        }
    dp_status st = from_json(root, out, what, err);
    cJSON_Delete(root);
    return st == DP_OK ? dp_device_check(out, what, err) : st;
}

dp_status dp_device_load(const char *path, dp_device *out, dp_error *err)
{
    unsigned char *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    dp_status st = dp_file_read(path, NULL, DP_DEVICE_FILE_MAX, &buf, &len, err);
    if (st != DP_OK)
        return st;
    st = dp_device_parse((const char *)buf, len, path, out, err);
    free(buf);
    return st;
}

/* ---- writing ---------------------------------------------------------------------------- */

static cJSON *to_tree(const dp_device *d)
{
    cJSON *root = cJSON_CreateObject(), *group = NULL;
    for (int i = 0; root && i < N_KEYS; i++) {
        const key_def *k = &keys[i];
        cJSON *obj = root;
        if (k->group) {
            if (!group || strcmp(group->string, k->group) != 0)
                group = cJSON_AddObjectToObject(root, k->group);
            obj = group;
        }
        const void *p = cfield(d, k);
        cJSON *v = NULL;
        if (obj) {
            switch (k->type) {
            case KEY_TEXT: v = cJSON_AddStringToObject(obj, k->name, p); break;
            case KEY_INT: v = cJSON_AddNumberToObject(obj, k->name, *(const int32_t *)p); break;
            case KEY_REAL: v = cJSON_AddNumberToObject(obj, k->name, *(const double *)p); break;
            case KEY_BOOL: v = cJSON_AddBoolToObject(obj, k->name, *(const bool *)p); break;
            case KEY_CHOICE:
                v = cJSON_AddStringToObject(obj, k->name, k->choices[*(const int32_t *)p]);
                break;
            }
        }
        if (!v) {
            cJSON_Delete(root);
            return NULL;
        }
    }
    return root;
}

char *dp_device_to_json(const dp_device *d)
{
    cJSON *root = to_tree(d);
    char *text = NULL;
    size_t n = 0;
    FILE *f = root ? open_memstream(&text, &n) : NULL;
    bool ok = f != NULL;
    if (ok)
        fputs("{\n", f);
    /* One line per group: short enough to read, and still a profile dp_device_parse reads. */
    for (const cJSON *c = root ? root->child : NULL; ok && c; c = c->next) {
        char *value = cJSON_PrintUnformatted(c);
        ok = value != NULL;
        if (ok)
            fprintf(f, "  \"%s\": %s%s\n", c->string, value, c->next ? "," : "");
        free(value);
    }
    if (f) {
        fputs("}\n", f);
        ok = fclose(f) == 0 && ok;
    }
    cJSON_Delete(root);
    if (!ok) {
        free(text);
        return NULL;
    }
    return text;
}
