// SPDX-License-Identifier: GPL-2.0
// bad_offset: a program the verifier refuses (a read one u64 past a map value),
// for the error-handling example.
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
    return v[1];
}
