/* A target for the uprobe, usdt and funclatency tests: known functions called a known number of
 * times with known arguments, return values and latencies, and two USDT probes, one with a
 * semaphore. It prints "ready PID", waits for SIGUSR1 (so a tracer can attach first), does its
 * work, prints what it did and exits.
 *
 * Usage: uprobe_target ADDS SLEEPS MALLOCS [hold]
 *   ct_target_add(i, 1000) for i in [0, ADDS): returns i + 1000; each call also fires
 *     coretrace_target:plain(i, -5 * i, "plain") (no semaphore);
 *   ct_target_sleep_2ms() SLEEPS times (2 ms nanosleep each);
 *   malloc(12345) MALLOCS times (each freed);
 *   coretrace_target:gated(i, "gated") ADDS times, fired only while its semaphore is set (a
 *     tracer is attached); the line "gated=N semaphore=S" says how often it fired and the
 *     largest semaphore value seen.
 *   With "hold" it then waits for a second SIGUSR1, calls the gated probe ADDS times again and
 *     prints "again gated=N semaphore=S" (0 and 0 once the tracer has detached). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>
#include <time.h>
#include <unistd.h>

/* uprobe_target_gated.c: the probe with a semaphore (<sys/sdt.h> gives every probe of a file
 * one, or none). Fires it when the semaphore is set; returns the semaphore's value. */
unsigned ct_target_gated(long i);

__attribute__((noinline, noclone, used)) long ct_target_add(long a, long b) {
    __asm__ volatile("" ::: "memory");
    return a + b;
}

__attribute__((noinline, noclone, used)) void ct_target_sleep_2ms(void) {
    struct timespec two_ms = {0, 2 * 1000 * 1000};
    while (nanosleep(&two_ms, &two_ms) != 0)
        ;
}

/* Fires the gated probe `count` times; how often it fired and the largest semaphore seen. */
static long run_gated(long count, unsigned* semaphore) {
    long gated = 0;
    *semaphore = 0;
    for (long i = 0; i < count; i++) {
        unsigned value = ct_target_gated(i);
        if (value) {
            gated++;
            if (value > *semaphore)
                *semaphore = value;
        }
    }
    return gated;
}

static void wait_go(const sigset_t* set) {
    int sig = 0;
    sigwait(set, &sig);
}

int main(int argc, char** argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s ADDS SLEEPS MALLOCS [hold]\n", argv[0]);
        return 2;
    }
    long adds = atol(argv[1]), sleeps = atol(argv[2]), mallocs = atol(argv[3]);
    int hold = argc > 4 && strcmp(argv[4], "hold") == 0;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    wait_go(&set);

    long sum = 0;
    unsigned semaphore = 0;
    for (long i = 0; i < adds; i++) {
        sum += ct_target_add(i, 1000);
        STAP_PROBE3(coretrace_target, plain, i, -5 * i, "plain");
    }
    long gated = run_gated(adds, &semaphore);
    for (long i = 0; i < sleeps; i++)
        ct_target_sleep_2ms();
    for (long i = 0; i < mallocs; i++) {
        void* volatile block = malloc(12345);
        free(block);
    }
    printf("done sum=%ld gated=%ld semaphore=%u\n", sum, gated, semaphore);
    fflush(stdout);
    if (hold) {
        wait_go(&set);
        gated = run_gated(adds, &semaphore);
        printf("again gated=%ld semaphore=%u\n", gated, semaphore);
        fflush(stdout);
    }
    return 0;
}
