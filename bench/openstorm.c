/* openstorm: THREADS threads each open(2) and close PATH COUNT times, as fast as they can.
 * Prints key=value pairs: opens (total), wall_ns (first start to last end), ns_per_open (mean of each
 * thread's own time per open+close), failed (opens that returned -1: all of them for a missing PATH,
 * a cheaper call, for a higher event rate).
 * Usage: openstorm PATH THREADS COUNT */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const char* path;
static long count;
static pthread_barrier_t start_line;

struct result {
    long long start_ns, end_ns;
    long failed;
};

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void* storm(void* arg) {
    struct result* r = arg;

    pthread_barrier_wait(&start_line);
    r->start_ns = now_ns();
    for (long i = 0; i < count; i++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            r->failed++;
        else
            close(fd);
    }
    r->end_ns = now_ns();
    return NULL;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: openstorm PATH THREADS COUNT\n");
        return 2;
    }
    path = argv[1];
    int threads = atoi(argv[2]);
    count = atol(argv[3]);
    if (threads < 1 || threads > 64 || count < 1) {
        fprintf(stderr, "openstorm: bad THREADS or COUNT\n");
        return 2;
    }
    pthread_t ids[64];
    struct result results[64] = {0};
    pthread_barrier_init(&start_line, NULL, (unsigned)threads);
    for (int t = 0; t < threads; t++)
        if (pthread_create(&ids[t], NULL, storm, &results[t])) {
            perror("pthread_create");
            return 1;
        }
    long long first = 0, last = 0, failed = 0;
    double per_open = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        struct result* r = &results[t];
        if (!first || r->start_ns < first)
            first = r->start_ns;
        if (r->end_ns > last)
            last = r->end_ns;
        failed += r->failed;
        per_open += (double)(r->end_ns - r->start_ns) / count / threads;
    }
    printf("opens=%ld wall_ns=%lld ns_per_open=%.1f failed=%lld\n", count * threads, last - first,
           per_open, failed);
    return 0;
}
