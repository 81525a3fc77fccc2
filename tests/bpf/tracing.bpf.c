// Tracing attach kinds: uprobes, kprobes, trampolines, tp_btf, raw_tp, perf events, cgroups.
// Each program counts its hits per process (tgid) in its own slot of `hits`, so one
// object serves every test; tests turn autoload off for the programs they do not use.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

volatile const __u32 target_pid = 0; // 0: every process

enum slot {
    S_UPROBE_ALL, S_UPROBE_MINE, S_UPROBE_ABS, S_URETPROBE_ABS, S_KPROBE, S_KRETPROBE,
    S_FENTRY, S_FEXIT, S_TP_BTF, S_RAW_TP, S_PERF, S_CG_EGRESS, S_CG_SOCK, S_TP, S_MAX
};

struct hit_key {
    __u32 slot;
    __u32 tgid;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct hit_key);
    __type(value, __u64);
} hits SEC(".maps");

__s64 abs_arg = 0;
__s64 abs_ret = 0;

static __always_inline int count(__u32 slot)
{
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    struct hit_key k = {.slot = slot, .tgid = tgid};
    __u64 one = 1, *v;

    if (target_pid && tgid != target_pid)
        return 0;
    v = bpf_map_lookup_elem(&hits, &k);
    if (v)
        __sync_fetch_and_add(v, 1);
    else
        bpf_map_update_elem(&hits, &k, &one, BPF_NOEXIST);
    return 1;
}

// cgroup programs: only the test's child sits in the fresh cgroup, so no pid filter
static __always_inline void count_any(__u32 slot)
{
    struct hit_key k = {.slot = slot};
    __u64 one = 1, *v;

    v = bpf_map_lookup_elem(&hits, &k);
    if (v)
        __sync_fetch_and_add(v, 1);
    else
        bpf_map_update_elem(&hits, &k, &one, BPF_NOEXIST);
}

SEC("uprobe")
int uprobe_all(struct pt_regs *ctx)
{
    count(S_UPROBE_ALL);
    return 0;
}

SEC("uprobe")
int uprobe_mine(struct pt_regs *ctx)
{
    count(S_UPROBE_MINE);
    return 0;
}

SEC("uprobe/libc.so.6:abs")
int BPF_KPROBE(uprobe_abs, int x)
{
    if (count(S_UPROBE_ABS))
        abs_arg = x;
    return 0;
}

SEC("uretprobe/libc.so.6:abs")
int BPF_KRETPROBE(uretprobe_abs, int ret)
{
    if (count(S_URETPROBE_ABS))
        abs_ret = ret;
    return 0;
}

SEC("kprobe/do_unlinkat")
int kprobe_unlink(struct pt_regs *ctx)
{
    count(S_KPROBE);
    return 0;
}

SEC("kretprobe/do_unlinkat")
int kretprobe_unlink(struct pt_regs *ctx)
{
    count(S_KRETPROBE);
    return 0;
}

SEC("fentry/do_unlinkat")
int BPF_PROG(fentry_unlink)
{
    count(S_FENTRY);
    return 0;
}

SEC("fexit/do_unlinkat")
int BPF_PROG(fexit_unlink)
{
    count(S_FEXIT);
    return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(tp_btf_enter)
{
    count(S_TP_BTF);
    return 0;
}

SEC("raw_tp/sys_enter")
int raw_tp_enter(void *ctx)
{
    count(S_RAW_TP);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_getppid(void *ctx)
{
    count(S_TP);
    return 0;
}

SEC("perf_event")
int perf_tick(void *ctx)
{
    count(S_PERF);
    return 0;
}

SEC("cgroup_skb/egress")
int cg_egress(struct __sk_buff *skb)
{
    count_any(S_CG_EGRESS);
    return 1; // let it through
}

SEC("cgroup/sock_create")
int cg_sock(struct bpf_sock *sk)
{
    count_any(S_CG_SOCK);
    return 1;
}

// freplace: `xdp_target` calls the global function `verdict`; `new_verdict` replaces it.
__noinline int verdict(struct xdp_md *ctx)
{
    return ctx ? XDP_PASS : XDP_ABORTED;
}

SEC("xdp")
int xdp_target(struct xdp_md *ctx)
{
    return verdict(ctx);
}

SEC("freplace/verdict")
int new_verdict(struct xdp_md *ctx)
{
    return XDP_DROP;
}
