// The kernel's classic tracepoints as tracefs lists them: their names (available_events, or the
// events/ directory) and the fields of each (its `format` file), for hook discovery.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace coretrace::tracefs {

struct EventName {
    std::string category, event;
    friend bool operator==(const EventName&, const EventName&) = default;
    friend auto operator<=>(const EventName&, const EventName&) = default;
};

// Every tracepoint under `root` (a tracefs mount point), sorted by category then event: read from
// root/available_events in one go, or by walking root/events/ when that file is unreadable.
// Throws Error when neither can be read.
std::vector<EventName> list_events(const std::string& root);

// One `field:` line of a format file, e.g. "field:const char * filename; offset:24; size:8;
// signed:0;".
struct Field {
    std::string declaration; // as written: "const char * filename", "char comm[16]"
    std::string type;        // the declaration without the name: "const char *", "char[16]"
    std::string name;        // "filename", "comm"
    unsigned offset = 0, size = 0;
    bool is_signed = false;
    bool common = false; // a common_* field every event has (bpftrace -lv omits them)
};

struct Format {
    std::string name; // the event's name line
    unsigned id = 0;  // its ID line (0 if absent)
    std::vector<Field> fields;
};

// Parses the text of an events/CATEGORY/EVENT/format file. Lines it does not know are skipped;
// throws Error when a field line is malformed.
Format parse_format(std::string_view text);
// Reads and parses root/events/CATEGORY/EVENT/format; throws Error (errno kept) if unreadable.
Format read_format(const std::string& root, const EventName& event);

// Splits a C declaration "const char * filename" / "char comm[16]" / "__data_loc char[] name"
// into its type ("const char *", "char[16]", "__data_loc char[]") and name.
void split_declaration(std::string_view declaration, std::string& type, std::string& name);

} // namespace coretrace::tracefs
