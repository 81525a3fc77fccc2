// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Copyright Authors of bpfman

#include "kprobe_counter.h"
#include "tc_counter.h"
#include "tcx_counter.h"
#include "tracepoint_counter.h"
#include "uprobe_counter.h"
#include "xdp_counter.h"

char _license[] SEC("license") = "Dual BSD/GPL";
