// Shell-style wildcards for hook names, as `bpftrace -l` takes them: `*` matches any run of
// characters (':' included), `?` any one character; everything else matches itself.
#pragma once

#include <string_view>

namespace coretrace {

bool wildcard_match(std::string_view pattern, std::string_view text);
// Whether `pattern` has a `*` or `?` (a literal name can be looked up instead of scanned for).
bool has_wildcard(std::string_view pattern);

} // namespace coretrace
