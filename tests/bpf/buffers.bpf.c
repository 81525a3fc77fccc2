// Ring and perf buffer producers for tests/test_buffers.py and bench/bench_ringbuf.py.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct event {
    __u32 pid;
    __u32 seq;
    __u64 sig;
    char tag[8];
};

struct other_event {
    __u64 seq;
    __u32 kind;
    __u32 len;
};

struct bench_event {
    __u64 seq;
    __u32 pid;
    __u32 cpu;
};

/* Types used only inside programs are not in the object's BTF: these globals put
 * the event structs there, so that ctypes classes can be checked against them. */
struct event btf_event;
struct other_event btf_other_event;
struct bench_event btf_bench_event;

volatile const __u32 target_pid = 0;  /* the tracepoint programs count only this process */
__u32 bench_pid = 0;                  /* writable after load: the live benchmark's producer */
__u32 discard_every = 0;              /* bulk: discard every Nth reservation (0: never) */
__u32 seq = 0;
__u64 sent = 0;                       /* records committed (or perf samples written) */
__u64 dropped = 0;                    /* reserve/output failures: the buffer was full */
__u64 discarded = 0;

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 64 * 1024);
} others SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1024 * 1024);
} bulk SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} tiny SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096); /* the benchmark sets its size before load */
} bench_rb SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} live_rb SEC(".maps");

static __always_inline int mine(void)
{
    return (bpf_get_current_pid_tgid() >> 32) == target_pid;
}

static __always_inline void fill(struct event *e, __u64 sig)
{
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->seq = seq++; /* one producer at a time: no atomic needed (and -mcpu=v1 has no fetch-add) */
    e->sig = sig;
    __builtin_memcpy(e->tag, "kill\0\0\0", 8);
}

/* One struct event into `events` per kill(); every other one also a record of
 * 16, 20 or 24 bytes (in turn) into `others`: variable sizes, not all multiples of
 * 8, whose 24/32/32-byte strides make records straddle the end of the ring. */
SEC("tracepoint/syscalls/sys_enter_kill")
int rb_kill(struct trace_event_raw_sys_enter *ctx)
{
    struct event *e;
    struct other_event o[2] = {};

    if (!mine())
        return 0;
    e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        __sync_fetch_and_add(&dropped, 1);
        return 0;
    }
    fill(e, ctx->args[1]);
    o[0].seq = e->seq;
    bpf_ringbuf_submit(e, 0);
    __sync_fetch_and_add(&sent, 1);
    if (o[0].seq % 2)
        return 0;
    o[0].kind = 7;
    switch (o[0].seq / 2 % 3) { /* constant sizes: the verifier wants a known bound */
    case 0:
        o[0].len = 16;
        bpf_ringbuf_output(&others, o, 16, 0);
        break;
    case 1:
        o[0].len = 20;
        bpf_ringbuf_output(&others, o, 20, 0);
        break;
    default:
        o[0].len = 24;
        bpf_ringbuf_output(&others, o, 24, 0);
    }
    return 0;
}

/* One struct event per kill() into the perf buffer of the current CPU. */
SEC("tracepoint/syscalls/sys_enter_kill")
int pb_kill(struct trace_event_raw_sys_enter *ctx)
{
    struct event e = {};

    if (!mine())
        return 0;
    fill(&e, ctx->args[1]);
    if (bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &e, sizeof(e)))
        __sync_fetch_and_add(&dropped, 1);
    else
        __sync_fetch_and_add(&sent, 1);
    return 0;
}

/* Run by BPF_PROG_TEST_RUN (repeat=N): one struct event per run into `bulk`. */
SEC("xdp")
int rb_bulk(struct xdp_md *ctx)
{
    struct event *e = bpf_ringbuf_reserve(&bulk, sizeof(*e), 0);

    if (!e) {
        __sync_fetch_and_add(&dropped, 1);
        return XDP_PASS;
    }
    fill(e, 0);
    if (discard_every && e->seq % discard_every == 0) {
        bpf_ringbuf_discard(e, 0);
        __sync_fetch_and_add(&discarded, 1);
        return XDP_PASS;
    }
    bpf_ringbuf_submit(e, 0);
    __sync_fetch_and_add(&sent, 1);
    return XDP_PASS;
}

/* Run by BPF_PROG_TEST_RUN: one struct event per run into the one-page `tiny`. */
SEC("xdp")
int rb_tiny(struct xdp_md *ctx)
{
    struct event e = {};

    fill(&e, 0);
    if (bpf_ringbuf_output(&tiny, &e, sizeof(e), 0))
        __sync_fetch_and_add(&dropped, 1);
    else
        __sync_fetch_and_add(&sent, 1);
    return XDP_PASS;
}

/* Run by BPF_PROG_TEST_RUN: one struct event per run into the perf buffer. */
SEC("xdp")
int pb_bulk(struct xdp_md *ctx)
{
    struct event e = {};

    fill(&e, 0);
    if (bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &e, sizeof(e)))
        __sync_fetch_and_add(&dropped, 1);
    else
        __sync_fetch_and_add(&sent, 1);
    return XDP_PASS;
}

static __always_inline int bench_output(void *rb, __u32 pid)
{
    struct bench_event e;

    if ((bpf_get_current_pid_tgid() >> 32) != pid)
        return 0;
    e.seq = seq++;
    e.pid = pid;
    e.cpu = bpf_get_smp_processor_id();
    if (bpf_ringbuf_output(rb, &e, sizeof(e), 0))
        __sync_fetch_and_add(&dropped, 1);
    else
        __sync_fetch_and_add(&sent, 1);
    return 0;
}

/* Benchmark: the drain benchmark fills `bench_rb` from its own process. */
SEC("tracepoint/syscalls/sys_enter_kill")
int bench_emit(void *ctx)
{
    return bench_output(&bench_rb, target_pid);
}

/* Benchmark: the live benchmark's producer is another process (bench_pid). */
SEC("tracepoint/syscalls/sys_enter_kill")
int live_emit(void *ctx)
{
    return bench_output(&live_rb, bench_pid);
}
