/* cachestat: nothing crosses between the sides but the .bss counters (see cachestat.bpf.c). */
#ifndef CORETRACE_CACHESTAT_H
#define CORETRACE_CACHESTAT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#endif
