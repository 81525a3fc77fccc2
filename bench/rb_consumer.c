// Peers of bench/bench_ringbuf.py (built by bench/setup.sh with gcc against libbpf-dev).
//
//   rb_consumer consume FD   drain the ring buffer map FD (inherited) with libbpf's
//                            ring_buffer__consume and an empty callback; prints
//                            "<events> <seconds>"
//   rb_consumer live FD N    consume FD with ring_buffer__poll until N events came
//                            (or none for 2 s); prints "<events> <seconds>"
//   rb_consumer produce N    wait for a line on stdin, then call kill(getpid(), 0)
//                            N times as fast as possible (the live benchmark's producer)
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

static int on_event(void *ctx, void *data, size_t size)
{
    (void)ctx;
    (void)data;
    (void)size;
    return 0;
}

static long counted;

static int count_event(void *ctx, void *data, size_t size)
{
    (void)ctx;
    (void)data;
    (void)size;
    counted++;
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int consume(int map_fd)
{
    struct ring_buffer *rb = ring_buffer__new(map_fd, on_event, NULL, NULL);
    if (!rb) {
        perror("ring_buffer__new");
        return 1;
    }
    double t0 = now();
    int n = ring_buffer__consume(rb);
    double t1 = now();
    ring_buffer__free(rb);
    if (n < 0) {
        fprintf(stderr, "ring_buffer__consume: %s\n", strerror(-n));
        return 1;
    }
    printf("%d %.9f\n", n, t1 - t0);
    return 0;
}

static int live(int map_fd, long n)
{
    struct ring_buffer *rb = ring_buffer__new(map_fd, count_event, NULL, NULL);
    if (!rb) {
        perror("ring_buffer__new");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    double t0 = 0, last = now();
    while (counted < n && now() - last < 2.0) {
        long before = counted;
        int err = ring_buffer__poll(rb, 100);
        if (err < 0) {
            fprintf(stderr, "ring_buffer__poll: %s\n", strerror(-err));
            break;
        }
        if (counted > before) {
            if (!t0)
                t0 = now();
            last = now();
        }
    }
    ring_buffer__free(rb);
    printf("%ld %.9f\n", counted, last - t0);
    return 0;
}

static int produce(long n)
{
    char line[16];
    pid_t me = getpid();
    if (!fgets(line, sizeof(line), stdin))
        return 1;
    for (long i = 0; i < n; i++)
        kill(me, 0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "consume") == 0)
        return consume(atoi(argv[2]));
    if (argc == 4 && strcmp(argv[1], "live") == 0)
        return live(atoi(argv[2]), atol(argv[3]));
    if (argc == 3 && strcmp(argv[1], "produce") == 0)
        return produce(atol(argv[2]));
    fprintf(stderr, "usage: %s consume FD | live FD N | produce N\n", argv[0]);
    return 2;
}
