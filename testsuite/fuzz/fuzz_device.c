/* fuzz_device.c: libFuzzer harness for device profiles (dp_device_parse, runtime/sim/device.c). */
#include "fuzz_util.h"
#include "device.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    dp_device d;
    dp_error err = {0};
    if (dp_device_parse((const char *)data, size, "fuzz.json", &d, &err) == DP_OK) {
        /* What was accepted must pass the shared checks and survive the writer and a
         * second read: dpcc copies profiles into every .dp it writes. */
        if (dp_device_check(&d, "fuzz.json", &err) != DP_OK)
            abort();
        char *json = dp_device_to_json(&d);
        if (!json)
            return 0;
        dp_device again;
        if (dp_device_parse(json, strlen(json), "written", &again, &err) != DP_OK)
            abort();
        free(json);
    }
    return 0;
}
