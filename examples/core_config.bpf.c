// SPDX-License-Identifier: GPL-2.0
// core_config: configured before load from Python: .rodata and .data globals, a
// map's size and pin path, a program left out (autoload off); CO-RE reads.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

volatile const __u32 target_pid = 0; // .rodata: fixed at load (the verifier sees it)
__u64 kills_seen = 0;                // .bss: read live after load
__u32 step = 1;                      // .data: changed live after load

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16); // resized from Python before load
    __type(key, __u32);      // signal number
    __type(value, __u64);    // how many, weighted by `step`
} by_signal SEC(".maps");

static __always_inline int count(int sig)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    __u32 key = sig;
    __u64 *v, init;

    // CO-RE: the field offset is relocated to the running kernel's task_struct at load
    if (BPF_CORE_READ(task, tgid) != target_pid)
        return 0;
    __sync_fetch_and_add(&kills_seen, 1);
    v = bpf_map_lookup_elem(&by_signal, &key);
    if (v) {
        __sync_fetch_and_add(v, step);
    } else {
        init = step;
        bpf_map_update_elem(&by_signal, &key, &init, BPF_NOEXIST);
    }
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_kill")
int on_kill(struct trace_event_raw_sys_enter *ctx)
{
    return count((int)ctx->args[1]);
}

// the same on an fentry trampoline: left out with autoload = False where
// trampolines are refused (this one needs BTF of the kernel function)
SEC("fentry/__x64_sys_kill")
int BPF_PROG(on_kill_fentry, struct pt_regs *regs)
{
    return count((int)PT_REGS_PARM2_CORE(regs));
}
