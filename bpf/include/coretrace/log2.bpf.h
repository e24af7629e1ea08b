/* log2 histogram slots on the BPF side: slot i counts values in [2^i, 2^(i+1)), slot 0 also 0. */
#ifndef CORETRACE_LOG2_BPF_H
#define CORETRACE_LOG2_BPF_H

/* floor(log2(v)) for v > 0 by halving search: bounded, branch-light, verifier-friendly. */
static __always_inline __u64 ct_log2_u32(__u32 v) {
    __u32 shift, r;

    r = (v > 0xFFFF) << 4;
    v >>= r;
    shift = (v > 0xFF) << 3;
    v >>= shift;
    r |= shift;
    shift = (v > 0xF) << 2;
    v >>= shift;
    r |= shift;
    shift = (v > 0x3) << 1;
    v >>= shift;
    r |= shift;
    r |= (v >> 1);
    return r;
}

static __always_inline __u64 ct_log2_u64(__u64 v) {
    __u32 high = v >> 32;
    return high ? ct_log2_u32(high) + 32 : ct_log2_u32((__u32)v);
}

/* The slot for `value`, clamped to the last of `slots`. 64-bit all the way: a narrowing cast
 * after the clamp lets clang test one register and index with a zero-extended copy of another,
 * which older verifiers (6.1) cannot link and reject as an unbounded map access. */
static __always_inline __u64 ct_log2_slot(__u64 value, __u32 slots) {
    __u64 slot = ct_log2_u64(value);

    if (slot >= slots)
        slot = slots - 1;
    return slot;
}

#endif
