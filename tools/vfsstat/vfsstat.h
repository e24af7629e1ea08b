/* vfsstat: the counters shared by the BPF side and the user side. */
#ifndef CORETRACE_VFSSTAT_H
#define CORETRACE_VFSSTAT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* One counter per column, in libbpf-tools' column order. */
enum vfsstat_stat {
    VFSSTAT_READ = 0,
    VFSSTAT_WRITE,
    VFSSTAT_FSYNC,
    VFSSTAT_OPEN,
    VFSSTAT_CREATE,
    VFSSTAT_UNLINK,
    VFSSTAT_MKDIR,
    VFSSTAT_RMDIR,
    VFSSTAT_MAX,
};

#endif
