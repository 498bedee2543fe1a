/*
 * compare.h: outputs against references, as dprun --expect checks them; tests may link it.
 */
#ifndef DPR_COMPARE_H
#define DPR_COMPARE_H

#include "dp_tensor.h"

/* Output k (named name) against want: |got - want| <= atol + rtol |want| element by element
 * (integers exactly; NaN matches NaN, infinities themselves). Prints the error statistics
 * and the first differences on stderr; returns the number of mismatches. */
int64_t dpr_compare(int k, const char *name, const dp_tensor *got, const dp_tensor *want,
                    double rtol, double atol);

/* --top1: the rows (along the last axis) whose largest entry differs; returns the number of
 * rows over the allowed rate, 0 when within it. */
int64_t dpr_compare_top1(int k, const char *name, const dp_tensor *got, const dp_tensor *want,
                         double rate);

#endif
