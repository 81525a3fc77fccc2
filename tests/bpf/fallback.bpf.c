// attach_first: three ways to count kill() calls, best first, and one the verifier rejects.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

volatile const __u32 target_pid = 0; // 0: every process
__u64 kills = 0;
__u32 chosen = 0; // 1 fentry, 2 tracepoint, 3 kprobe: which program counted

static __always_inline int count(__u32 who)
{
    __u32 pid = bpf_get_current_pid_tgid() >> 32;

    if (target_pid && pid != target_pid)
        return 0;
    __sync_fetch_and_add(&kills, 1);
    chosen = who;
    return 0;
}

SEC("fentry/__x64_sys_kill")
int BPF_PROG(count_fentry)
{
    return count(1);
}

SEC("tracepoint/syscalls/sys_enter_kill")
int count_tp(void *ctx)
{
    return count(2);
}

SEC("kprobe/__x64_sys_kill")
int count_kprobe(void *ctx)
{
    return count(3);
}

SEC("tracepoint/syscalls/sys_enter_kill")
int bad_tp(void *ctx)
{
    return *(volatile __u64 *)(ctx + 100000); // out of the context: the verifier says no
}
