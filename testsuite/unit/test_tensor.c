/* test_tensor.c: shapes, broadcasting and element conversions of dp_tensor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "dp_tensor.h"

static void broadcast_follows_numpy(void **state)
{
    dp_tensor a = {DP_FLOAT, 3, {2, 1, 4}, NULL}, b = {DP_FLOAT, 2, {3, 1}, NULL}, out;
    const dp_tensor *in[] = {&a, &b};
    dp_error err = {0};
    assert_int_equal(dp_broadcast_shape(in, 2, &out, &err), DP_OK);
    assert_int_equal(out.rank, 3);
    assert_int_equal(out.dims[0], 2);
    assert_int_equal(out.dims[1], 3);
    assert_int_equal(out.dims[2], 4);
    int64_t s[DP_MAX_RANK];
    dp_broadcast_strides(&b, &out, s);
    assert_int_equal(s[0], 0);
    assert_int_equal(s[1], 1);
    assert_int_equal(s[2], 0);
}

static void broadcast_refuses_mismatch(void **state)
{
    dp_tensor a = {DP_FLOAT, 1, {3}, NULL}, b = {DP_FLOAT, 1, {4}, NULL}, out;
    const dp_tensor *in[] = {&a, &b};
    dp_error err = {0};
    assert_int_equal(dp_broadcast_shape(in, 2, &out, &err), DP_EINPUT);
    assert_non_null(strstr(err.msg, "cannot be broadcast"));
}

static void shape_check_catches_overflow(void **state)
{
    dp_tensor t = {DP_FLOAT, 4, {1 << 20, 1 << 20, 1 << 20, 1 << 20}, NULL};
    dp_error err = {0};
    assert_int_equal(dp_shape_check(&t, &err, "x"), DP_EINPUT);
    dp_tensor neg = {DP_FLOAT, 1, {-3}, NULL};
    dp_error_clear(&err);
    assert_int_equal(dp_shape_check(&neg, &err, "x"), DP_EINPUT);
}

/* Reference bit patterns from IEEE 754 binary16: 1.0 = 0x3c00, 65504 = 0x7bff,
 * smallest subnormal 2^-24 = 0x0001, 1/3 rounds to 0x3555. */
static void half_conversion_matches_ieee(void **state)
{
    assert_int_equal(dp_float_to_half(1.0f), 0x3c00);
    assert_int_equal(dp_float_to_half(65504.0f), 0x7bff);
    assert_int_equal(dp_float_to_half(65520.0f), 0x7c00);
    assert_int_equal(dp_float_to_half(ldexpf(1, -24)), 0x0001);
    assert_int_equal(dp_float_to_half(1.0f / 3.0f), 0x3555);
    assert_true(dp_half_to_float(0x3555) == 0.333251953125f);
    assert_true(dp_half_to_float(0x0001) == ldexpf(1, -24));
    assert_true(isnan(dp_half_to_float(0x7e00)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(broadcast_follows_numpy),
        cmocka_unit_test(broadcast_refuses_mismatch),
        cmocka_unit_test(shape_check_catches_overflow),
        cmocka_unit_test(half_conversion_matches_ieee),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
