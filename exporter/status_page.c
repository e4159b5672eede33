/* status_page.c: the page at / (see status_page.h). */
#include "status_page.h"

#include "buf.h"
#include "http_server.h"
#include "log.h"

void status_page_put_html(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': (void)buf_puts(b, "&lt;"); break;
        case '>': (void)buf_puts(b, "&gt;"); break;
        case '&': (void)buf_puts(b, "&amp;"); break;
        case '"': (void)buf_puts(b, "&quot;"); break;
        default: (void)buf_putc(b, *s);
        }
    }
}

static void route_index(void *ctx, const struct http_request *req, struct http_reply *rep)
{
    (void)req;
    const struct status_page_info *info = ctx;
    rep->content_type = "text/html; charset=utf-8";
    (void)buf_printf(&rep->body,
                     "<!doctype html><html><head><title>drwatch</title></head><body>\n"
                     "<h1>drwatch %s</h1>\n<p>Site <b>",
                     DRWATCH_VERSION);
    status_page_put_html(&rep->body, *info->site ? *info->site : "");
    (void)buf_puts(&rep->body, "</b>, config <code>");
    status_page_put_html(&rep->body, info->config_path);
    (void)buf_puts(&rep->body, "</code>.</p>\n"
                               "<ul><li><a href=\"/metrics\">/metrics</a></li>\n"
                               "<li><a href=\"/-/healthy\">/-/healthy</a></li>\n"
                               "<li><a href=\"/-/ready\">/-/ready</a></li></ul>\n");
    for (size_t i = 0; i < info->nsections; i++) {
        const struct status_section *sec = &info->sections[i];
        (void)buf_puts(&rep->body, "<h2>");
        status_page_put_html(&rep->body, sec->title);
        (void)buf_puts(&rep->body, "</h2>\n");
        sec->render(sec->arg, &rep->body);
    }
    (void)buf_puts(&rep->body, "</body></html>\n");
}

void status_page_add_section(struct status_page_info *info, const struct status_section *s)
{
    if (info->nsections == STATUS_SECTIONS_MAX) {
        log_error("http", "status page: no room for section %s", s->title);
        return;
    }
    info->sections[info->nsections++] = *s;
}

void status_page_add_route(struct http_server *s, const struct status_page_info *info)
{
    http_route_add(s, &(struct http_route){.path = "/",
                                           .methods = "GET,HEAD",
                                           .stat = HANDLER_STATUS_PAGE,
                                           .flags = HTTP_ON_LOOP,
                                           .fn = route_index,
                                           .ctx = (void *)info});
}
