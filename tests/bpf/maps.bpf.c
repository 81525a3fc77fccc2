// Map tests: typed views (nested structs, arrays), per-CPU maps, queue/stack,
// an LPM trie (no batch ops), and an XDP program run by PROG_TEST_RUN that
// reads what user space wrote and writes it elsewhere.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct inner {
    __u64 x;
    __u16 ports[4];
};

struct conf {
    __u32 id;
    __u8 flags;        // 3 bytes of padding follow
    __u32 limit;
    struct inner in;
    char tag[6];
};

struct pair {
    __u32 a;
    __u32 b;
};

struct lpm_v4 {
    __u32 prefixlen;
    __u8 addr[4];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 100000);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, struct conf);
} settings SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, struct pair);
    __type(value, struct pair);
} pairs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} pcpu SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 16);
    __type(key, __u32);
    __type(value, struct pair);
} pcpu_pairs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_QUEUE);
    __uint(max_entries, 4);
    __type(value, __u64);
} queue SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_STACK);
    __uint(max_entries, 4);
    __type(value, __u32);
} stack SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, 16);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct lpm_v4);
    __type(value, __u32);
} routes SEC(".maps");

// what the XDP program saw: [0] settings[0].in.x, [1] settings[0].limit,
// [2] pcpu[0] on its CPU, [3] the value it popped from queue (or ~0)
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} seen SEC(".maps");

static __always_inline void record(__u32 slot, __u64 value)
{
    bpf_map_update_elem(&seen, &slot, &value, BPF_ANY);
}

SEC("xdp")
int copy_in(struct xdp_md *ctx)
{
    __u32 zero = 0, one = 1;
    struct conf *cfg;
    __u64 *v, popped = ~0ULL;

    cfg = bpf_map_lookup_elem(&settings, &zero);
    if (cfg) {
        record(0, cfg->in.x);
        record(1, cfg->limit);
    }
    v = bpf_map_lookup_elem(&pcpu, &zero);
    if (v)
        record(2, *v);
    if (bpf_map_pop_elem(&queue, &popped) != 0)
        popped = ~0ULL;
    record(3, popped);
    v = bpf_map_lookup_elem(&pcpu, &one);  // per-CPU run counter
    if (v)
        *v += 1;
    __u32 depth = 7;
    bpf_map_push_elem(&stack, &depth, BPF_EXIST);
    return XDP_PASS;
}
