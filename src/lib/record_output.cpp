// JSON Lines output of records.
#include "coretrace/record_output.hpp"

#include <cstdio>

namespace coretrace {

void write_json_record(const nlohmann::json& record) {
    std::string text = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
    std::fwrite(text.data(), 1, text.size(), stdout);
}

} // namespace coretrace
