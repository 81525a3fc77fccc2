// A program the verifier must reject: a map value used without a NULL check.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} vals SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_kill")
int unchecked(void *ctx)
{
    __u32 key = 0;
    __u64 *v = bpf_map_lookup_elem(&vals, &key);

    *v += 1; /* no NULL check */
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int fine(void *ctx)
{
    return 0;
}
