/* A target for the javagc tests: a program linked with our libjvm.so stand-in
 * (libjvm_standin.c), so that javagc finds the library in its maps as it would in a JVM. It
 * prints "ready PID", waits for SIGUSR1 (so a tracer can attach first), then runs one
 * "collection" per argument, each sleeping that many microseconds between hotspot:gc__begin and
 * hotspot:gc__end, full for odd-numbered ones (the first is full), and prints
 * "done collections=N traced=T" (T: how many found the probes enabled).
 *
 * Usage: javagc_target SLEEP_US... */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int ct_jvm_collect(int full, long sleep_us);

int main(int argc, char** argv) {
    sigset_t set;
    int sig = 0, traced = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    sigwait(&set, &sig);
    for (int i = 1; i < argc; i++)
        traced += ct_jvm_collect(i % 2, atol(argv[i]));
    printf("done collections=%d traced=%d\n", argc - 1, traced);
    fflush(stdout);
    return 0;
}
