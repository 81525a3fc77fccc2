// Manager tests: one counter slot per probe kind, filtered on target_pid.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

volatile const __u32 target_pid = 0;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

static __always_inline int bump(__u32 slot)
{
    __u32 pid = bpf_get_current_pid_tgid() >> 32;
    __u64 *v;

    if (target_pid && pid != target_pid)
        return 0;
    v = bpf_map_lookup_elem(&counts, &slot);
    if (v)
        __sync_fetch_and_add(v, 1);
    return 0;
}

SEC("uprobe")
int up(struct pt_regs *ctx) { return bump(0); }

SEC("uretprobe")
int upret(struct pt_regs *ctx) { return bump(1); }

SEC("kprobe")
int kp(struct pt_regs *ctx) { return bump(2); }

SEC("kretprobe")
int kpret(struct pt_regs *ctx) { return bump(3); }

SEC("fentry/do_unlinkat")
int BPF_PROG(fe) { return bump(4); }

SEC("fexit/do_unlinkat")
int BPF_PROG(fx) { return bump(5); }
