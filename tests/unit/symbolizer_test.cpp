// Symbol tables of ELF files the build makes (tests/fixtures/symbolizer_fixture*.c): a PIE
// executable, a shared library, a copy stripped with a .gnu_debuglink, one with only a build id;
// and /proc/kallsyms-format tables.
#include "coretrace/elf_file.hpp"
#include "coretrace/kernel_symbols.hpp"
#include "coretrace/object_symbols.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

using namespace coretrace;
using symbols::ObjectSymbols;

namespace {

const std::string fixture = SYMBOLIZER_FIXTURE;
const std::string library = SYMBOLIZER_FIXTURE_LIB;

std::uint64_t address_of(const std::string& path, const std::string& name) {
    auto symbol = elf::File(path).find_symbol(name);
    EXPECT_TRUE(symbol) << name << " in " << path;
    return symbol ? symbol->address : 0;
}

// The name `symbols` gives to an address inside `function` (its third byte).
std::string name_inside(const ObjectSymbols& symbols, std::uint64_t function) {
    const auto* found = symbols.find(function + 2);
    return found ? found->name : "(none)";
}

} // namespace

TEST(ObjectSymbols, PieExecutableHasStaticAndGlobalFunctions) {
    auto symbols = ObjectSymbols::read(fixture);
    EXPECT_EQ(name_inside(symbols, address_of(fixture, "ct_fixture_static")), "ct_fixture_static");
    EXPECT_EQ(name_inside(symbols, address_of(fixture, "ct_fixture_global")), "ct_fixture_global");
    EXPECT_EQ(name_inside(symbols, address_of(fixture, "main")), "main");
    EXPECT_EQ(symbols.debug_file(), "");
    EXPECT_EQ(elf::File(fixture).type(), 3u) << "ET_DYN: a PIE";
}

TEST(ObjectSymbols, FileOffsetsMapBackToAddresses) {
    auto symbols = ObjectSymbols::read(fixture);
    elf::File file(fixture);
    const std::uint64_t function = address_of(fixture, "ct_fixture_global");
    const auto offset = file.file_offset(function);
    ASSERT_TRUE(offset);
    EXPECT_EQ(symbols.address_at_offset(*offset), function);
    EXPECT_FALSE(symbols.address_at_offset(std::uint64_t{1} << 40));
}

TEST(ObjectSymbols, SharedLibraryStaticFunction) {
    auto symbols = ObjectSymbols::read(library);
    EXPECT_EQ(name_inside(symbols, address_of(library, "ct_fixture_lib_static")),
              "ct_fixture_lib_static");
    EXPECT_EQ(name_inside(symbols, address_of(library, "ct_fixture_lib_global")),
              "ct_fixture_lib_global");
}

TEST(ObjectSymbols, StrippedCopyFindsItsDebugLink) {
    const std::string stripped = fixture + ".debuglink";
    ASSERT_FALSE(elf::File(stripped).has_symtab());
    auto symbols = ObjectSymbols::read(stripped);
    EXPECT_EQ(symbols.debug_file(),
              std::filesystem::path(fixture).parent_path().string() + "/symbolizer_fixture.debug");
    // A static function is only in .symtab, which only the debug file has.
    EXPECT_EQ(name_inside(symbols, address_of(fixture, "ct_fixture_static")), "ct_fixture_static");
}

TEST(ObjectSymbols, StrippedCopyWithoutDebugFileKnowsOnlyDynamicSymbols) {
    const std::string stripped = fixture + ".buildid";
    auto symbols = ObjectSymbols::read(stripped);
    EXPECT_EQ(symbols.debug_file(), "");
    const auto* found = symbols.find(address_of(fixture, "ct_fixture_static") + 2);
    EXPECT_TRUE(!found || found->name != "ct_fixture_static");
}

TEST(ObjectSymbols, StrippedCopyFindsItsDebugFileByBuildId) {
    const std::string stripped = fixture + ".buildid";
    elf::File file(stripped);
    const std::string id = file.build_id();
    ASSERT_GT(id.size(), 8u) << "the fixture is linked with --build-id";
    EXPECT_EQ(id, elf::File(fixture).build_id());
    // A root of our own stands for the process's root, so nothing is written under /usr.
    const auto root =
        std::filesystem::temp_directory_path() / ("ct-symbolizer-" + std::to_string(::getpid()));
    const auto dir = root / "usr/lib/debug/.build-id" / id.substr(0, 2);
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(
        std::filesystem::path(fixture).parent_path() / "symbolizer_fixture.debug",
        dir / (id.substr(2) + ".debug"), std::filesystem::copy_options::overwrite_existing);
    ObjectSymbols symbols(file, "/opt/elsewhere/symbolizer_fixture", root.string());
    EXPECT_EQ(symbols.debug_file(), (dir / (id.substr(2) + ".debug")).string());
    EXPECT_EQ(name_inside(symbols, address_of(fixture, "ct_fixture_static")), "ct_fixture_static");
    std::filesystem::remove_all(root);
}

TEST(ObjectSymbols, DebugLinkWithAWrongCrcIsNotUsed) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("ct-debuglink-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(fixture + ".debuglink", dir / "copy");
    // Another file under the linked name: its CRC differs.
    std::filesystem::copy_file(fixture, dir / "symbolizer_fixture.debug");
    auto symbols = ObjectSymbols::read((dir / "copy").string());
    EXPECT_EQ(symbols.debug_file(), "");
    std::filesystem::remove_all(dir);
}

TEST(ObjectSymbols, NotAnElfFileIsAnError) {
    EXPECT_THROW(ObjectSymbols::read("/proc/self/status"), std::exception);
    EXPECT_THROW(ObjectSymbols::read("/nonexistent/file"), std::exception);
}

TEST(KernelSymbols, ResolvesFunctionsAndModules) {
    const auto path =
        std::filesystem::temp_directory_path() / ("ct-kallsyms-" + std::to_string(::getpid()));
    std::ofstream(path) << "ffffffff81000000 T _stext\n"
                           "ffffffff81000100 T do_one\n"
                           "ffffffff81000200 t do_two\n"
                           "ffffffff82000000 D some_data\n"
                           "ffffffffc0001000 t mod_fn\t[ext4]\n"
                           "ffffffffc0001080 t mod_fn2\t[ext4]\n";
    symbols::KernelSymbols table(path.string());
    ASSERT_TRUE(table.visible());
    ASSERT_EQ(table.size(), 6u);
    auto* one = table.find(0xffffffff81000110);
    ASSERT_TRUE(one);
    EXPECT_EQ(one->name, "do_one");
    EXPECT_EQ(one->module, "");
    auto* module = table.find(0xffffffffc0001010);
    ASSERT_TRUE(module);
    EXPECT_EQ(module->name, "mod_fn");
    EXPECT_EQ(module->module, "ext4");
    EXPECT_FALSE(table.find(0x1000)) << "below every symbol";
    EXPECT_FALSE(table.find(0xffffffffc0001080 + (1 << 20))) << "far past a module's last symbol";
    EXPECT_EQ(table.address_of("some_data"), 0xffffffff82000000);
    EXPECT_FALSE(table.address_of("missing"));
    std::filesystem::remove(path);
}

TEST(KernelSymbols, HiddenAddressesMeanNothingIsVisible) {
    const auto path =
        std::filesystem::temp_directory_path() / ("ct-kallsyms0-" + std::to_string(::getpid()));
    std::ofstream(path) << "0000000000000000 T _stext\n0000000000000000 T do_one\n";
    symbols::KernelSymbols table(path.string());
    EXPECT_FALSE(table.visible());
    EXPECT_FALSE(table.find(0xffffffff81000110));
    std::filesystem::remove(path);
    EXPECT_FALSE(symbols::KernelSymbols("/nonexistent").visible());
}
