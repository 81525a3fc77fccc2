// SPDX-License-Identifier: GPL-2.0
// malloc_bytes: bytes malloc() returned to each process (uprobe + uretprobe on libc).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

__u32 target_pid = 0; // .bss: set from Python after load; 0 means every process

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);   // thread id
    __type(value, __u64); // the size asked for, until malloc returns
} sizes SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);   // process id
    __type(value, __u64); // bytes allocated
} bytes_by_pid SEC(".maps");

static __always_inline int wanted(void)
{
    return target_pid == 0 || (bpf_get_current_pid_tgid() >> 32) == target_pid;
}

SEC("uprobe/libc.so.6:malloc")
int BPF_KPROBE(malloc_enter, size_t size) // BPF_KPROBE reads uprobe arguments too
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u64 sz = size;

    if (wanted())
        bpf_map_update_elem(&sizes, &tid, &sz, BPF_ANY);
    return 0;
}

SEC("uretprobe/libc.so.6:malloc")
int BPF_KRETPROBE(malloc_exit, void *ret)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u32 pid = bpf_get_current_pid_tgid() >> 32;
    __u64 *sz = bpf_map_lookup_elem(&sizes, &tid);
    __u64 *total;

    if (!sz)
        return 0;
    if (ret) {
        total = bpf_map_lookup_elem(&bytes_by_pid, &pid);
        if (total)
            __sync_fetch_and_add(total, *sz);
        else
            bpf_map_update_elem(&bytes_by_pid, &pid, sz, BPF_NOEXIST);
    }
    bpf_map_delete_elem(&sizes, &tid);
    return 0;
}
