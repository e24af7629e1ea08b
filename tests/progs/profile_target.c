/* A target for the profile tests: a CPU-bound loop in one known function, ct_profile_hot(),
 * called through ct_profile_outer() from main, built with frame pointers so that every sample's
 * user stack unwinds through our functions. Prints "ready PID" and spins until killed (or for
 * SECONDS when given). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline, noclone, used)) unsigned long ct_profile_hot(unsigned long rounds) {
    volatile unsigned long x = 1;
    for (unsigned long i = 0; i < rounds; i++)
        x = x * 2862933555777941757ul + 3037000493ul;
    return x;
}

__attribute__((noinline, noclone, used)) unsigned long ct_profile_outer(double seconds) {
    unsigned long sum = 0;
    const double end = now() + seconds;
    while (seconds <= 0 || now() < end)
        sum += ct_profile_hot(50 * 1000 * 1000);
    return sum;
}

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? atof(argv[1]) : 0;
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    return ct_profile_outer(seconds) == 42 ? 1 : 0;
}
