/* A stand-in for HotSpot's libjvm.so in the javagc tests (there is no JVM on the test
 * machines): built as a shared library named libjvm.so with the USDT probes javagc traces,
 * hotspot:gc__begin(full) and hotspot:gc__end(), behind semaphores as in a JVM built with
 * DTrace probes. ct_jvm_collect() is one "garbage collection": begin, a sleep, end. */
#define _GNU_SOURCE
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <time.h>

__attribute__((section(".probes"))) volatile unsigned short hotspot_gc__begin_semaphore;
__attribute__((section(".probes"))) volatile unsigned short hotspot_gc__end_semaphore;

/* Sleeps `sleep_us` microseconds between gc__begin and gc__end in the calling thread. Returns
 * 1 when a tracer had the probes enabled (both semaphores set). */
int ct_jvm_collect(int full, long sleep_us) {
    struct timespec pause = {sleep_us / 1000000, (sleep_us % 1000000) * 1000};
    int traced = hotspot_gc__begin_semaphore && hotspot_gc__end_semaphore;

    if (hotspot_gc__begin_semaphore)
        STAP_PROBE1(hotspot, gc__begin, full);
    while (nanosleep(&pause, &pause) != 0)
        ;
    if (hotspot_gc__end_semaphore)
        STAP_PROBE(hotspot, gc__end);
    return traced;
}
