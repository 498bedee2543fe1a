/*
 * dp_program.h: a device program in memory, as the compiler builds it and the runtime runs it.
 *
 * The .dp file (schemas/dp.proto, dpfile.c) is this structure serialised. Tensors are
 * referred to by index into the tensor table; instructions run in order. Constants point
 * into the weight blob; activations live at planned offsets in one arena; tensors whose
 * shape depends on runtime values are allocated per inference (DP_STORE_DYNAMIC).
 */
#ifndef DP_PROGRAM_H
#define DP_PROGRAM_H

#include "device.h"
#include "dp_arena.h"
#include "dp_dist.h"
#include "dp_op.h"
#include "dp_tensor.h"

#include <stdio.h>

/* 2: signal-dependent shot noise (analog-model.md revision 2), the device's shot_model,
 * adc_mode and precision, the unsigned DAC. Version 1 files still load, with the physics they
 * were compiled for. */
#define DP_FORMAT_VERSION 3

typedef enum dp_storage {
    DP_STORE_ARENA = 0,   /* planned activation: offset into the activation arena */
    DP_STORE_CONST = 1,   /* weights: offset into the weight blob */
    DP_STORE_INPUT = 2,   /* a graph input, bound by the caller */
    DP_STORE_DYNAMIC = 3  /* shape known only at run time: allocated per inference */
} dp_storage;

typedef struct dp_tensor_info {
    const char *name;
    dp_tensor t;          /* dtype and shape; rank -1 for DP_STORE_DYNAMIC; data NULL */
    dp_storage storage;
    uint64_t offset;      /* into the arena or the weight blob */
    uint64_t nbytes;
} dp_tensor_info;

/* The analog fields of an MVM instruction (analog-model.md section 2). */
typedef struct dp_mvm {
    int32_t core_rows, core_cols;   /* the optical core: R outputs x C inputs */
    int64_t fan_in;                 /* K: inputs summed per output */
    int64_t outputs;                /* output channels (rows of the weight matrix) */
    int64_t row_tiles, col_tiles;   /* ceil(outputs / R), ceil(fan_in / C) */
    int64_t macs;                   /* multiply-accumulates per inference */
    int32_t repetitions;            /* N: passes averaged by the detector */
    int32_t dac_bits, weight_bits, adc_bits;
    float input_scale;              /* X: DAC full scale; 0 while uncalibrated */
    int32_t n_output_scale;
    float *output_scale;            /* G: ADC full scale, per layer (1) or per output */
    int32_t weight_input;           /* the input holding weights; -1: activation x activation */
    float input_mean_square;        /* E[x^2] of the analog input in calibration; 0: unknown */
    bool input_unsigned;            /* the DAC spans [0, X]: calibration saw no negative input */
    int32_t n_weight_scale;
    float *weight_scale;            /* W_j, one per output (0 of them: W_j = max |w_j|): a
                                     * quantized model's weight grid held by the levels */
    int32_t weight_grid_bits;       /* bits the model's weight grid needs; 0: not quantized */
} dp_mvm;

typedef struct dp_instr {
    const char *op;
    const char *name;
    const dp_op_def *def;           /* resolved at load */
    int32_t opset;
    int32_t n_in, n_out;
    int32_t *in, *out;              /* tensor indices; -1 for an omitted optional input */
    int32_t n_attrs;
    dp_attr *attrs;
    dp_mvm *mvm;                    /* NULL for a digital instruction */
} dp_instr;

typedef struct dp_program {
    dp_arena mem;                   /* owns every string and array below */
    const char *producer;
    const char *model_name;
    int32_t opset;
    int32_t n_tensors;
    dp_tensor_info *tensors;
    int32_t n_inputs, n_outputs;
    int32_t *inputs, *outputs;      /* graph inputs and outputs, in order */
    int32_t n_instrs;
    dp_instr *instrs;
    uint64_t arena_bytes;           /* planned peak activation memory */
    const unsigned char *weights;   /* the weight blob (owned by mem or by the loader) */
    uint64_t weights_bytes;
    dp_device *device;              /* the device compiled for; NULL in older files */
    void *file_buf;                 /* the loaded file, freed with the program */
} dp_program;

/* Writes prog to path (through a temporary renamed into place). */
dp_status dp_program_write(const dp_program *prog, const char *path, dp_error *err);

/* The bytes dp_program_write would write, in *buf (malloc'd: the caller frees it). */
dp_status dp_program_pack(const dp_program *prog, unsigned char **buf, size_t *len,
                          dp_error *err);

/*
 * Reads and validates a .dp: header, version, checksum, then every index, offset, size,
 * dtype and op against the tables, before anything runs. *out must be freed with
 * dp_program_free. Over the ranks of d, rank 0 alone reads the file (dp_file_read_dist).
 */
dp_status dp_program_read(const char *path, dp_program **out, dp_error *err);
dp_status dp_program_read_dist(dp_dist *d, const char *path, dp_program **out, dp_error *err);
dp_status dp_program_parse(const void *buf, size_t len, dp_program **out, dp_error *err);
void dp_program_free(dp_program *prog);

/* Prints the program readably (dpcc --disasm). */
void dp_program_disasm(const dp_program *prog, FILE *f);

#endif
