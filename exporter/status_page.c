/* status_page.c: the page at / (see status_page.h): what an on-call person opens first. Plain
 * HTML and a little inline CSS, no script and no outside asset, readable on a phone (a viewport
 * meta, tables that scroll sideways on their own), refreshing itself every
 * STATUS_PAGE_REFRESH_S seconds. The parts' sections (switchover, alerts) come after the
 * header, then the targets' health (status_targets.c). */
#include "status_page.h"

#include "buf.h"
#include "http_server.h"
#include "log.h"

#define STATUS_PAGE_REFRESH_S 5

static const char css[] =
    "body{font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;"
    "max-width:60em;padding:0 .8em 2em;color:#1b1f24;background:#fff}"
    "h1{font-size:1.3em;margin:.6em 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em;"
    "border-bottom:1px solid #d0d7de}"
    ".scroll{overflow-x:auto}table{border-collapse:collapse;margin:.3em 0}"
    "th,td{border:1px solid #d0d7de;padding:.2em .45em;text-align:left;vertical-align:top}"
    "th{background:#f3f5f7}code{font-size:.92em;word-break:break-all}"
    ".ok{color:#116329;font-weight:600}.bad{color:#b42318;font-weight:600}"
    ".warn{color:#9a6700;font-weight:600}.muted{color:#59636e}"
    "nav a{margin-right:.8em}";

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

static void head(struct buf *b, const struct status_page_info *info)
{
    const char *site = *info->site ? *info->site : "";
    (void)buf_puts(b, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
                      "<link rel=\"icon\" href=\"data:,\">\n"); /* no /favicon.ico request */
    (void)buf_printf(b, "<meta http-equiv=\"refresh\" content=\"%d\">\n<title>drwatch ",
                     STATUS_PAGE_REFRESH_S);
    status_page_put_html(b, site);
    (void)buf_printf(b, "</title>\n<style>%s</style></head><body>\n<h1>drwatch ", css);
    status_page_put_html(b, site);
    (void)buf_printf(b, "</h1>\n<p class=\"muted\">Version %s, config <code>", DRWATCH_VERSION);
    status_page_put_html(b, info->config_path);
    (void)buf_printf(b, "</code>; this page refreshes every %d s.</p>\n", STATUS_PAGE_REFRESH_S);
    (void)buf_puts(b, "<nav><a href=\"/metrics\">/metrics</a><a href=\"/api/v1/state\">state</a>"
                      "<a href=\"/api/v1/alerts\">alerts</a><a href=\"/-/healthy\">healthy</a>"
                      "<a href=\"/-/ready\">ready</a></nav>\n");
}

static void route_index(void *ctx, const struct http_request *req, struct http_reply *rep)
{
    (void)req;
    const struct status_page_info *info = ctx;
    rep->content_type = "text/html; charset=utf-8";
    head(&rep->body, info);
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
