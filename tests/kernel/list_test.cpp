// `coretrace list` against what the machine itself says: tracefs's available_events and format
// files, the kernel's BTF (through bpftool), and a fixture program of ours with a known function
// and known USDT probes (checked against readelf and nm), also found through a running process.
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <algorithm>
#include <fstream>
#include <gtest/gtest.h>
#include <regex>
#include <set>
#include <sstream>
#include <unistd.h>

using namespace coretrace::test;

namespace {

const std::string fixture = LIST_FIXTURE_BINARY;

Completed list(std::vector<std::string> args) {
    args.insert(args.begin(), {coretrace_binary(), "list"});
    return run(args, 30s);
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

const std::string tracefs = "/sys/kernel/tracing";

// "X" occurs in the output as a whole line.
bool has_line(const std::string& text, const std::string& line) {
    auto lines = lines_of(text);
    return std::find(lines.begin(), lines.end(), line) != lines.end();
}

// One error line on stderr, nothing on stdout.
void expect_one_error_line(const Completed& r, int code, const std::string& containing) {
    EXPECT_EQ(r.code, code) << r.out << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(containing), std::string::npos) << r.err;
}

} // namespace

TEST(List, AllTracepointsAreThoseOfTracefs) {
    auto r = list({"tracepoint:*"});
    ASSERT_EQ(r.code, 0) << r.err;
    std::set<std::string> expected;
    std::istringstream events(slurp(tracefs + "/available_events"));
    for (std::string line; std::getline(events, line);)
        expected.insert("tracepoint:" + line);
    auto lines = lines_of(r.out);
    std::set<std::string> got(lines.begin(), lines.end());
    EXPECT_EQ(got.size(), lines.size()) << "duplicates";
    EXPECT_EQ(got, expected);
    EXPECT_TRUE(got.contains("tracepoint:syscalls:sys_enter_openat"));
    // Sorted by category, then event.
    std::vector<std::pair<std::string, std::string>> names;
    for (const auto& line : lines) {
        auto colon = line.find(':', 11);
        names.emplace_back(line.substr(11, colon - 11), line.substr(colon + 1));
    }
    EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

TEST(List, TracepointPatternSelects) {
    auto r = list({"tracepoint:syscalls:*open*"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto lines = lines_of(r.out);
    EXPECT_TRUE(has_line(r.out, "tracepoint:syscalls:sys_enter_openat"));
    EXPECT_TRUE(has_line(r.out, "tracepoint:syscalls:sys_exit_open"));
    std::size_t expected = 0;
    std::istringstream events(slurp(tracefs + "/available_events"));
    for (std::string line; std::getline(events, line);)
        if (line.starts_with("syscalls:") && line.find("open", 9) != std::string::npos)
            expected++;
    EXPECT_EQ(lines.size(), expected);
    for (const auto& line : lines)
        EXPECT_TRUE(line.starts_with("tracepoint:syscalls:") &&
                    line.find("open", 20) != std::string::npos)
            << line;
}

TEST(List, VerboseTracepointShowsTheFormatFileFields) {
    const std::string format = slurp(tracefs + "/events/syscalls/sys_enter_openat/format");
    ASSERT_FALSE(format.empty());
    // The expected lines, straight from the format file: every non-common field's declaration.
    std::vector<std::string> expected{"tracepoint:syscalls:sys_enter_openat"};
    std::regex field(R"(field:([^;]*);)");
    for (std::sregex_iterator it(format.begin(), format.end(), field), end; it != end; ++it) {
        std::string declaration = (*it)[1];
        if (declaration.find(" common_") == std::string::npos)
            expected.push_back("    " + declaration);
    }
    ASSERT_GE(expected.size(), 5u);

    auto r = list({"-v", "tracepoint:syscalls:sys_enter_openat"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(lines_of(r.out), expected);
    EXPECT_TRUE(has_line(r.out, "    const char * filename"));
    EXPECT_TRUE(has_line(r.out, "    int flags"));

    auto j = list({"-v", "--json", "tracepoint:syscalls:sys_enter_openat"});
    ASSERT_EQ(j.code, 0) << j.err;
    auto records = json_lines(j.out);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0]["probe"], "tracepoint:syscalls:sys_enter_openat");
    EXPECT_EQ(records[0]["category"], "syscalls");
    EXPECT_EQ(records[0]["event"], "sys_enter_openat");
    auto fields = records[0]["fields"];
    ASSERT_EQ(fields.size(), expected.size() - 1);
    bool saw_filename = false;
    for (const auto& f : fields)
        if (f["name"] == "filename") {
            saw_filename = true;
            EXPECT_EQ(f["type"], "const char *");
            EXPECT_EQ(f["offset"], 24);
            EXPECT_EQ(f["size"], 8);
        }
    EXPECT_TRUE(saw_filename);
}

TEST(List, RawAndBtfTracepointsWithArguments) {
    if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0)
        GTEST_SKIP() << "kernel has no BTF";
    auto r = list({"-v", "tp_btf:sched_switch"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto lines = lines_of(r.out);
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines[0], "tp_btf:sched_switch");
    // The arguments from the prototype bpftool prints for btf_trace_sched_switch.
    auto proto = run({"/bin/sh", "-c",
                      "bpftool btf dump file /sys/kernel/btf/vmlinux format c | "
                      "grep 'btf_trace_sched_switch)'"});
    ASSERT_EQ(proto.code, 0) << proto.err;
    // e.g. "typedef void (*btf_trace_sched_switch)(void *, bool, struct task_struct *, ...);"
    std::string params = proto.out.substr(proto.out.find(")(") + 2);
    params = params.substr(0, params.rfind(')'));
    std::vector<std::string> types;
    std::istringstream split(params);
    for (std::string p; std::getline(split, p, ',');)
        types.push_back(p.substr(p.find_first_not_of(' ')));
    ASSERT_EQ(types.front(), "void *");
    ASSERT_EQ(lines.size(), types.size()) << r.out; // the name line replaces the data pointer
    for (std::size_t i = 1; i < types.size(); i++)
        EXPECT_TRUE(lines[i].starts_with("    " + types[i] + " "))
            << lines[i] << " vs " << types[i];
    EXPECT_TRUE(has_line(r.out, "    bool preempt"));
    EXPECT_TRUE(has_line(r.out, "    struct task_struct * prev"));
    EXPECT_TRUE(has_line(r.out, "    struct task_struct * next"));

    auto raw = list({"--json", "-v", "rawtracepoint:sched_switch"});
    ASSERT_EQ(raw.code, 0) << raw.err;
    auto records = json_lines(raw.out);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0]["probe"], "rawtracepoint:sched_switch");
    EXPECT_EQ(records[0]["args"][0]["name"], "preempt");
    EXPECT_EQ(records[0]["args"][0]["type"], "bool");
    EXPECT_EQ(records[0]["args"][1]["type"], "struct task_struct *");

    // Raw tracepoints are the kernel's tracepoints, not tracefs's syscall events.
    auto sys = list({"rawtracepoint:sys_enter*"});
    EXPECT_TRUE(has_line(sys.out, "rawtracepoint:sys_enter")) << sys.out;
    EXPECT_FALSE(has_line(sys.out, "rawtracepoint:sys_enter_openat"));
}

TEST(List, NoPatternListsTracepointsRawAndBtf) {
    auto r = list({});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(has_line(r.out, "tracepoint:syscalls:sys_enter_openat"));
    EXPECT_TRUE(has_line(r.out, "rawtracepoint:sched_switch"));
    if (::access("/sys/kernel/btf/vmlinux", R_OK) == 0) {
        EXPECT_TRUE(has_line(r.out, "tp_btf:sched_switch"));
    }
    // A pattern without a type matches whole names of every kind.
    auto whole = list({"*:sched_switch"});
    ASSERT_EQ(whole.code, 0) << whole.err;
    EXPECT_TRUE(has_line(whole.out, "tracepoint:sched:sched_switch"));
    EXPECT_TRUE(has_line(whole.out, "rawtracepoint:sched_switch"));
}

TEST(List, KprobeAndFentrySayWhyNot) {
    auto features = run({coretrace_binary(), "features", "--json"});
    ASSERT_EQ(features.code, 0);
    auto f = json_lines(features.out).at(0);
    if (f["mechanisms"]["kprobe"]["supported"] == true)
        GTEST_SKIP() << "this kernel allows kprobes";
    auto r = list({"kprobe:vfs_*"});
    expect_one_error_line(r, 1, "kprobe: not available on this kernel");
    if (f["mechanisms"]["fentry"]["supported"] != true) {
        auto fe = list({"fentry:vfs_read"});
        expect_one_error_line(fe, 1, "fentry: not available on this kernel");
    }
}

TEST(List, FixtureFunctionsMatchNm) {
    auto r = list({"uprobe:" + fixture + ":*known*"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(lines_of(r.out),
              std::vector<std::string>{"uprobe:" + fixture + ":coretrace_fixture_known_function"});

    auto nm =
        run({"/bin/sh", "-c", "nm " + fixture + " | grep ' T coretrace_fixture_known_function'"});
    ASSERT_EQ(nm.code, 0) << nm.err;
    std::uint64_t address = std::stoull(nm.out.substr(0, nm.out.find(' ')), nullptr, 16);
    auto j = list({"--json", "uprobe:" + fixture + ":coretrace_fixture_known_function"});
    ASSERT_EQ(j.code, 0) << j.err;
    auto records = json_lines(j.out);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0]["address"], address);
    EXPECT_EQ(records[0]["function"], "coretrace_fixture_known_function");
    EXPECT_EQ(records[0]["binding"], "global");
    EXPECT_GT(records[0]["size"].get<std::uint64_t>(), 0u);
    EXPECT_TRUE(records[0].contains("offset"));

    // The usual functions of a dynamically linked program are all there (main from .symtab).
    auto all = list({"uprobe:" + fixture});
    EXPECT_TRUE(has_line(all.out, "uprobe:" + fixture + ":main"));
    // A library by name, through ld.so.cache.
    auto libc = list({"uprobe:libc:malloc"});
    ASSERT_EQ(libc.code, 0) << libc.err;
    auto libc_lines = lines_of(libc.out);
    ASSERT_EQ(libc_lines.size(), 1u);
    EXPECT_TRUE(libc_lines[0].starts_with("uprobe:/") &&
                libc_lines[0].ends_with("libc.so.6:malloc"))
        << libc_lines[0];
}

TEST(List, FixtureUsdtProbesMatchReadelf) {
    auto r = list({"usdt:" + fixture + ":*"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(lines_of(r.out),
              (std::vector<std::string>{"usdt:" + fixture + ":coretrace_fixture:known_probe",
                                        "usdt:" + fixture + ":coretrace_fixture:other_probe"}));

    auto readelf = run({"/usr/bin/readelf", "-n", fixture});
    if (readelf.code != 0)
        GTEST_SKIP() << "no readelf to compare with";
    // "Name: known_probe\n    Location: 0x..., Base: 0x..., Semaphore: 0x...\n    Arguments: ..."
    std::regex note(R"(Name: known_probe\s+Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), )"
                    R"(Semaphore: (0x[0-9a-f]+)\s+Arguments: ([^\n]*))");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(readelf.out, m, note)) << readelf.out;
    auto j = list({"--json", "-v", "usdt:" + fixture + ":coretrace_fixture:known_probe"});
    ASSERT_EQ(j.code, 0) << j.err;
    auto records = json_lines(j.out);
    ASSERT_EQ(records.size(), 1u);
    const auto& p = records[0];
    EXPECT_EQ(p["provider"], "coretrace_fixture");
    EXPECT_EQ(p["name"], "known_probe");
    EXPECT_EQ(p["pc"], std::stoull(m[1], nullptr, 16)); // not prelinked: no adjustment
    EXPECT_EQ(p["base"], std::stoull(m[2], nullptr, 16));
    EXPECT_EQ(p["semaphore"], std::stoull(m[3], nullptr, 16));
    EXPECT_NE(p["semaphore"], 0);
    EXPECT_EQ(p["arguments"], std::string(m[4]));
    ASSERT_EQ(p["args"].size(), 2u); // STAP_PROBE2
    for (const auto& spec : p["args"])
        EXPECT_TRUE(std::regex_match(spec.get<std::string>(), std::regex(R"(-?[0-9]+@.+)")))
            << spec;

    auto text = list({"-v", "usdt:" + fixture + ":known_probe"});
    ASSERT_EQ(text.code, 0) << text.err;
    auto lines = lines_of(text.out);
    ASSERT_GE(lines.size(), 3u);
    EXPECT_EQ(lines[0], "usdt:" + fixture + ":coretrace_fixture:known_probe");
    EXPECT_EQ(lines[1], "    arg0: " + p["args"][0].get<std::string>());
    EXPECT_EQ(lines[2], "    arg1: " + p["args"][1].get<std::string>());
}

TEST(List, UsdtProbesOfARunningProcess) {
    Subprocess target({fixture, "wait"});
    ASSERT_TRUE(target.wait_for("ready", 10s)) << target.err();
    auto r = list({"usdt:*", "-p", std::to_string(target.pid())});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(has_line(r.out, "usdt:" + fixture + ":coretrace_fixture:known_probe")) << r.out;
    EXPECT_TRUE(has_line(r.out, "usdt:" + fixture + ":coretrace_fixture:other_probe"));
    // Only files the process maps: every listed file appears in its maps.
    std::string maps = slurp("/proc/" + std::to_string(target.pid()) + "/maps");
    for (const auto& line : lines_of(r.out)) {
        std::string path = line.substr(5, line.find(':', 5) - 5);
        EXPECT_NE(maps.find(path), std::string::npos) << path;
    }
    auto json = list({"--json", "usdt:*:*known*", "-p", std::to_string(target.pid())});
    ASSERT_EQ(json.code, 0) << json.err;
    auto records = json_lines(json.out);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0]["path"], fixture);
}

TEST(List, BadInput) {
    expect_one_error_line(list({"bogus:foo"}), 2, "unknown probe type 'bogus'");
    expect_one_error_line(list({"uprobe:/nonexistent/coretrace-file:*"}), 1,
                          "/nonexistent/coretrace-file");
    expect_one_error_line(list({"usdt:/etc/passwd:*"}), 1, "not an ELF file");
    expect_one_error_line(list({"uprobe:/etc/passwd"}), 1, "not an ELF file");
    expect_one_error_line(list({"usdt:*", "-p", "999999"}), 1, "no process with PID 999999");
    expect_one_error_line(list({"usdt:*"}), 2, "needs -p PID");
    expect_one_error_line(list({"tracepoint:syscalls:no_such_event_*"}), 1, "no probes match");
    expect_one_error_line(list({"usdt:" + fixture + ":nothing_here"}), 1, "no probes match");
    expect_one_error_line(list({"--no-such-flag"}), 2, "no-such-flag");
}
