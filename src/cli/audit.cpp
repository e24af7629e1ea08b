// `coretrace audit [--prog ID]... [--map ID]... [--all] [--json]`: the security view of the BPF
// objects on the machine, grouped by what needs a look (held by nobody, held by a deleted binary,
// risky helpers, attached to devices or cgroups, pinned); exit status 3 when anything does.
#include "commands.hpp"

#include "coretrace/bpf_audit.hpp"
#include "coretrace/bpf_inventory.hpp"
#include "coretrace/error.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <set>

namespace coretrace::cli {
namespace {

using namespace audit;
using nlohmann::json;

constexpr int exit_findings = 3;

const char* place_name(Place place) {
    switch (place) {
    case Place::netdev:
        return "netdev";
    case Place::cgroup:
        return "cgroup";
    case Place::other:
        break;
    }
    return "other";
}

json to_json(const ObjectReport& o) {
    json findings = json::array(), attachments = json::array(), holders = json::array(),
         pins = json::array();
    for (auto finding : o.findings)
        findings.push_back(finding_name(finding));
    for (const auto& a : o.attachments) {
        json line{{"hook", a.hook},
                  {"place", place_name(a.place)},
                  {"link_id", nullptr},
                  {"text", a.describe()}};
        if (a.link_id)
            line["link_id"] = *a.link_id;
        if (a.place == Place::netdev) {
            line["ifindex"] = a.ifindex.value_or(0);
            line["ifname"] = a.ifname;
            line["netns"] = a.netns;
        } else if (a.place == Place::cgroup) {
            line["cgroup_id"] = a.cgroup_id.value_or(0);
            line["cgroup_path"] = a.cgroup_path;
        } else {
            line["target"] = a.target;
        }
        attachments.push_back(std::move(line));
    }
    for (const auto& h : o.holders)
        holders.push_back({{"pid", h.holder.pid},
                           {"comm", h.holder.comm},
                           {"fd", h.holder.fd},
                           {"exe_deleted", h.holder.exe_deleted},
                           {"via", h.via}});
    for (const auto& pin : o.pins)
        pins.push_back({{"path", pin.path}, {"via", pin.via}});
    json line{{"kind", inventory::kind_name(o.kind)},
              {"id", o.id},
              {"type", o.type},
              {"name", o.name},
              {"lifetime", lifetime_name(o.lifetime)},
              {"lifetime_reason", o.lifetime_reason},
              {"findings", findings},
              {"attachments", attachments},
              {"holders", holders},
              {"pins", pins},
              {"note", o.note}};
    if (o.kind == inventory::Kind::prog) {
        line["risky_helpers"] = o.risky_helpers;
        line["kept_by_prog_arrays"] = o.kept_by;
    } else {
        line["used_by_progs"] = o.used_by;
    }
    return line;
}

// "1 map", "2 maps".
std::string count(std::size_t n, const char* noun) {
    return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}

// The object's line and its details, indented under a group heading.
std::string describe(const ObjectReport& o) {
    std::string out =
        fmt::format("  {} {}  {}  {}  {}: {}\n", inventory::kind_name(o.kind), o.id, o.type,
                    o.name.empty() ? "-" : o.name, lifetime_name(o.lifetime), o.lifetime_reason);
    for (const auto& a : o.attachments)
        out += fmt::format("      attached  {}\n", a.describe());
    for (const auto& h : o.holders)
        out += fmt::format("      held by   {}({}) fd {}{}{}\n", h.holder.comm, h.holder.pid,
                           h.holder.fd, h.holder.exe_deleted ? " [exe deleted]" : "",
                           h.via.empty() ? "" : " via " + h.via);
    for (const auto& pin : o.pins)
        out += fmt::format("      pinned    {}{}\n", pin.path,
                           pin.via.empty() ? "" : " (" + pin.via + ")");
    for (const auto& helper : o.risky_helpers)
        out += fmt::format("      calls     {} ({})\n", helper, risky_helper(helper));
    if (!o.kept_by.empty())
        out += fmt::format("      kept by   prog_array map {}\n", fmt::join(o.kept_by, ", "));
    if (!o.used_by.empty())
        out += fmt::format("      used by   prog {}\n", fmt::join(o.used_by, ", "));
    if (!o.note.empty())
        out += fmt::format("      note      {}\n", o.note);
    return out;
}

void print_text(const std::vector<const ObjectReport*>& objects, const Report& report, bool all) {
    std::string out;
    for (auto finding : all_findings) {
        std::string group;
        for (const auto* o : objects)
            if (o->has(finding))
                group += describe(*o);
        if (!group.empty())
            out += fmt::format("{}:\n{}\n", finding_why(finding), group);
    }
    if (all) {
        std::string group;
        for (const auto* o : objects)
            if (o->findings.empty())
                group += describe(*o);
        if (!group.empty())
            out += fmt::format("Nothing to look at:\n{}\n", group);
    }
    const auto flagged = std::count_if(objects.begin(), objects.end(),
                                       [](const ObjectReport* o) { return !o->findings.empty(); });
    const std::string counts =
        fmt::format("{} ({} short-lived, {} long-lived), {}, {}", count(report.programs, "program"),
                    report.programs - report.long_lived, report.long_lived,
                    count(report.maps, "map"), count(report.links, "link"));
    if (flagged)
        out += fmt::format("{} of {} audited need a look; loaded: {}\n", flagged,
                           count(objects.size(), "object"), counts);
    else
        out += fmt::format("nothing to look at among {} audited; loaded: {}\n",
                           count(objects.size(), "object"), counts);
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

int run(const std::vector<std::uint32_t>& progs, const std::vector<std::uint32_t>& maps, bool all,
        bool as_json) {
    if (!sys::has_capability(21 /* CAP_SYS_ADMIN */))
        throw Error("auditing BPF objects needs root (CAP_SYS_ADMIN)");
    const auto snapshot = inventory::take_snapshot({.helper_calls = true});
    const Report report = assess(snapshot, scan(snapshot));

    const std::set<std::uint32_t> wanted_progs(progs.begin(), progs.end()),
        wanted_maps(maps.begin(), maps.end());
    const bool filtered = !wanted_progs.empty() || !wanted_maps.empty();
    std::set<std::uint32_t> seen_progs, seen_maps;
    std::vector<const ObjectReport*> objects;
    for (const auto& o : report.objects) {
        if (filtered) {
            const bool is_prog = o.kind == inventory::Kind::prog;
            const auto& wanted = is_prog ? wanted_progs : wanted_maps;
            if (!wanted.contains(o.id))
                continue;
            (is_prog ? seen_progs : seen_maps).insert(o.id);
        }
        objects.push_back(&o);
    }
    for (auto id : wanted_progs)
        if (!seen_progs.contains(id))
            throw Error(fmt::format("no BPF program with id {}", id));
    for (auto id : wanted_maps)
        if (!seen_maps.contains(id))
            throw Error(fmt::format("no BPF map with id {}", id));

    for (const auto& note : report.notes)
        std::fprintf(stderr, "audit: %s\n", note.c_str());
    if (!report.helpers_checked)
        std::fputs("audit: helper calls could not be named (/proc/kallsyms hides addresses); "
                   "risky helpers were not checked\n",
                   stderr);

    bool any = false;
    for (const auto* o : objects) {
        any = any || !o->findings.empty();
        if (as_json && (all || !o->findings.empty()))
            write_json_record(to_json(*o));
    }
    if (!as_json)
        print_text(objects, report, all);
    std::fflush(stdout);
    return any ? exit_findings : 0;
}

} // namespace

int audit_main(int argc, char** argv) {
    CommonOptions common;
    std::vector<std::uint32_t> progs, maps;
    bool all = false;
    CLI::App app{
        "The security view of the BPF objects loaded here: every program classified as "
        "short-lived\n(dies with its holder) or long-lived (survives its loader); objects held by "
        "no process,\nheld by a process whose executable is deleted, pinned in bpffs, attached to "
        "network devices\nor cgroups (and where), and programs calling helpers that write user "
        "memory or send signals.\nExit status 3 when anything needs a look, 0 when nothing "
        "does.\n\n"
        "USAGE: coretrace audit [--prog ID]... [--map ID]... [--all] [--json]\n\n"
        "EXAMPLES:\n"
        "    coretrace audit              # what needs a look, grouped by why\n"
        "    coretrace audit --prog 42    # program 42 only\n"
        "    coretrace audit --all --json # every program and map, one JSON object per line",
        "audit"};
    app.add_option("--prog", progs, "Audit only this program (repeatable)")
        ->check(positive_integer);
    app.add_option("--map", maps, "Audit only this map (repeatable)")->check(positive_integer);
    app.add_flag("-a,--all", all, "Also show the objects with nothing to look at");
    add_common_options(app, common, false);
    return run_tool(app, argc, argv, common, [&] { return run(progs, maps, all, common.json); });
}

} // namespace coretrace::cli
