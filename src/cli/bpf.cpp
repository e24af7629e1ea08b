// `coretrace bpf progs|maps|links [ID]`: the BPF objects loaded on the machine, as `bpftool
// prog/map/link show` describes them, plus who holds each (pid, comm, fd) and where it is pinned.
#include "commands.hpp"

#include "coretrace/bpf_inventory.hpp"
#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"

#include <ctime>
#include <fmt/format.h>
#include <optional>

namespace coretrace::cli {
namespace {

using namespace inventory;
using nlohmann::json;

// "2026-11-25T20:01:02+0000", as bpftool prints loaded_at.
std::string iso_time(std::int64_t unix_ns) {
    std::time_t seconds = static_cast<std::time_t>(unix_ns / 1000000000);
    std::tm local{};
    localtime_r(&seconds, &local);
    char text[40];
    std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S%z", &local);
    return text;
}

json holders_json(const Common& object) {
    json holders = json::array();
    for (const auto& h : object.holders)
        holders.push_back(
            {{"pid", h.pid}, {"comm", h.comm}, {"fd", h.fd}, {"exe_deleted", h.exe_deleted}});
    return holders;
}

// The lines every kind ends with: holders and pins.
std::string holder_lines(const Common& object) {
    std::string out;
    if (!object.holders.empty()) {
        out += "\theld by";
        for (const auto& h : object.holders)
            out += fmt::format(" {}({}) fd {}{}", h.comm, h.pid, h.fd,
                               h.exe_deleted ? " [exe deleted]" : "");
        out += '\n';
    }
    for (const auto& pin : object.pins)
        out += fmt::format("\tpinned {}\n", pin);
    return out;
}

std::string join_ids(const std::vector<std::uint32_t>& ids) {
    std::string out;
    for (auto id : ids)
        out += (out.empty() ? "" : ",") + std::to_string(id);
    return out;
}

void print(const Program& p, bool as_json) {
    if (as_json) {
        write_json_record({{"kind", "prog"},
                           {"id", p.id},
                           {"type", p.type},
                           {"name", p.name},
                           {"tag", p.tag},
                           {"gpl_compatible", p.gpl},
                           {"loaded_at_unix_ns", p.loaded_at_unix_ns},
                           {"uid", p.uid},
                           {"bytes_xlated", p.xlated_bytes},
                           {"bytes_jited", p.jited_bytes},
                           {"bytes_memlock", p.memlock},
                           {"map_ids", p.map_ids},
                           {"btf_id", p.btf_id},
                           {"run_time_ns", p.run_time_ns},
                           {"run_cnt", p.run_count},
                           {"recursion_misses", p.recursion_misses},
                           {"holders", holders_json(p)},
                           {"pinned", p.pins}});
        return;
    }
    std::string out = fmt::format("{}: {}  name {}  tag {}{}\n", p.id, p.type,
                                  p.name.empty() ? "-" : p.name, p.tag, p.gpl ? "  gpl" : "");
    out += fmt::format("\tloaded_at {}  uid {}\n", iso_time(p.loaded_at_unix_ns), p.uid);
    out += fmt::format("\txlated {}B  jited {}B  memlock {}B", p.xlated_bytes, p.jited_bytes,
                       p.memlock);
    if (!p.map_ids.empty())
        out += "  map_ids " + join_ids(p.map_ids);
    out += '\n';
    if (p.btf_id)
        out += fmt::format("\tbtf_id {}\n", p.btf_id);
    if (p.run_count)
        out += fmt::format("\trun_time_ns {}  run_cnt {}\n", p.run_time_ns, p.run_count);
    out += holder_lines(p);
    std::fputs(out.c_str(), stdout);
}

void print(const Map& m, bool as_json) {
    if (as_json) {
        write_json_record({{"kind", "map"},
                           {"id", m.id},
                           {"type", m.type},
                           {"name", m.name},
                           {"flags", m.flags},
                           {"bytes_key", m.key_size},
                           {"bytes_value", m.value_size},
                           {"max_entries", m.max_entries},
                           {"bytes_memlock", m.memlock},
                           {"btf_id", m.btf_id},
                           {"frozen", m.frozen},
                           {"holders", holders_json(m)},
                           {"pinned", m.pins}});
        return;
    }
    std::string out = fmt::format("{}: {}  name {}  flags {:#x}\n", m.id, m.type,
                                  m.name.empty() ? "-" : m.name, m.flags);
    out += fmt::format("\tkey {}B  value {}B  max_entries {}  memlock {}B", m.key_size,
                       m.value_size, m.max_entries, m.memlock);
    if (m.btf_id)
        out += fmt::format("\n\tbtf_id {}", m.btf_id);
    if (m.frozen)
        out += "  frozen";
    out += '\n';
    out += holder_lines(m);
    std::fputs(out.c_str(), stdout);
}

void print(const Link& l, bool as_json) {
    if (as_json) {
        json line{{"kind", "link"},
                  {"id", l.id},
                  {"type", l.type},
                  {"prog_id", l.prog_id},
                  {"attach_type", l.attach_type},
                  {"target", l.target},
                  {"holders", holders_json(l)},
                  {"pinned", l.pins}};
        if (l.ifindex)
            line["ifindex"] = *l.ifindex;
        if (l.cgroup_id) {
            line["cgroup_id"] = *l.cgroup_id;
            line["cgroup_path"] = l.cgroup_path;
        }
        write_json_record(line);
        return;
    }
    std::string out = fmt::format("{}: {}  prog {}", l.id, l.type, l.prog_id);
    if (!l.attach_type.empty())
        out += "  attach_type " + l.attach_type;
    out += '\n';
    if (!l.target.empty())
        out += fmt::format("\t{}\n", l.target);
    out += holder_lines(l);
    std::fputs(out.c_str(), stdout);
}

template <typename Record>
int show(const std::vector<Record>& records, std::optional<std::uint32_t> id, const char* what,
         bool as_json) {
    bool found = false;
    for (const auto& record : records) {
        if (id && record.id != *id)
            continue;
        print(record, as_json);
        found = true;
    }
    std::fflush(stdout);
    if (id && !found)
        throw Error(fmt::format("no BPF {} with id {}", what, *id));
    return 0;
}

} // namespace

int bpf_main(int argc, char** argv) {
    CommonOptions common;
    std::string what;
    std::optional<std::uint32_t> id;
    CLI::App app{
        "The BPF programs, maps and links loaded on this machine, as `bpftool prog/map/link "
        "show`\ndescribes them, plus the processes holding each (pid, comm, fd) and the "
        "bpffs paths pinning it.\n\n"
        "USAGE: coretrace bpf progs|maps|links [ID] [--json]\n\n"
        "EXAMPLES:\n"
        "    coretrace bpf progs          # every loaded program\n"
        "    coretrace bpf maps 42        # map 42 only\n"
        "    coretrace bpf links --json   # every link, one JSON object per line",
        "bpf"};
    app.add_option("what", what, "progs, maps or links")
        ->required()
        ->check(CLI::IsMember({"progs", "maps", "links", "prog", "map", "link"}));
    app.add_option("id", id, "Only the object with this id")->check(positive_integer);
    add_common_options(app, common, false);
    return run_tool(app, argc, argv, common, [&] {
        if (!sys::has_capability(21 /* CAP_SYS_ADMIN */))
            throw Error("listing BPF objects needs root (CAP_SYS_ADMIN)");
        const auto snapshot = take_snapshot();
        switch (what[0]) {
        case 'p':
            return show(snapshot.programs, id, "program", common.json);
        case 'm':
            return show(snapshot.maps, id, "map", common.json);
        default:
            return show(snapshot.links, id, "link", common.json);
        }
    });
}

} // namespace coretrace::cli
