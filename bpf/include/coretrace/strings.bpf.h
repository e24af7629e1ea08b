/* Bounded string tests for the BPF side (name and path filters). Every loop has a constant
 * bound the verifier can see; lengths are passed in, as the buffers are fixed-size arrays. */
#ifndef CORETRACE_STRINGS_BPF_H
#define CORETRACE_STRINGS_BPF_H

#include <bpf/bpf_helpers.h>

/* True when `pattern` (pattern_len bytes, at most pattern_cap) occurs in the first `len` bytes
 * of `text` (an array of text_cap bytes); with prefix_only, only at its start. */
static __always_inline bool ct_occurs_in(const char* text, __u32 len, __u32 text_cap,
                                         const volatile char* pattern, __u32 pattern_len,
                                         __u32 pattern_cap, bool prefix_only) {
    for (__u32 at = 0; at < text_cap; at++) {
        bool same = true;

        if (at + pattern_len > len)
            return false;
        for (__u32 i = 0; i < pattern_cap && i < pattern_len; i++) {
            __u32 k = at + i;

            if (k >= text_cap || text[k] != pattern[i]) {
                same = false;
                break;
            }
        }
        if (same)
            return true;
        if (prefix_only)
            return false;
    }
    return false;
}

/* The current task's comm contains `name` (name_len bytes of a 16-byte rodata array; 0: any). */
static __always_inline bool ct_current_comm_contains(const volatile char* name, __u32 name_len) {
    char comm[16] = {};

    if (!name_len)
        return true;
    bpf_get_current_comm(comm, sizeof(comm));
    return ct_occurs_in(comm, sizeof(comm) - 1, sizeof(comm), name, name_len, sizeof(comm) - 1,
                        false);
}

#endif
