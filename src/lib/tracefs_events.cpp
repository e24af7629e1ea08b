// tracefs readers: available_events is one "category:event" per line (a single read for all
// 2000+ tracepoints, much cheaper than opening a directory per category), and a format file is
// a few "name:", "ID:" and "field:" lines followed by the print format.
#include "coretrace/tracefs_events.hpp"

#include "coretrace/error.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

namespace coretrace::tracefs {
namespace {

// Reads a whole (pseudo-)file; tracefs files report size 0, so read until EOF.
bool slurp(const std::string& path, std::string& out, int& err) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = errno;
        return false;
    }
    out.clear();
    char chunk[1 << 16];
    for (ssize_t n; (n = ::read(fd, chunk, sizeof(chunk))) != 0;) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            ::close(fd);
            return false;
        }
        out.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

std::vector<std::string> subdirectories(const std::string& path) {
    std::vector<std::string> names;
    DIR* dir = ::opendir(path.c_str());
    if (!dir)
        return names;
    while (const dirent* entry = ::readdir(dir)) {
        std::string_view name = entry->d_name;
        if (entry->d_type == DT_DIR && name != "." && name != "..")
            names.emplace_back(name);
    }
    ::closedir(dir);
    return names;
}

// "offset:24" -> 24; false if `item` is not `key:` followed by a number.
bool keyed_number(std::string_view item, std::string_view key, unsigned& value) {
    item = trim(item);
    if (!item.starts_with(key) || item.size() <= key.size() || item[key.size()] != ':')
        return false;
    item = trim(item.substr(key.size() + 1));
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    return ec == std::errc() && end == item.data() + item.size();
}

} // namespace

std::vector<EventName> list_events(const std::string& root) {
    std::vector<EventName> events;
    std::string text;
    int err = 0;
    if (slurp(root + "/available_events", text, err)) {
        std::string_view rest = text;
        while (!rest.empty()) {
            auto eol = rest.find('\n');
            std::string_view line = trim(rest.substr(0, eol));
            rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
            auto colon = line.find(':');
            if (colon == std::string_view::npos || colon == 0 || colon + 1 == line.size())
                continue;
            events.push_back(
                {std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))});
        }
    } else {
        std::string dir = root + "/events";
        if (::access(dir.c_str(), R_OK | X_OK) != 0)
            throw_system_error("reading tracepoints from " + root, err);
        for (auto& category : subdirectories(dir))
            for (auto& event : subdirectories(dir + "/" + category))
                events.push_back({category, std::move(event)});
    }
    std::sort(events.begin(), events.end());
    events.erase(std::unique(events.begin(), events.end()), events.end());
    return events;
}

void split_declaration(std::string_view declaration, std::string& type, std::string& name) {
    declaration = trim(declaration);
    std::string_view array;
    if (auto bracket = declaration.find('['); bracket != std::string_view::npos &&
                                              declaration.back() == ']' &&
                                              !declaration.substr(0, bracket).ends_with(' ')) {
        // "char comm[16]": the subscript belongs to the type. ("__data_loc char[] name" has its
        // brackets before the name, so it is handled as a plain declaration below.)
        auto last_space = declaration.substr(0, bracket).find_last_of(" *");
        if (last_space != std::string_view::npos) {
            array = declaration.substr(bracket);
            declaration = declaration.substr(0, bracket);
        }
    }
    auto cut = declaration.find_last_of(" *");
    if (cut == std::string_view::npos) {
        type.clear();
        name = declaration;
    } else {
        name = declaration.substr(cut + 1);
        type = trim(declaration.substr(0, cut + 1));
    }
    type += array;
}

Format parse_format(std::string_view text) {
    Format format;
    while (!text.empty()) {
        auto eol = text.find('\n');
        std::string_view line = trim(text.substr(0, eol));
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        if (line.starts_with("name:")) {
            format.name = trim(line.substr(5));
        } else if (line.starts_with("ID:")) {
            keyed_number(line, "ID", format.id);
        } else if (line.starts_with("field:")) {
            // field:DECL;\toffset:N;\tsize:N;\tsigned:N;
            std::vector<std::string_view> items;
            for (std::string_view rest = line; !rest.empty();) {
                auto semi = rest.find(';');
                items.push_back(trim(rest.substr(0, semi)));
                rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
            }
            Field field;
            unsigned is_signed = 0;
            if (items.size() < 3 || !keyed_number(items[1], "offset", field.offset) ||
                !keyed_number(items[2], "size", field.size) ||
                (items.size() > 3 && !items[3].empty() &&
                 !keyed_number(items[3], "signed", is_signed)))
                throw Error("malformed tracepoint format line: " + std::string(line));
            field.declaration = trim(items[0].substr(6));
            field.is_signed = is_signed != 0;
            split_declaration(field.declaration, field.type, field.name);
            if (field.name.empty())
                throw Error("malformed tracepoint format line: " + std::string(line));
            field.common = field.name.starts_with("common_");
            format.fields.push_back(std::move(field));
        } else if (line.starts_with("print fmt:")) {
            break;
        }
    }
    return format;
}

Format read_format(const std::string& root, const EventName& event) {
    std::string path = root + "/events/" + event.category + "/" + event.event + "/format";
    std::string text;
    int err = 0;
    if (!slurp(path, text, err))
        throw_system_error("reading " + path, err);
    return parse_format(text);
}

} // namespace coretrace::tracefs
