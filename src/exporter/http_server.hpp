// The exporter's HTTP side on civetweb (Debian's libcivetweb-dev): GET /metrics answers with
// what `metrics` renders; everything else is a 404 (no files are served). civetweb's worker
// threads bound how many clients are served at once and its request timeout drops a client
// that stalls, so a slow or malformed client cannot block a scrape for long nor crash the
// exporter. Create it after StopSignals, so its threads inherit the blocked stop signals.
#pragma once

#include <functional>
#include <string>

struct mg_context;
struct mg_connection;

namespace coretrace::exporter {

class HttpServer {
  public:
    using Render = std::function<std::string()>;

    // `listen` is ADDRESS:PORT (127.0.0.1:9435, [::1]:9435; port 0: any free port). Throws
    // Error when it cannot listen there.
    HttpServer(const std::string& listen, Render metrics);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Where it listens, with the port it got: "127.0.0.1:9435".
    const std::string& address() const { return address_; }

  private:
    static int serve_metrics(mg_connection* connection, void* self);

    Render metrics_;
    mg_context* context_ = nullptr;
    std::string address_;
};

} // namespace coretrace::exporter
