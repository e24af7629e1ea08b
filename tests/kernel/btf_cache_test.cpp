// The minimized-BTF cache on the running kernel: made once per (kernel build, object), holding
// task_struct's touched members at the kernel's own offsets, and never trusted when others
// could have written it.
#include "cpudist.skel.h"
#include "hello.skel.h"

#include "coretrace/core_btf.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <memory>
#include <sys/stat.h>

using namespace coretrace;
namespace fs = std::filesystem;

namespace {
std::span<const std::byte> cpudist_elf() {
    std::size_t size = 0;
    const void* data = cpudist_bpf::elf_bytes(&size);
    return {static_cast<const std::byte*>(data), size};
}

struct TempCache {
    fs::path dir = fs::temp_directory_path() / ("coretrace-btf-test-" + std::to_string(::getpid()));
    TempCache() { ::setenv("CORETRACE_CACHE_DIR", dir.c_str(), 1); }
    ~TempCache() {
        ::unsetenv("CORETRACE_CACHE_DIR");
        fs::remove_all(dir);
    }
};
} // namespace

TEST(BtfCache, CpudistGetsTaskStructMembersAtKernelOffsets) {
    TempCache cache;
    std::string path = btf::cached_minimized_btf(cpudist_elf());
    ASSERT_FALSE(path.empty());
    ASSERT_TRUE(fs::exists(path));
    EXPECT_LT(fs::file_size(path), 1024u);

    std::unique_ptr<struct btf, void (*)(struct btf*)> min(btf__parse(path.c_str(), nullptr),
                                                           btf__free);
    std::unique_ptr<struct btf, void (*)(struct btf*)> kernel(btf__load_vmlinux_btf(), btf__free);
    ASSERT_TRUE(min && kernel);
    auto offsets = [](const struct btf* b) {
        std::map<std::string, std::uint32_t> out;
        const btf_type* t =
            btf__type_by_id(b, btf__find_by_name_kind(b, "task_struct", BTF_KIND_STRUCT));
        for (std::uint32_t i = 0; i < btf_vlen(t); i++)
            out[btf__name_by_offset(b, btf_members(t)[i].name_off)] = btf_member_bit_offset(t, i);
        return out;
    };
    auto small = offsets(min.get()), full = offsets(kernel.get());
    EXPECT_EQ(small.size(), 4u); // exactly what cpudist reads
    for (const char* member : {"pid", "tgid", "comm", "__state"}) {
        ASSERT_TRUE(small.count(member)) << member;
        EXPECT_EQ(small[member], full[member]) << member;
    }
}

TEST(BtfCache, ReusedWhileTrustedRemadeOtherwise) {
    TempCache cache;
    std::string path = btf::cached_minimized_btf(cpudist_elf());
    ASSERT_FALSE(path.empty());
    auto made = fs::last_write_time(path);
    EXPECT_EQ(btf::cached_minimized_btf(cpudist_elf()), path);
    EXPECT_EQ(fs::last_write_time(path), made);

    ::chmod(path.c_str(), 0666); // writable by anyone: must not be trusted
    EXPECT_EQ(btf::cached_minimized_btf(cpudist_elf()), path);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u) << "the untrusted file was replaced";
}

TEST(BtfCache, SymlinksAndForeignDirectoriesAreNotTrusted) {
    TempCache cache;
    std::string path = btf::cached_minimized_btf(cpudist_elf());
    ASSERT_FALSE(path.empty());
    // A symlink planted where the file should be is neither used nor written through.
    fs::path victim = cache.dir / "victim";
    { std::ofstream(victim) << "precious"; }
    fs::remove(path);
    fs::create_symlink(victim, path);
    std::string again = btf::cached_minimized_btf(cpudist_elf());
    EXPECT_EQ(again, path);
    EXPECT_FALSE(fs::is_symlink(path)) << "replaced by a real file";
    std::ifstream in(victim);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(text, "precious");
    // A directory others can write to is refused altogether.
    ::chmod(fs::path(path).parent_path().c_str(), 0777);
    EXPECT_EQ(btf::cached_minimized_btf(cpudist_elf()), "");
}

TEST(BtfCache, ObjectsWithoutCoreRelocationsNeedNoBtf) {
    TempCache cache;
    std::size_t size = 0;
    const void* data = hello_bpf::elf_bytes(&size);
    EXPECT_EQ(btf::cached_minimized_btf({static_cast<const std::byte*>(data), size}), "");
    EXPECT_FALSE(fs::exists(cache.dir));
}

TEST(BtfCache, DisabledByUser) {
    TempCache cache;
    ::setenv("CORETRACE_DISABLE", "btf_cache", 1);
    EXPECT_EQ(btf::cached_minimized_btf(cpudist_elf()), "");
    ::unsetenv("CORETRACE_DISABLE");
}
