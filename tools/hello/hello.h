/* hello: what its BPF side and user side share. Each bpf_printk line starts with
 * "coretrace-hello[<tool pid>]:", so the tool picks its own lines out of trace_pipe. */
#ifndef CORETRACE_HELLO_H
#define CORETRACE_HELLO_H

#define HELLO_TAG "coretrace-hello"

#endif
