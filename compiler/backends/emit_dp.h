/* emit_dp.h: the .dp backend. */
#ifndef DPCC_EMIT_DP_H
#define DPCC_EMIT_DP_H

#include "ir.h"
#include "passes.h"

/*
 * Lowers the graph into a new program (free with dp_program_free). The program shares the
 * graph's attribute and name memory: keep the graph until the program is written.
 */
dp_status dpc_lower(ir_graph *g, const dpc_plan *plan, dp_program **out, dp_error *err);

#endif
