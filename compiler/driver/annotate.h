/*
 * annotate.h: the schedule carried in an ONNX model's metadata (dpcc --annotate), and a
 * schedule read back from such a model or from a --report JSON (dpcc --schedule from:FILE).
 *
 * docs/annotate.md gives the metadata format: the key "dpcc.schedule" holds the report JSON
 * (docs/report.md), and one "dpcc.node:NAME" key per analog layer a summary of it. The graph
 * itself is left exactly as it was, so the model loads and runs as before anywhere.
 */
#ifndef DPCC_ANNOTATE_H
#define DPCC_ANNOTATE_H

#include "analog_passes.h"

/* The metadata key holding the whole schedule, and the prefix of every key dpcc owns. */
#define DPC_SCHEDULE_KEY "dpcc.schedule"
#define DPC_NODE_KEY_PREFIX "dpcc.node:"
#define DPC_KEY_PREFIX "dpcc."

/* One analog layer's repetitions, keyed by the ONNX node name the program keeps. */
typedef struct dpc_schedule_entry {
    const char *name;
    int32_t repetitions;
} dpc_schedule_entry;

typedef struct dpc_given_schedule {
    dpc_schedule_entry *entries;
    int n;
} dpc_given_schedule;

/*
 * Parses a schedule from JSON text in the report's schema: "layers", an array of objects
 * with "name" and "repetitions". `what` names the source in messages; a malformed text, a
 * schema_version newer than this dpcc's, or a layer without a name or with repetitions that
 * are not a whole number >= 1 is DP_EINPUT naming the layer. Strings live in mem.
 */
dp_status dpc_schedule_parse(const char *text, size_t len, const char *what, dp_arena *mem,
                             dpc_given_schedule *out, dp_error *err);

/* Reads the schedule of an annotated ONNX model (its dpcc.schedule metadata) or of a
 * report JSON (a file starting with '{'); over the ranks of d (or NULL), rank 0 reads the
 * file (dp_file_read_dist). */
dp_status dpc_schedule_read(dp_dist *d, const char *path, dp_arena *mem, dpc_given_schedule *out,
                            dp_error *err);

/*
 * Gives every analog instruction of p its repetitions from s, by name (a name given twice
 * fills instructions of that name in program order): reps[i] for instruction i, 0 for a
 * digital one. DP_EINPUT naming the node when s names no analog layer of p, leaves one
 * without repetitions, or gives a count device d cannot run (above its maximum, or not a
 * power of two where it needs one).
 */
dp_status dpc_schedule_match(const dp_program *p, const dp_device *d,
                             const dpc_given_schedule *s, int32_t *reps, dp_error *err);

/* dpc_schedule_read then dpc_schedule_match, into *reps (one per instruction, from mem). */
dp_status dpc_schedule_load(dp_dist *d, const char *path, const dp_program *p, dp_arena *mem,
                            int32_t **reps, dp_error *err);

/*
 * Writes the ONNX model to out_path (a temporary renamed into place) with report_json (the
 * --report JSON text; NULL: an empty schedule) in its metadata_props. The model is the
 * model_len bytes at model_data, or when that is NULL the file model_path (which names it
 * in messages either way). Earlier dpcc.* keys are replaced; other keys and the graph are
 * kept as they were.
 */
dp_status dpc_annotate_onnx(const char *model_path, const void *model_data, size_t model_len,
                            const char *out_path, const char *report_json, dp_error *err);

#endif
