/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* pybpfman test build: upstream bpfman's sources want the uapi <linux/bpf.h> of
 * Linux >= 6.6 (tcx return codes); Debian bookworm's linux-libc-dev is 6.1. The
 * enum below is the kernel's uapi definition, added only when the system header
 * predates it (BPF_F_BEFORE arrived with tcx in the same release). */
#ifndef PYBPFMAN_COMPAT_LINUX_BPF_H
#define PYBPFMAN_COMPAT_LINUX_BPF_H
#include_next <linux/bpf.h>
#ifndef BPF_F_BEFORE
enum tcx_action_base {
	TCX_NEXT = -1,
	TCX_PASS = 0,
	TCX_DROP = 2,
	TCX_REDIRECT = 7,
};
#endif
#endif
