// SPDX-License-Identifier: GPL-2.0
// xdp_counter: packets per IP protocol (TCP 6, UDP 17, ICMP 1, ...), one counter per CPU.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, __u64);
} by_proto SEC(".maps");

SEC("xdp")
int count_protocols(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = data + sizeof(*eth);
    __u32 proto;
    __u64 *count;

    if ((void *)(ip + 1) > end)
        return XDP_PASS; // too short for IPv4: not counted, let through
    if (eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    proto = ip->protocol;
    count = bpf_map_lookup_elem(&by_proto, &proto);
    if (count)
        *count += 1; // per-CPU: no atomic needed
    return XDP_PASS;
}
