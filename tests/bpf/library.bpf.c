// The library's own behaviours (issue 11): ownership of links, attach_all,
// globals of every width, a ring buffer, and one program per attach kind.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

volatile const __u32 target_pid = 0;   // .rodata
__u32 small = 0;                        // .bss: u32 range checks
__s8 tiny = 0;                          // .bss: s8 range checks
char comm[16] = "";                     // .data: char[] from str

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} events SEC(".maps");

static __always_inline void bump(__u32 key)
{
    __u64 *v = bpf_map_lookup_elem(&counts, &key);

    if (v)
        __sync_fetch_and_add(v, 1);
}

static __always_inline int mine(void)
{
    return (bpf_get_current_pid_tgid() >> 32) == target_pid;
}

SEC("tracepoint/syscalls/sys_enter_kill")
int on_kill(void *ctx)
{
    __u32 pid = bpf_get_current_pid_tgid() >> 32;

    if (mine()) {
        bump(0);
        bpf_ringbuf_output(&events, &pid, sizeof(pid), 0);
    }
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
    if (mine())
        bump(1);
    return 0;
}

SEC("xdp")
int pass_all(struct xdp_md *ctx)
{
    bump(2);
    return XDP_PASS;
}

SEC("uprobe")
int any_uprobe(void *ctx)
{
    if (mine())
        bump(3);
    return 0;
}

// its section names a tracepoint no kernel has: attach_all() fails on it
SEC("tracepoint/syscalls/sys_enter_no_such_syscall")
int on_missing(void *ctx)
{
    return 0;
}
