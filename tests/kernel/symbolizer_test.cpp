// The symbolizer on live processes (root: it reads /proc/PID/map_files): a PIE executable and its
// shared library, the vdso, a process that has exited since it was remembered, a deleted
// executable and one run from a memfd. The fixture prints where its functions are.
#include "coretrace/elf_file.hpp"
#include "coretrace/object_symbols.hpp"
#include "coretrace/symbolizer.hpp"
#include "subprocess.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <sstream>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace coretrace;
using namespace coretrace::test;

namespace {

// "static=0x... global=0x..." as a map of name to address.
std::map<std::string, std::uint64_t> fixture_addresses(Subprocess& fixture) {
    EXPECT_TRUE(fixture.wait_for("vdso=")) << fixture.err();
    std::map<std::string, std::uint64_t> out;
    std::istringstream words(fixture.out());
    for (std::string word; words >> word;) {
        const auto eq = word.find('=');
        if (eq != std::string::npos)
            out[word.substr(0, eq)] = std::stoull(word.substr(eq + 1), nullptr, 16);
    }
    return out;
}

// The address of a function in our own vdso image, relative to its start.
std::uint64_t vdso_function_offset(const std::string& name) {
    const auto base = getauxval(AT_SYSINFO_EHDR);
    std::ifstream maps("/proc/self/maps");
    for (std::string line; std::getline(maps, line);) {
        if (!line.ends_with("[vdso]"))
            continue;
        const auto end = std::stoull(line.substr(line.find('-') + 1), nullptr, 16);
        auto file = elf::File::from_memory(
            "[vdso]", std::string_view(reinterpret_cast<const char*>(base), end - base));
        if (auto symbol = file.find_symbol(name))
            return symbol->address;
    }
    return 0;
}

void expect_function(symbols::Symbolizer& symbolizer, pid_t pid, std::uint64_t address,
                     const std::string& function, const std::string& module_suffix) {
    const auto frame = symbolizer.user(pid, address + 1);
    EXPECT_EQ(frame.function, function) << std::hex << address;
    EXPECT_EQ(frame.offset, 1u) << function;
    EXPECT_TRUE(frame.module.ends_with(module_suffix)) << frame.module;
}

} // namespace

TEST(Symbolizer, ResolvesPieSharedLibraryAndVdso) {
    Subprocess fixture({SYMBOLIZER_FIXTURE});
    auto at = fixture_addresses(fixture);
    symbols::Symbolizer symbolizer;
    expect_function(symbolizer, fixture.pid(), at["static"], "ct_fixture_static",
                    "/symbolizer_fixture");
    expect_function(symbolizer, fixture.pid(), at["global"], "ct_fixture_global",
                    "/symbolizer_fixture");
    expect_function(symbolizer, fixture.pid(), at["lib"], "ct_fixture_lib_global",
                    "/libsymbolizer_fixture_lib.so");
    expect_function(symbolizer, fixture.pid(), at["lib_static"], "ct_fixture_lib_static",
                    "/libsymbolizer_fixture_lib.so");
    const std::uint64_t clock = vdso_function_offset("__vdso_clock_gettime");
    ASSERT_NE(clock, 0u);
    const auto vdso = symbolizer.user(fixture.pid(), at["vdso"] + clock + 4);
    EXPECT_NE(vdso.function.find("clock_gettime"), std::string::npos) << vdso.function;
    EXPECT_EQ(vdso.module, "[vdso]");
    EXPECT_EQ(symbolizer.stats().user_frames, 5u);
    EXPECT_EQ(symbolizer.stats().user_unknown, 0u);
    // An address no mapping holds is unknown, quietly.
    const auto nowhere = symbolizer.user(fixture.pid(), 0x10);
    EXPECT_FALSE(nowhere.known());
    EXPECT_EQ(nowhere.name(), "[unknown]");
    EXPECT_EQ(symbolizer.stats().user_unknown, 1u);
}

TEST(Symbolizer, ARememberedProcessResolvesAfterItExits) {
    Subprocess fixture({SYMBOLIZER_FIXTURE});
    auto at = fixture_addresses(fixture);
    const pid_t pid = fixture.pid();
    symbols::Symbolizer symbolizer;
    ASSERT_TRUE(symbolizer.remember(pid));
    fixture.signal(SIGTERM);
    fixture.wait();
    ASSERT_FALSE(std::filesystem::exists("/proc/" + std::to_string(pid)));
    expect_function(symbolizer, pid, at["static"], "ct_fixture_static", "/symbolizer_fixture");
    expect_function(symbolizer, pid, at["lib_static"], "ct_fixture_lib_static", ".so");
    symbolizer.forget(pid);
    EXPECT_FALSE(symbolizer.user(pid, at["static"]).known());
    EXPECT_FALSE(symbolizer.remember(pid)) << "a process that is gone";
}

TEST(Symbolizer, DeletedExecutableIsStillReadAndMarked) {
    const auto copy = std::filesystem::temp_directory_path() /
                      ("ct-deleted-fixture-" + std::to_string(::getpid()));
    std::filesystem::copy_file(SYMBOLIZER_FIXTURE, copy,
                               std::filesystem::copy_options::overwrite_existing);
    Subprocess fixture({copy.string()});
    auto at = fixture_addresses(fixture);
    std::filesystem::remove(copy);
    symbols::Symbolizer symbolizer;
    const auto frame = symbolizer.user(fixture.pid(), at["static"] + 1);
    EXPECT_EQ(frame.function, "ct_fixture_static");
    EXPECT_EQ(frame.module, copy.string() + " (deleted)");
}

TEST(Symbolizer, MemfdExecutableIsReadAndMarked) {
    const int memfd = memfd_create("ct-fixture", 0); // inherited by the fixture, which execs it
    ASSERT_GE(memfd, 0);
    {
        std::ifstream in(SYMBOLIZER_FIXTURE, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), {});
        ASSERT_EQ(write(memfd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    }
    Subprocess fixture({"/proc/self/fd/" + std::to_string(memfd)});
    close(memfd);
    auto at = fixture_addresses(fixture);
    symbols::Symbolizer symbolizer;
    const auto frame = symbolizer.user(fixture.pid(), at["global"] + 1);
    EXPECT_EQ(frame.function, "ct_fixture_global");
    EXPECT_EQ(frame.module, "memfd:ct-fixture (deleted)");
}

TEST(Symbolizer, KernelAddressesHaveNamesAndModules) {
    symbols::Symbolizer symbolizer;
    if (!symbolizer.kernel_visible())
        GTEST_SKIP() << "kallsyms hides kernel addresses here (kernel.kptr_restrict)";
    std::ifstream kallsyms("/proc/kallsyms");
    std::uint64_t schedule = 0;
    for (std::string address, type, name; kallsyms >> address >> type >> name;) {
        if (name == "schedule" && (type == "T" || type == "t")) {
            schedule = std::stoull(address, nullptr, 16);
            break;
        }
        kallsyms.ignore(1 << 10, '\n');
    }
    ASSERT_NE(schedule, 0u);
    const auto frame = symbolizer.kernel(schedule + 8);
    EXPECT_EQ(frame.function, "schedule");
    EXPECT_EQ(frame.offset, 8u);
    EXPECT_EQ(frame.module, "");
    EXPECT_EQ(frame.name_with_offset(), "schedule+0x8");
}
