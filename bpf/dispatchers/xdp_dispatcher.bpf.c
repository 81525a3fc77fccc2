// XDP dispatcher: runs up to 10 programs on one interface's XDP hook.
//
// Each user program replaces one of the stubs slot0..slot9 (named prog0..prog9,
// as libxdp's reader expects) as an extension program (freplace). The
// configuration is written into .rodata before load; the verifier then knows
// every value, so the slots past `num_progs_enabled` are dead code.
//
// Layout and names follow libxdp's multi-program protocol, version 2, so that
// `xdp-loader status` lists the programs: the kernel name `xdp_dispatcher`, a
// 124-byte config in the only map (.rodata), and `dispatcher_version` in the
// `xdp_metadata` BTF datasec.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define NUM_SLOTS 10
#define DISPATCHER_RETURN 31 /* returned by a stub nobody replaced: always proceeds */

struct xdp_dispatcher_config {
    __u8 magic;              /* 236 */
    __u8 dispatcher_version; /* 2 */
    __u8 num_progs_enabled;
    __u8 is_xdp_frags;
    __u32 chain_call_actions[NUM_SLOTS]; /* bit (1 << action): go on to the next slot */
    __u32 run_prios[NUM_SLOTS];
    __u32 program_flags[NUM_SLOTS];
};

/* const: frozen .rodata the verifier reads; volatile: clang must not fold it */
volatile const struct xdp_dispatcher_config conf = {};

/* A stub: global and not inlinable, so an extension can replace it; the volatile
 * return value keeps clang from assuming what it returns. */
#define STUB(n)                                                                    \
    __attribute__((noinline)) int prog##n(struct xdp_md *ctx)                     \
    {                                                                              \
        volatile int verdict = DISPATCHER_RETURN;                                  \
        if (!ctx)                                                                  \
            return XDP_ABORTED;                                                    \
        return verdict;                                                            \
    }

STUB(0) STUB(1) STUB(2) STUB(3) STUB(4) STUB(5) STUB(6) STUB(7) STUB(8) STUB(9)

/* Run slot n if enabled; stop with its verdict unless the slot's mask says go on. */
#define RUN(n)                                                                     \
    if (enabled <= n)                                                              \
        return XDP_PASS;                                                           \
    verdict = prog##n(ctx);                                                        \
    if (!((1U << verdict) & conf.chain_call_actions[n]))                           \
        return verdict;

SEC("xdp")
int xdp_dispatcher(struct xdp_md *ctx)
{
    __u8 enabled = conf.num_progs_enabled; /* read once: the slots compare a register */
    int verdict;

    RUN(0) RUN(1) RUN(2) RUN(3) RUN(4) RUN(5) RUN(6) RUN(7) RUN(8) RUN(9)
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";

/* libxdp reads the protocol version from this BTF variable's type: int (*)[2] */
__uint(dispatcher_version, 2) SEC("xdp_metadata");
