#include "http_server.hpp"

#include "coretrace/error.hpp"
#include "coretrace/log.hpp"

#include <civetweb.h>
#include <cstring>
#include <fmt/format.h>

namespace coretrace::exporter {

namespace {

constexpr const char* content_type = "text/plain; version=0.0.4; charset=utf-8";

// The host part of ADDRESS:PORT, as written (brackets kept for IPv6).
std::string host_of(const std::string& listen) {
    const auto colon = listen.rfind(':');
    return colon == std::string::npos ? listen : listen.substr(0, colon);
}

} // namespace

HttpServer::HttpServer(const std::string& listen, Render metrics) : metrics_(std::move(metrics)) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size())
        throw Error(fmt::format("--listen: expected ADDRESS:PORT, not '{}'", listen));
    mg_init_library(0);
    const char* options[] = {
        "listening_ports", listen.c_str(),
        // Scrapes are small and quick; a few workers serve concurrent clients, and a client
        // that sends nothing (or half a request) is dropped after the timeout.
        "num_threads", "4", "request_timeout_ms", "10000", "enable_keep_alive", "no", nullptr};
    mg_callbacks callbacks{};
    char error_text[256] = "";
    mg_error_data error{};
    error.text = error_text;
    error.text_buffer_size = sizeof error_text;
    mg_init_data init{};
    init.callbacks = &callbacks;
    init.user_data = this;
    init.configuration_options = options;
    context_ = mg_start2(&init, &error);
    if (!context_) {
        mg_exit_library();
        throw Error(fmt::format("cannot listen on {}: {}", listen,
                                error_text[0] ? error_text : "civetweb failed to start"));
    }
    mg_set_request_handler(context_, "/metrics$", serve_metrics, this);

    mg_server_port ports[4]{};
    const int count = mg_get_server_ports(context_, 4, ports);
    const int port = count > 0 ? ports[0].port : 0;
    address_ = fmt::format("{}:{}", host_of(listen), port);
}

HttpServer::~HttpServer() {
    mg_stop(context_);
    mg_exit_library();
}

int HttpServer::serve_metrics(mg_connection* connection, void* self) {
    const mg_request_info* request = mg_get_request_info(connection);
    const bool head = std::strcmp(request->request_method, "HEAD") == 0;
    if (!head && std::strcmp(request->request_method, "GET") != 0) {
        mg_send_http_error(connection, 405, "Only GET and HEAD are served here.\n");
        return 405;
    }
    std::string body;
    try {
        body = static_cast<HttpServer*>(self)->metrics_();
    } catch (const std::exception& e) {
        log::debug("scrape failed: {}", e.what());
        mg_send_http_error(connection, 500, "Scrape failed: %s\n", e.what());
        return 500;
    }
    mg_send_http_ok(connection, content_type, static_cast<long long>(body.size()));
    if (!head)
        mg_write(connection, body.data(), body.size());
    return 200;
}

} // namespace coretrace::exporter
