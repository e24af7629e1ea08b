/* softirqs: the per-vector totals the BPF side keeps in .bss; they only grow, and user space
 * reports the difference between two reads. */
#ifndef CORETRACE_SOFTIRQS_H
#define CORETRACE_SOFTIRQS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* The kernel's softirq vectors (HI ... RCU), in the order of /proc/softirqs. */
#define SOFTIRQS_NR_VECTORS 10
#define SOFTIRQS_MAX_SLOTS 32

#endif
