// TC dispatcher: runs up to 10 programs on one interface's tc hook (one
// direction), as a direct-action bpf filter on the clsact qdisc.
//
// Same scheme as the XDP dispatcher: user programs replace the stubs
// prog0..prog9 (freplace), the configuration is frozen .rodata. TC verdicts
// start at TC_ACT_UNSPEC (-1), so the proceed-on mask is shifted by one:
// bit (1 << (verdict + 1)).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define NUM_SLOTS 10
#define DISPATCHER_RETURN 30 /* returned by a stub nobody replaced: always proceeds */
#define TC_ACT_OK 0

struct tc_dispatcher_config {
    __u8 num_progs_enabled;
    __u32 chain_call_actions[NUM_SLOTS]; /* bit (1 << (verdict + 1)): go on */
    __u32 run_prios[NUM_SLOTS];
};

volatile const struct tc_dispatcher_config conf = {};

#define STUB(n)                                                                    \
    __attribute__((noinline)) int prog##n(struct __sk_buff *skb)                  \
    {                                                                              \
        volatile int verdict = DISPATCHER_RETURN;                                  \
        if (!skb)                                                                  \
            return TC_ACT_OK;                                                      \
        return verdict;                                                            \
    }

STUB(0) STUB(1) STUB(2) STUB(3) STUB(4) STUB(5) STUB(6) STUB(7) STUB(8) STUB(9)

#define RUN(n)                                                                     \
    if (enabled <= n)                                                              \
        return TC_ACT_OK;                                                          \
    verdict = prog##n(skb);                                                        \
    if (!((1U << (verdict + 1)) & conf.chain_call_actions[n]))                     \
        return verdict;

SEC("tc")
int tc_dispatcher(struct __sk_buff *skb)
{
    __u8 enabled = conf.num_progs_enabled; /* read once: the slots compare a register */
    int verdict;

    RUN(0) RUN(1) RUN(2) RUN(3) RUN(4) RUN(5) RUN(6) RUN(7) RUN(8) RUN(9)
    return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
