/* A CPU-bound workload for bench/profile.py: THREADS threads (one per CPU by default), each doing a
 * fixed amount of arithmetic through a few call paths of different depths (so a profiler sees
 * several unique stacks), built with frame pointers. Prints "ns=ELAPSED" (wall time of the whole
 * run) so that a profiler's overhead is the difference from an unprofiled run.
 *
 * Usage: cpuburn ROUNDS [THREADS] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long rounds;

__attribute__((noinline)) static unsigned long mix(unsigned long x, long n) {
    for (long i = 0; i < n; i++)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    return x;
}
__attribute__((noinline)) static unsigned long leaf_a(unsigned long x) {
    return mix(x, 3000);
}
__attribute__((noinline)) static unsigned long leaf_b(unsigned long x) {
    return mix(x, 2000);
}
__attribute__((noinline)) static unsigned long middle(unsigned long x) {
    return leaf_a(x) ^ leaf_b(x);
}
__attribute__((noinline)) static unsigned long outer(unsigned long x) {
    return middle(x) + leaf_b(x);
}

static void* worker(void* arg) {
    unsigned long x = (unsigned long)arg;
    for (long r = 0; r < rounds; r++)
        x = outer(x) + leaf_a(x);
    return (void*)x;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: cpuburn ROUNDS [THREADS]\n");
        return 2;
    }
    rounds = atol(argv[1]);
    int threads = argc > 2 ? atoi(argv[2]) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    pthread_t ids[256];
    if (threads < 1 || threads > 256)
        return 2;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < threads; i++)
        pthread_create(&ids[i], NULL, worker, (void*)(long)(i + 1));
    for (int i = 0; i < threads; i++)
        pthread_join(ids[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("ns=%lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
    return 0;
}
