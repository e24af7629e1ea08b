/* connstorm: COUNT TCP connections over loopback, one after another, to a listener on a port the
 * kernel chooses: the main thread connects and closes, a second thread accepts and closes. Each
 * connection is a whole TCP life on both sides (SYN_SENT, ESTABLISHED, FIN_WAIT..., CLOSE), so
 * tracers of sock:inet_sock_set_state see every state change of two sockets. Prints key=value
 * pairs: port, connections, wall_ns, ns_per_connection, failed. Usage: connstorm COUNT [6]   (6:
 * over ::1 instead of 127.0.0.1) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long count;
static int listener;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void* acceptor(void* arg) {
    (void)arg;
    for (long i = 0; i < count; i++) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0)
            return NULL;
        close(fd);
    }
    return NULL;
}

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: connstorm COUNT [6]\n");
        return 2;
    }
    count = atol(argv[1]);
    int v6 = argc == 3 && strcmp(argv[2], "6") == 0;
    if (count < 1) {
        fprintf(stderr, "connstorm: bad COUNT\n");
        return 2;
    }
    struct sockaddr_storage address = {0};
    socklen_t length;
    if (v6) {
        struct sockaddr_in6* a = (struct sockaddr_in6*)&address;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        length = sizeof(*a);
    } else {
        struct sockaddr_in* a = (struct sockaddr_in*)&address;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        length = sizeof(*a);
    }
    int family = v6 ? AF_INET6 : AF_INET;
    listener = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0 || bind(listener, (struct sockaddr*)&address, length) ||
        listen(listener, 1024) || getsockname(listener, (struct sockaddr*)&address, &length)) {
        perror("connstorm: listener");
        return 1;
    }
    int port = ntohs(v6 ? ((struct sockaddr_in6*)&address)->sin6_port
                        : ((struct sockaddr_in*)&address)->sin_port);
    pthread_t id;
    if (pthread_create(&id, NULL, acceptor, NULL)) {
        perror("connstorm: pthread_create");
        return 1;
    }
    long failed = 0;
    long long start = now_ns();
    for (long i = 0; i < count; i++) {
        int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr*)&address, length))
            failed++;
        if (fd >= 0)
            close(fd);
    }
    long long end = now_ns();
    if (failed)
        shutdown(listener, SHUT_RDWR); /* the acceptor waits for connections that never came */
    pthread_join(id, NULL);
    close(listener);
    printf("port=%d connections=%ld wall_ns=%lld ns_per_connection=%.1f failed=%ld\n", port, count,
           end - start, (double)(end - start) / count, failed);
    return failed ? 1 : 0;
}
