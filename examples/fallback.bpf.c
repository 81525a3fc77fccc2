// SPDX-License-Identifier: GPL-2.0
// fallback: the same counter three ways, best first; bpfman.attach_first loads
// and attaches the first one the running kernel supports.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

volatile const __u32 target_pid = 0;
__u64 kills = 0;

static __always_inline int count(void)
{
    if ((bpf_get_current_pid_tgid() >> 32) == target_pid)
        __sync_fetch_and_add(&kills, 1);
    return 0;
}

SEC("fentry/__x64_sys_kill")
int BPF_PROG(kill_fentry)
{
    return count();
}

SEC("kprobe/__x64_sys_kill")
int kill_kprobe(void *ctx)
{
    return count();
}

SEC("tracepoint/syscalls/sys_enter_kill")
int kill_tracepoint(void *ctx)
{
    return count();
}
