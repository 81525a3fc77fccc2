// uprobe_multi, kprobe_multi and USDT (tests/test_multi.py). Every program
// counts by its BPF cookie, so a test sees which probe site fired.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "GPL";

__u64 enters[8];     /* by cookie */
__u64 exits[8];      /* by cookie */
__u64 unlinks = 0;
__u32 unlink_pid = 0;
__u64 unlink_cookie = 0; /* the last cookie kmulti_unlink saw (this process) */
__u64 usdt_calls[4]; /* by cookie */
__s64 usdt_sum = 0;  /* of the probes' two arguments */
__u32 cookie_pid = 0;
__u64 rawtp_cookie = 0;  /* the last cookie seen by rawtp_with_cookie (this process) */
__u64 fentry_cookie = 0;
__u64 tp_cookie = 0;
__u64 getppid_calls = 0;  /* by libc_getppid, in this process */


SEC("uprobe.multi")
int multi_enter(struct pt_regs *ctx)
{
    __u64 c = bpf_get_attach_cookie(ctx);

    if (c < 8)
        __sync_fetch_and_add(&enters[c], 1);
    return 0;
}

SEC("uprobe")
int single_enter(struct pt_regs *ctx) /* a plain uprobe: its cookie comes from the perf link */
{
    __u64 c = bpf_get_attach_cookie(ctx);

    if (c < 8)
        __sync_fetch_and_add(&enters[c], 1);
    return 0;
}

SEC("uprobe.multi/libc.so.6:getpp*") /* the section names its target: attach() alone */
int libc_getppid(struct pt_regs *ctx)
{
    if ((bpf_get_current_pid_tgid() >> 32) == cookie_pid)
        __sync_fetch_and_add(&getppid_calls, 1);
    return 0;
}

SEC("uretprobe.multi")
int multi_exit(struct pt_regs *ctx)
{
    __u64 c = bpf_get_attach_cookie(ctx);

    if (c < 8)
        __sync_fetch_and_add(&exits[c], 1);
    return 0;
}

SEC("kprobe.multi/do_unlinkat")
int kmulti_unlink(struct pt_regs *ctx)
{
    if ((bpf_get_current_pid_tgid() >> 32) == unlink_pid) {
        __sync_fetch_and_add(&unlinks, 1);
        unlink_cookie = bpf_get_attach_cookie(ctx);
    }
    return 0;
}

SEC("usdt")
int BPF_USDT(usdt_probe, int a, long b)
{
    __u64 c = bpf_usdt_cookie(ctx);

    if (c < 4)
        __sync_fetch_and_add(&usdt_calls[c], 1);
    __sync_fetch_and_add(&usdt_sum, a + b);
    return 0;
}

SEC("raw_tp/sys_enter")
int rawtp_with_cookie(void *ctx)
{
    if ((bpf_get_current_pid_tgid() >> 32) == cookie_pid)
        rawtp_cookie = bpf_get_attach_cookie(ctx);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_with_cookie(void *ctx) /* a tracepoint's cookie comes from its perf link */
{
    if ((bpf_get_current_pid_tgid() >> 32) == cookie_pid)
        tp_cookie = bpf_get_attach_cookie(ctx);
    return 0;
}

SEC("fentry/do_unlinkat")
int BPF_PROG(fentry_with_cookie)
{
    if ((bpf_get_current_pid_tgid() >> 32) == cookie_pid)
        fentry_cookie = bpf_get_attach_cookie(ctx);
    return 0;
}
