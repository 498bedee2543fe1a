/*
 * op_versions.h: the ONNX operator versions dpcc implements (op_versions.c).
 */
#ifndef DPCC_OP_VERSIONS_H
#define DPCC_OP_VERSIONS_H

enum { DPC_MAX_OP_VERSIONS = 8 };

typedef struct dpc_op_versions {
    const char *op;
    int until;    /* the last opset that defines the op (Upsample: 9); 0: every opset to
                   * DPC_MAX_OPSET */
    int since[DPC_MAX_OP_VERSIONS]; /* the opsets at which its definition changed, rising;
                                     * the first is where it appears; 0 ends the list */
} dpc_op_versions;

/* The row of op, or NULL for an op dpcc does not know. */
const dpc_op_versions *dpc_op_versions_find(const char *op);
/* The last opset at which v's op exists. */
int dpc_op_versions_last(const dpc_op_versions *v);

#endif
