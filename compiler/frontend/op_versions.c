/*
 * op_versions.c: which versions of each ONNX operator dpcc implements, for --list-ops.
 *
 * The facts are the ONNX operator schemas (python3-onnx's onnx.defs, the ONNX repository's
 * docs/Changelog.md): an op's versions are the opsets at which its definition changed, and
 * a model of opset v uses the latest version at or below v. The kernels (runtime/kernels)
 * switch on the model's opset where versions differ. testsuite/list_ops_test.py checks this
 * table against onnx.defs and against the op registry, so neither can drift.
 */
#include <string.h>

#include "frontend.h"
#include "op_versions.h"

static const dpc_op_versions table[] = {
    {"Abs", 0, {1, 6, 13}},
    {"Acos", 0, {7}},
    {"Acosh", 0, {9}},
    {"Add", 0, {1, 6, 7, 13, 14}},
    {"And", 0, {1, 7}},
    {"ArgMax", 0, {1, 11, 12, 13}},
    {"ArgMin", 0, {1, 11, 12, 13}},
    {"Asin", 0, {7}},
    {"Asinh", 0, {9}},
    {"Atan", 0, {7}},
    {"Atanh", 0, {9}},
    {"AveragePool", 0, {1, 7, 10, 11}},
    {"BatchNormalization", 0, {1, 6, 7, 9, 14, 15}},
    {"Cast", 0, {1, 6, 9, 13}},
    {"CastLike", 0, {15}},
    {"Ceil", 0, {1, 6, 13}},
    {"Celu", 0, {12}},
    {"Clip", 0, {1, 6, 11, 12, 13}},
    {"Concat", 0, {1, 4, 11, 13}},
    {"Constant", 0, {1, 9, 11, 12, 13}},
    {"ConstantOfShape", 0, {9}},
    {"Conv", 0, {1, 11}},
    {"ConvTranspose", 0, {1, 11}},
    {"Cos", 0, {7}},
    {"Cosh", 0, {9}},
    {"CumSum", 0, {11, 14}},
    {"DepthToSpace", 0, {1, 11, 13}},
    {"Div", 0, {1, 6, 7, 13, 14}},
    {"Dropout", 0, {1, 6, 7, 10, 12, 13}},
    {"Einsum", 0, {12}},
    {"Elu", 0, {1, 6}},
    {"Equal", 0, {1, 7, 11, 13}},
    {"Erf", 0, {9, 13}},
    {"Exp", 0, {1, 6, 13}},
    {"Expand", 0, {8, 13}},
    {"EyeLike", 0, {9}},
    {"Flatten", 0, {1, 9, 11, 13}},
    {"Floor", 0, {1, 6, 13}},
    {"Gather", 0, {1, 11, 13}},
    {"GatherElements", 0, {11, 13}},
    {"GatherND", 0, {11, 12, 13}},
    {"Gemm", 0, {1, 6, 7, 9, 11, 13}},
    {"GlobalAveragePool", 0, {1}},
    {"GlobalMaxPool", 0, {1}},
    {"Greater", 0, {1, 7, 9, 13}},
    {"GreaterOrEqual", 0, {12, 16}},
    {"HardSigmoid", 0, {1, 6}},
    {"HardSwish", 0, {14}},
    {"Hardmax", 0, {1, 11, 13}},
    {"Identity", 0, {1, 13, 14, 16}},
    {"InstanceNormalization", 0, {1, 6}},
    {"IsInf", 0, {10}},
    {"IsNaN", 0, {9, 13}},
    {"LRN", 0, {1, 13}},
    {"LayerNormalization", 0, {17}},
    {"LeakyRelu", 0, {1, 6, 16}},
    {"Less", 0, {1, 7, 9, 13}},
    {"LessOrEqual", 0, {12, 16}},
    {"Log", 0, {1, 6, 13}},
    {"LogSoftmax", 0, {1, 11, 13}},
    {"MatMul", 0, {1, 9, 13}},
    {"Max", 0, {1, 6, 8, 12, 13}},
    {"MaxPool", 0, {1, 8, 10, 11, 12}},
    {"Mean", 0, {1, 6, 8, 13}},
    {"Min", 0, {1, 6, 8, 12, 13}},
    {"Mod", 0, {10, 13}},
    {"Mul", 0, {1, 6, 7, 13, 14}},
    {"Neg", 0, {1, 6, 13}},
    {"Not", 0, {1}},
    {"OneHot", 0, {9, 11}},
    {"Or", 0, {1, 7}},
    {"PRelu", 0, {1, 6, 7, 9, 16}},
    {"Pad", 0, {1, 2, 11, 13}},
    {"Pow", 0, {1, 7, 12, 13, 15}},
    {"Range", 0, {11}},
    {"Reciprocal", 0, {1, 6, 13}},
    {"ReduceL1", 0, {1, 11, 13}},
    {"ReduceL2", 0, {1, 11, 13}},
    {"ReduceLogSum", 0, {1, 11, 13}},
    {"ReduceLogSumExp", 0, {1, 11, 13}},
    {"ReduceMax", 0, {1, 11, 12, 13}},
    {"ReduceMean", 0, {1, 11, 13}},
    {"ReduceMin", 0, {1, 11, 12, 13}},
    {"ReduceProd", 0, {1, 11, 13}},
    {"ReduceSum", 0, {1, 11, 13}},
    {"ReduceSumSquare", 0, {1, 11, 13}},
    {"Relu", 0, {1, 6, 13, 14}},
    {"Reshape", 0, {1, 5, 13, 14}},
    {"Resize", 0, {10, 11, 13}},
    {"Round", 0, {11}},
    {"ScatterND", 0, {11, 13, 16}},
    {"Selu", 0, {1, 6}},
    {"Shape", 0, {1, 13, 15}},
    {"Shrink", 0, {9}},
    {"Sigmoid", 0, {1, 6, 13}},
    {"Sign", 0, {9, 13}},
    {"Sin", 0, {7}},
    {"Sinh", 0, {9}},
    {"Size", 0, {1, 13}},
    {"Slice", 0, {1, 10, 11, 13}},
    {"Softmax", 0, {1, 11, 13}},
    {"Softplus", 0, {1}},
    {"Softsign", 0, {1}},
    {"SpaceToDepth", 0, {1, 13}},
    {"Split", 0, {1, 2, 11, 13}},
    {"Sqrt", 0, {1, 6, 13}},
    {"Squeeze", 0, {1, 11, 13}},
    {"Sub", 0, {1, 6, 7, 13, 14}},
    {"Sum", 0, {1, 6, 8, 13}},
    {"Tan", 0, {7}},
    {"Tanh", 0, {1, 6, 13}},
    {"ThresholdedRelu", 0, {10}},
    {"Tile", 0, {1, 6, 13}},
    {"TopK", 0, {1, 10, 11}},
    {"Transpose", 0, {1, 13}},
    {"Trilu", 0, {14}},
    {"Unsqueeze", 0, {1, 11, 13}},
    {"Upsample", 9, {1, 7, 9}},
    {"Where", 0, {9, 16}},
    {"Xor", 0, {1, 7}},
};

const dpc_op_versions *dpc_op_versions_find(const char *op)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].op, op) == 0)
            return &table[i];
    return NULL;
}

int dpc_op_versions_last(const dpc_op_versions *v)
{
    return v->until ? v->until : DPC_MAX_OPSET;
}
