// `coretrace bpf progs|maps|links`: what it reports about BPF objects this test made itself (a
// program and a pinned map created through the bpf(2) syscall) and about those of a tool it ran,
// against what the test knows: ids, names, sizes, the holding process and fd, the pin path.
#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"
#include "coretrace/clock.hpp"

#include <bpf/bpf.h>
#include <csignal>
#include <filesystem>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <string>
#include <unistd.h>

using namespace coretrace::test;

namespace {

// Runs `coretrace bpf ARGS... --json` and returns its records, after checking it succeeded.
std::vector<nlohmann::json> inventory(std::vector<std::string> args) {
    args.insert(args.begin(), {coretrace_binary(), "bpf"});
    args.push_back("--json");
    Completed done = run(args);
    EXPECT_EQ(done.code, 0) << done.err;
    EXPECT_EQ(done.err, "");
    return json_lines(done.out);
}

const nlohmann::json* with_id(const std::vector<nlohmann::json>& records, unsigned id) {
    for (const auto& record : records)
        if (record["id"] == id)
            return &record;
    return nullptr;
}

bool held_by_fd(const nlohmann::json& record, pid_t pid, int fd) {
    for (const auto& holder : record["holders"])
        if (holder["pid"] == pid && (fd < 0 || holder["fd"] == fd))
            return true;
    return false;
}

// A socket filter that accepts every packet: the smallest program the kernel loads.
int load_test_program(const char* name) {
    const struct bpf_insn accept_all[] = {
        // code, dst_reg, src_reg, off, imm
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, -1},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    return bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, name, "GPL", accept_all, 2, nullptr);
}

unsigned prog_id(int fd) {
    struct bpf_prog_info info {};
    __u32 size = sizeof info;
    return bpf_obj_get_info_by_fd(fd, &info, &size) == 0 ? info.id : 0;
}

unsigned map_id(int fd) {
    struct bpf_map_info info {};
    __u32 size = sizeof info;
    return bpf_obj_get_info_by_fd(fd, &info, &size) == 0 ? info.id : 0;
}

} // namespace

TEST(BpfInventory, ProgramOfThisProcessWithItsFd) {
    int fd = load_test_program("ct_inv_prog");
    ASSERT_GE(fd, 0) << "bpf_prog_load: " << errno;
    const unsigned id = prog_id(fd);
    ASSERT_NE(id, 0u);

    auto all = inventory({"progs"});
    const auto* prog = with_id(all, id);
    ASSERT_NE(prog, nullptr) << "program " << id << " missing from `bpf progs`";
    EXPECT_EQ((*prog)["kind"], "prog");
    EXPECT_EQ((*prog)["name"], "ct_inv_prog");
    EXPECT_EQ((*prog)["type"], "socket_filter");
    EXPECT_EQ((*prog)["bytes_xlated"], 2 * sizeof(struct bpf_insn));
    EXPECT_TRUE((*prog)["gpl_compatible"].get<bool>());
    EXPECT_TRUE(held_by_fd(*prog, ::getpid(), fd)) << prog->dump();

    auto one = inventory({"progs", std::to_string(id)});
    ASSERT_EQ(one.size(), 1u);
    // The load time is kept since boot and shown as wall time through the clocks' offset at
    // each run, which moves by a few nanoseconds between runs; the loaded program is recent.
    const auto loaded = [](const nlohmann::json& p) { return p["loaded_at_unix_ns"].get<long>(); };
    EXPECT_NEAR(loaded(one[0]), loaded(*prog), 1e6);
    EXPECT_NEAR(loaded(*prog), coretrace::unix_time_ns(), 60e9);
    auto same = one[0], expected = *prog;
    same.erase("loaded_at_unix_ns");
    expected.erase("loaded_at_unix_ns");
    EXPECT_EQ(same, expected);

    // The text form names the holder as `comm(pid) fd N`.
    Completed text = run({coretrace_binary(), "bpf", "progs", std::to_string(id)});
    EXPECT_EQ(text.code, 0);
    EXPECT_TRUE(text.out.starts_with(std::to_string(id) + ": socket_filter  name ct_inv_prog "))
        << text.out;
    EXPECT_NE(text.out.find("(" + std::to_string(::getpid()) + ") fd " + std::to_string(fd)),
              std::string::npos)
        << text.out;
    ::close(fd);
}

TEST(BpfInventory, PinnedMapShowsItsPathAndNoHolder) {
    const std::filesystem::path bpffs = "/sys/fs/bpf";
    const std::string pin = bpffs / ("coretrace-test-map-" + std::to_string(::getpid()));
    int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ct_inv_map", 4, 24, 7, nullptr);
    ASSERT_GE(fd, 0) << "bpf_map_create: " << errno;
    const unsigned id = map_id(fd);
    ASSERT_EQ(bpf_obj_pin(fd, pin.c_str()), 0) << "pin at " << pin << ": " << errno;
    ::close(fd); // only the pin keeps it now

    auto one = inventory({"maps", std::to_string(id)});
    ::unlink(pin.c_str());
    ASSERT_EQ(one.size(), 1u);
    const auto& map = one[0];
    EXPECT_EQ(map["name"], "ct_inv_map");
    EXPECT_EQ(map["type"], "array");
    EXPECT_EQ(map["bytes_key"], 4);
    EXPECT_EQ(map["bytes_value"], 24);
    EXPECT_EQ(map["max_entries"], 7);
    EXPECT_EQ(map["pinned"], nlohmann::json::array({pin})) << map.dump();
    EXPECT_TRUE(map["holders"].empty()) << map.dump();

    // Unpinned and closed, the map is freed: the inventory must not list it any more.
    EXPECT_TRUE(still_loaded({{}, {id}, {}}, std::chrono::seconds(3)).empty());
    Completed gone = run({coretrace_binary(), "bpf", "maps", std::to_string(id)});
    EXPECT_EQ(gone.code, 1);
    EXPECT_EQ(gone.err, "bpf: no BPF map with id " + std::to_string(id) + "\n");
}

TEST(BpfInventory, ATracingToolsProgramsMapsAndLinks) {
    Subprocess tool({coretrace_binary(), "cpudist", "10", "1"});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    ASSERT_FALSE(held.progs.empty());
    ASSERT_FALSE(held.links.empty());

    auto progs = inventory({"progs"});
    auto maps = inventory({"maps"});
    auto links = inventory({"links"});
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(), 0) << tool.err();

    for (unsigned id : held.progs) {
        const auto* prog = with_id(progs, id);
        ASSERT_NE(prog, nullptr) << "program " << id;
        EXPECT_TRUE(held_by_fd(*prog, tool.pid(), -1)) << prog->dump();
        EXPECT_TRUE((*prog)["name"].get<std::string>().starts_with("cpudist_")) << prog->dump();
        for (unsigned map : (*prog)["map_ids"])
            EXPECT_TRUE(held.maps.contains(map)) << "map " << map << " of " << prog->dump();
    }
    for (unsigned id : held.maps) {
        const auto* map = with_id(maps, id);
        ASSERT_NE(map, nullptr) << "map " << id;
        EXPECT_TRUE(held_by_fd(*map, tool.pid(), -1)) << map->dump();
    }
    for (unsigned id : held.links) {
        const auto* link = with_id(links, id);
        ASSERT_NE(link, nullptr) << "link " << id;
        EXPECT_TRUE(held.progs.contains((*link)["prog_id"].get<unsigned>())) << link->dump();
        EXPECT_NE((*link)["target"].get<std::string>().find("sched_switch"), std::string::npos)
            << link->dump();
        EXPECT_TRUE(held_by_fd(*link, tool.pid(), -1)) << link->dump();
    }
}

TEST(BpfInventory, BadInputIsOneLine) {
    struct Case {
        std::vector<std::string> args;
        int code;
    };
    for (const Case& c : {Case{{"progs", "999999999"}, 1}, Case{{"links", "999999999"}, 1},
                          Case{{"maps", "4294967295"}, 2}, Case{{"frobs"}, 2},
                          Case{{"maps", "x"}, 2}, Case{{}, 2}}) {
        std::vector<std::string> argv = {coretrace_binary(), "bpf"};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        Completed done = run(argv);
        EXPECT_EQ(done.code, c.code) << done.err;
        EXPECT_EQ(done.out, "");
        EXPECT_TRUE(done.err.starts_with("bpf: ")) << done.err;
        EXPECT_EQ(std::count(done.err.begin(), done.err.end(), '\n'), 1) << done.err;
    }
}
