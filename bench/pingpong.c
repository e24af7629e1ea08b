/* pingpong: a context-switch workload for tracer overhead benchmarks (bench/cpudist.py).
 *
 * Two threads pinned to the same CPU pass one byte back and forth over two pipes, so each round
 * trip is two context switches: each thread blocks in read() and hands the CPU to the other.
 * Prints one line:
 *
 *   round_trips=N elapsed_ns=T ns_per_switch=T/(2N) switches=S ns_per_measured_switch=T/S
 *   min_chunk_ns_per_switch=M      (all on one line)
 *
 * where S is the process's voluntary + involuntary context switches during the loop (getrusage),
 * to check the 2-per-round-trip assumption, and min_chunk_ns_per_switch=M: the loop is timed in 20
 * slices as well, and M is the fastest slice's ns per switch, the least disturbed by other tasks.
 *
 * Build: gcc -O2 -Wall -Wextra -pthread -o pingpong pingpong.c
 * Usage: pingpong [ROUND_TRIPS (default 100000)] [CPU (default 1)]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int ping[2], pong[2]; /* main -> peer, peer -> main */
static long round_trips = 100000;
enum { CHUNKS = 20 };

static void die(const char* what, int err) {
    fprintf(stderr, "pingpong: %s: %s\n", what, strerror(err));
    exit(1);
}

static void xread(int fd) {
    char c;
    ssize_t n;
    while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
        continue;
    if (n != 1)
        die("read", n < 0 ? errno : EPIPE);
}

static void xwrite(int fd) {
    char c = 'x';
    ssize_t n;
    while ((n = write(fd, &c, 1)) < 0 && errno == EINTR)
        continue;
    if (n != 1)
        die("write", n < 0 ? errno : EIO);
}

static void* peer(void* arg) {
    (void)arg;
    for (long i = 0; i < round_trips + 1; i++) { /* +1: the warm-up round trip */
        xread(ping[0]);
        xwrite(pong[1]);
    }
    return NULL;
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long switches(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru); /* sums over all threads of the process */
    return ru.ru_nvcsw + ru.ru_nivcsw;
}

int main(int argc, char** argv) {
    int cpu = 1, err;
    if (argc > 1)
        round_trips = strtol(argv[1], NULL, 10);
    if (argc > 2)
        cpu = (int)strtol(argv[2], NULL, 10);
    if (argc > 3 || round_trips <= 0 || cpu < 0 || cpu >= CPU_SETSIZE) {
        fprintf(stderr, "usage: pingpong [ROUND_TRIPS] [CPU]\n");
        return 2;
    }

    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) /* the peer thread inherits it */
        die("sched_setaffinity", errno);
    if (pipe(ping) != 0 || pipe(pong) != 0)
        die("pipe", errno);

    pthread_t thread;
    if ((err = pthread_create(&thread, NULL, peer, NULL)) != 0)
        die("pthread_create", err);
    if ((err = pthread_setaffinity_np(thread, sizeof(set), &set)) != 0)
        die("pthread_setaffinity_np", err);

    xwrite(ping[1]); /* warm-up: the peer is running and blocked in read() afterwards */
    xread(pong[0]);

    /* Timed in CHUNKS slices too: the fastest slice is the one least disturbed by other tasks. */
    long chunk = round_trips >= CHUNKS ? round_trips / CHUNKS : round_trips;
    long long fastest = -1;
    long sw0 = switches();
    long long t0 = now_ns();
    for (long done = 0, n; done < round_trips; done += n) {
        n = round_trips - done < chunk ? round_trips - done : chunk;
        long long c0 = now_ns();
        for (long i = 0; i < n; i++) {
            xwrite(ping[1]);
            xread(pong[0]);
        }
        long long dt = now_ns() - c0;
        if (n == chunk && (fastest < 0 || dt < fastest))
            fastest = dt;
    }
    long long elapsed = now_ns() - t0;
    long sw = switches() - sw0;

    if ((err = pthread_join(thread, NULL)) != 0)
        die("pthread_join", err);
    printf("round_trips=%ld elapsed_ns=%lld ns_per_switch=%.1f switches=%ld "
           "ns_per_measured_switch=%.1f min_chunk_ns_per_switch=%.1f\n",
           round_trips, elapsed, (double)elapsed / (2.0 * (double)round_trips), sw,
           sw > 0 ? (double)elapsed / (double)sw : 0.0, (double)fastest / (2.0 * (double)chunk));
    return 0;
}
