// Network test programs: XDP, tc and tcx programs that count (and some drop)
// "probe" packets: IPv4 UDP to port `port`. Everything else (ARP, IPv6) passes
// uncounted, so the counters tell exactly how many probes a program saw.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

enum slot {
    XDP_PASS_SLOT,
    XDP_DROP_SLOT,
    XDP_PASS2_SLOT,
    TC_INGRESS_SLOT,
    TC_EGRESS_SLOT,
    TC_DROP_SLOT,
    TCX_A_SLOT,
    TCX_B_SLOT,
    TCX_STOP_SLOT,
    NSLOTS,
};

volatile const __u16 port = 4242;
__u64 trail = 0; // tcx programs shift their id in: the low nibbles give the run order

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, NSLOTS);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

static __always_inline int is_probe(void *data, void *data_end)
{
    struct ethhdr *eth = data;
    struct iphdr *ip;
    struct udphdr *udp;

    if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
        return 0;
    ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end || ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
        return 0;
    udp = (void *)(ip + 1);
    if ((void *)(udp + 1) > data_end)
        return 0;
    return udp->dest == bpf_htons(port);
}

static __always_inline void count(__u32 slot)
{
    __u64 *v = bpf_map_lookup_elem(&counters, &slot);

    if (v)
        __sync_fetch_and_add(v, 1);
}

static __always_inline int xdp_probe(struct xdp_md *ctx)
{
    return is_probe((void *)(long)ctx->data, (void *)(long)ctx->data_end);
}

static __always_inline int skb_probe(struct __sk_buff *skb)
{
    return is_probe((void *)(long)skb->data, (void *)(long)skb->data_end);
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
    if (xdp_probe(ctx))
        count(XDP_PASS_SLOT);
    return XDP_PASS;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
    if (!xdp_probe(ctx))
        return XDP_PASS;
    count(XDP_DROP_SLOT);
    return XDP_DROP;
}

SEC("xdp")
int xdp_pass2(struct xdp_md *ctx)
{
    if (xdp_probe(ctx))
        count(XDP_PASS2_SLOT);
    return XDP_PASS;
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
    if (skb_probe(skb))
        count(TC_INGRESS_SLOT);
    return TC_ACT_OK;
}

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
    if (skb_probe(skb))
        count(TC_EGRESS_SLOT);
    return TC_ACT_OK;
}

SEC("tc")
int tc_drop(struct __sk_buff *skb)
{
    if (!skb_probe(skb))
        return TC_ACT_OK;
    count(TC_DROP_SLOT);
    return TC_ACT_SHOT;
}

SEC("tc")
int tcx_a(struct __sk_buff *skb)
{
    if (skb_probe(skb)) {
        count(TCX_A_SLOT);
        trail = trail << 4 | 0xa;
    }
    return TCX_NEXT;
}

SEC("tc")
int tcx_b(struct __sk_buff *skb)
{
    if (skb_probe(skb)) {
        count(TCX_B_SLOT);
        trail = trail << 4 | 0xb;
    }
    return TCX_NEXT;
}

SEC("tc")
int tcx_stop(struct __sk_buff *skb)
{
    if (skb_probe(skb)) {
        count(TCX_STOP_SLOT);
        trail = trail << 4 | 0xc;
    }
    return TCX_PASS; // ends the chain: programs after it do not run
}
