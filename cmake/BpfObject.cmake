# Compiles BPF C into objects and libbpf skeletons: bpf_object(NAME SOURCE) gives an INTERFACE
# target NAME_skel whose include directory holds NAME.skel.h, generated against vmlinux.h made
# from the BTF of the kernel named by CORETRACE_VMLINUX_BTF.

find_program(BPF_CLANG NAMES clang-14 clang REQUIRED)
find_program(BPF_STRIP NAMES llvm-strip-14 llvm-strip REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)
set(CORETRACE_VMLINUX_BTF "/sys/kernel/btf/vmlinux" CACHE FILEPATH
    "BTF file that vmlinux.h is generated from (the running kernel's by default)")

set(BPF_OUTPUT_DIR "${CMAKE_BINARY_DIR}/bpf")
file(MAKE_DIRECTORY "${BPF_OUTPUT_DIR}")

# vmlinux.h: every kernel type, regenerated only when the BTF file changes.
set(VMLINUX_H "${BPF_OUTPUT_DIR}/vmlinux.h")
add_custom_command(
    OUTPUT "${VMLINUX_H}"
    COMMAND "${BPFTOOL}" btf dump file "${CORETRACE_VMLINUX_BTF}" format c > "${VMLINUX_H}.tmp"
    COMMAND "${CMAKE_COMMAND}" -E rename "${VMLINUX_H}.tmp" "${VMLINUX_H}"
    DEPENDS "${CORETRACE_VMLINUX_BTF}"
    COMMENT "Generating vmlinux.h from ${CORETRACE_VMLINUX_BTF}"
    VERBATIM)
add_custom_target(vmlinux_h DEPENDS "${VMLINUX_H}")

# With -target bpf clang drops its own system include directories, yet BPF C includes
# <linux/...> and <asm/...>. Ask clang for its host search path and append it after ours.
execute_process(COMMAND "${BPF_CLANG}" -v -E -x c /dev/null
                ERROR_VARIABLE _clang_probe OUTPUT_QUIET)
string(REGEX MATCH "#include <...> search starts here:\n(.*)\nEnd of search list" _ "${_clang_probe}")
string(REPLACE "\n" ";" _clang_dirs "${CMAKE_MATCH_1}")
set(BPF_SYSTEM_INCLUDES "")
foreach(dir IN LISTS _clang_dirs)
    string(STRIP "${dir}" dir)
    if(dir)
        list(APPEND BPF_SYSTEM_INCLUDES "-idirafter" "${dir}")
    endif()
endforeach()

set(BPF_CFLAGS -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Wno-unused-function
    -I${BPF_OUTPUT_DIR} -I${PROJECT_SOURCE_DIR}/bpf/include
    -I${PROJECT_SOURCE_DIR}/include ${BPF_SYSTEM_INCLUDES}) # include/: the plain C headers (*.h) both sides share

# bpf_object(NAME SOURCE): NAME.bpf.o and NAME.skel.h; link NAME_skel to use the skeleton.
function(bpf_object name source)
    get_filename_component(src "${source}" ABSOLUTE)
    get_filename_component(src_dir "${src}" DIRECTORY)
    set(obj "${BPF_OUTPUT_DIR}/${name}.bpf.o")
    set(skel "${BPF_OUTPUT_DIR}/${name}.skel.h")
    add_custom_command(
        OUTPUT "${obj}"
        COMMAND "${BPF_CLANG}" ${BPF_CFLAGS} -I${src_dir} -MD -MF "${obj}.d" -c "${src}" -o "${obj}"
        # DWARF is for humans; BTF (kept) is what libbpf needs. Halves the embedded bytes.
        COMMAND "${BPF_STRIP}" -g "${obj}"
        DEPENDS "${src}" vmlinux_h "${VMLINUX_H}"
        DEPFILE "${obj}.d"
        COMMENT "BPF ${name}.bpf.o"
        VERBATIM)
    add_custom_command(
        OUTPUT "${skel}"
        COMMAND "${BPFTOOL}" gen skeleton "${obj}" name "${name}_bpf" > "${skel}.tmp"
        COMMAND "${CMAKE_COMMAND}" -E rename "${skel}.tmp" "${skel}"
        DEPENDS "${obj}"
        COMMENT "Skeleton ${name}.skel.h"
        VERBATIM)
    add_custom_target(${name}_skel_gen DEPENDS "${skel}")
    add_library(${name}_skel INTERFACE)
    target_include_directories(${name}_skel INTERFACE "${BPF_OUTPUT_DIR}" "${src_dir}")
    add_dependencies(${name}_skel ${name}_skel_gen)
endfunction()

# bpf_objects_for(TARGET GLOB): a skeleton for every NAME.bpf.c matching GLOB, usable by TARGET.
function(bpf_objects_for target pattern)
    file(GLOB sources CONFIGURE_DEPENDS "${pattern}")
    foreach(src IN LISTS sources)
        get_filename_component(name "${src}" NAME_WE)
        bpf_object(${name} "${src}")
        target_link_libraries(${target} PRIVATE ${name}_skel)
    endforeach()
endfunction()
