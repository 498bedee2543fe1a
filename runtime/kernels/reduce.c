/* reduce.c: placeholder until the family's kernels land. */
#include "dp_op.h"

const dp_op_def dp_ops_reduce[] = {
    {0},
};
