// A program the verifier must reject: a read past the end of a map value.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} vals SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_kill")
int past_end(void *ctx)
{
    __u32 key = 0;
    __u64 *v = bpf_map_lookup_elem(&vals, &key);

    if (!v)
        return 0;
    return v[1]; /* one u64 past the 8-byte value */
}

SEC("no_such_kind/libc.so.6:malloc")
int unknown_section(void *ctx)
{
    return 0;
}
