/* A target for the memleak tests: allocations whose outstanding bytes, counts and stacks are
 * known. Built at -O0 with frame pointers, so that each allocation site is one stack.
 *
 * Usage: memleak_target [auto]
 *   Prints "ready PID" and waits for SIGUSR1 (so that a tracer attaches first), then:
 *     leak_some():      malloc(4096) 7 times, never freed          -> 28672 bytes in 7
 *     churn():          malloc(1000) 20 times, each freed          -> nothing outstanding
 *     calloc_realloc(): calloc(10, 100) grown by realloc to 3000   -> 3000 bytes in 1
 *                       (the calloc'd block itself is gone), and calloc(4, 250) freed
 *     align_some():     posix_memalign(64, 512) 2 times            -> 1024 bytes in 2
 *   prints "leaked", waits for SIGUSR1 again, frees everything, prints "freed", waits for a
 *   last SIGUSR1 and exits.
 *   With "auto" it waits for no signal: it does the allocations, prints "leaked", sleeps 200 ms
 *   and exits without freeing. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LEAKS 7
#define CHURNS 20
#define ALIGNED 2

static void* leaked[LEAKS];
static void* grown;
static void* aligned[ALIGNED];

__attribute__((noinline)) void leak_some(void) {
    for (int i = 0; i < LEAKS; i++)
        leaked[i] = malloc(4096);
}

__attribute__((noinline)) void churn(void) {
    for (int i = 0; i < CHURNS; i++) {
        void* volatile block = malloc(1000);
        free(block);
    }
}

__attribute__((noinline)) void calloc_realloc(void) {
    void* block = calloc(10, 100);
    grown = realloc(block, 3000);
    void* volatile other = calloc(4, 250);
    free(other);
}

__attribute__((noinline)) void align_some(void) {
    for (int i = 0; i < ALIGNED; i++)
        if (posix_memalign(&aligned[i], 64, 512) != 0)
            aligned[i] = NULL;
}

__attribute__((noinline)) void free_all(void) {
    for (int i = 0; i < LEAKS; i++)
        free(leaked[i]);
    free(grown);
    for (int i = 0; i < ALIGNED; i++)
        free(aligned[i]);
}

static void wait_go(const sigset_t* set) {
    int sig = 0;
    sigwait(set, &sig);
}

int main(int argc, char** argv) {
    int automatic = argc > 1 && strcmp(argv[1], "auto") == 0;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    if (!automatic)
        wait_go(&set);

    leak_some();
    churn();
    calloc_realloc();
    align_some();
    printf("leaked\n");
    fflush(stdout);
    if (automatic) {
        struct timespec pause = {0, 200 * 1000 * 1000};
        nanosleep(&pause, NULL);
        return 0;
    }
    wait_go(&set);
    free_all();
    printf("freed\n");
    fflush(stdout);
    wait_go(&set);
    return 0;
}
