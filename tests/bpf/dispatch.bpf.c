// Dispatcher test programs: three XDP and three TC members. Each appends its
// id to `trail` (low nibble = last to run) and returns the verdict the test
// put in `verdicts` (writable after load).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

__s32 verdicts[6] = {2, 2, 2, 0, 0, 0}; /* xdp_a, xdp_b, xdp_c (XDP_PASS), tc_a.. (TC_ACT_OK) */
__u64 trail = 0;

static __always_inline int member(int id)
{
    trail = trail << 4 | (id + 1);
    return verdicts[id];
}

SEC("xdp")
int xdp_a(struct xdp_md *ctx) { return member(0); }

SEC("xdp")
int xdp_b(struct xdp_md *ctx) { return member(1); }

SEC("xdp")
int xdp_c(struct xdp_md *ctx) { return member(2); }

SEC("tc")
int tc_a(struct __sk_buff *skb) { return member(3); }

SEC("tc")
int tc_b(struct __sk_buff *skb) { return member(4); }

SEC("tc")
int tc_c(struct __sk_buff *skb) { return member(5); }

/* does nothing: the benchmark's member (bench/bench_dispatch.py) */
SEC("xdp")
int xdp_noop(struct xdp_md *ctx) { return XDP_PASS; }
