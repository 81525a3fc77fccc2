// syscount: counts execve and kill syscalls per command, and streams exec events.
// Shipped example of pybpfman (the demo and the manager's quick start use it).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define SYS_EXECVE 0
#define SYS_KILL 1

struct count_key {
    char comm[16];
    __u32 syscall;
};

struct exec_event {
    __u32 pid;
    __u32 ppid;
    char comm[16];
    char filename[64];
};

volatile const __u32 filter_pid = 0;  /* 0: every process */

/* Types used only inside programs are not in the object's BTF: this unused
 * pointer puts the ring buffer's event type there (Btf.ctype, bpfman gen python). */
struct exec_event *unused_exec_event __attribute__((unused));

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct count_key);
    __type(value, __u64);
} counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline void count(__u32 syscall)
{
    struct count_key k = {};
    __u64 one = 1, *v;

    k.syscall = syscall;
    bpf_get_current_comm(k.comm, sizeof(k.comm));
    v = bpf_map_lookup_elem(&counts, &k);
    if (v)
        __sync_fetch_and_add(v, 1);
    else
        bpf_map_update_elem(&counts, &k, &one, BPF_NOEXIST);
}

SEC("tracepoint/syscalls/sys_enter_execve")
int count_execve(struct trace_event_raw_sys_enter *ctx)
{
    struct exec_event *e;
    struct task_struct *task;
    __u32 pid = bpf_get_current_pid_tgid() >> 32;

    if (filter_pid && pid != filter_pid)
        return 0;
    count(SYS_EXECVE);
    e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    task = (struct task_struct *)bpf_get_current_task();
    e->pid = pid;
    e->ppid = BPF_CORE_READ(task, real_parent, tgid);
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_probe_read_user_str(e->filename, sizeof(e->filename), (const char *)ctx->args[0]);
    bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_kill")
int count_kill(struct trace_event_raw_sys_enter *ctx)
{
    __u32 pid = bpf_get_current_pid_tgid() >> 32;

    if (filter_pid && pid != filter_pid)
        return 0;
    count(SYS_KILL);
    return 0;
}
