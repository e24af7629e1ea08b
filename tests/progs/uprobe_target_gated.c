/* uprobe_target's USDT probe with a semaphore: coretrace_target:gated(i, "gated"), fired only
 * while a tracer has the kernel count the semaphore up. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

__attribute__((section(".probes"))) volatile unsigned short coretrace_target_gated_semaphore;

unsigned ct_target_gated(long i) {
    unsigned value = coretrace_target_gated_semaphore;
    if (value)
        STAP_PROBE2(coretrace_target, gated, i, "gated");
    return value;
}
