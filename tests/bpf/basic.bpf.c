// Basic test program: tracepoint/raw_tp counters, globals in every data section.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

volatile const __u32 target_pid = 0;   // .rodata: 0 means every process
volatile const __u64 multiplier = 1;
__u64 hits = 0;                         // .bss
__s32 bias = -5;                        // .data
char label[8] = "basic";                // .data

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, __u64);
} by_pid SEC(".maps");

static __always_inline int mine(void)
{
    __u32 pid = bpf_get_current_pid_tgid() >> 32;
    return target_pid == 0 || pid == target_pid;
}

SEC("tracepoint/syscalls/sys_enter_kill")
int count_kill(void *ctx)
{
    __u32 key = 0;
    __u32 pid = bpf_get_current_pid_tgid() >> 32;
    __u64 *v, one = 1;

    if (!mine())
        return 0;
    v = bpf_map_lookup_elem(&counts, &key);
    if (v)
        __sync_fetch_and_add(v, multiplier);
    v = bpf_map_lookup_elem(&by_pid, &pid);
    if (v)
        __sync_fetch_and_add(v, 1);
    else
        bpf_map_update_elem(&by_pid, &pid, &one, BPF_ANY);
    hits++;
    return 0;
}

SEC("raw_tp/sys_enter")
int count_raw(void *ctx)
{
    __u32 key = 1;
    __u64 *v;

    if (!mine())
        return 0;
    v = bpf_map_lookup_elem(&counts, &key);
    if (v)
        __sync_fetch_and_add(v, 1);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int count_getppid(void *ctx)
{
    __u32 key = 2;
    __u64 *v;

    if (!mine())
        return 0;
    v = bpf_map_lookup_elem(&counts, &key);
    if (v)
        __sync_fetch_and_add(v, 1);
    return 0;
}
