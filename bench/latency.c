/* latency.c: sequential keep-alive GETs against one URL, timed one by one.
 *
 * One libcurl easy handle, so every request after the first reuses the connection. Each request
 * is timed from curl_easy_perform's call to its return with CLOCK_MONOTONIC, the whole body
 * read (and thrown away, counted). With -z the request carries `Accept-Encoding: gzip` as a
 * plain header: libcurl does not decode, so what is timed is what a Prometheus scraper waits for
 * before its own decompression, and the byte count is what went over the wire.
 *
 * Prints one line of key=value pairs for bench/run: n, median_ms, p99_ms (nearest rank), mean_ms,
 * min_ms, max_ms, ttfb_ms (median time to first byte), bytes (of the last body), encoding (the
 * Content-Encoding answered, "identity" when none) and conns (connections opened, 1 when every
 * request was kept alive); with -s also samples=MS,MS,... (every measured request, in order), so
 * that bench/run can pool several short runs. Exits 1 on any transfer error or a status other
 * than 200.
 *
 * usage: latency [-n REQUESTS] [-w WARMUP] [-t MAX_SECONDS] [-m MIN] [-z] [-s] URL
 * MAX_SECONDS stops the measured loop early on slow servers, once MIN (default 20) requests
 * were measured. */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

struct transfer {
    size_t bytes;
    char encoding[32];
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    struct transfer *t = ctx;
    t->bytes += size * n;
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    struct transfer *t = ctx;
    size_t len = size * n;
    static const char key[] = "content-encoding:";
    if (len > sizeof(key) - 1 && strncasecmp(p, key, sizeof(key) - 1) == 0) {
        const char *v = p + sizeof(key) - 1;
        const char *end = p + len;
        while (v < end && (*v == ' ' || *v == '\t')) v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
        snprintf(t->encoding, sizeof(t->encoding), "%.*s", (int)(end - v), v);
    }
    return len;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One GET; returns 0, or -1 with the reason printed. */
static int fetch(CURL *c, struct transfer *t, double *secs, double *ttfb, long *conns)
{
    t->bytes = 0;
    strcpy(t->encoding, "identity");
    double t0 = now_s();
    CURLcode rc = curl_easy_perform(c);
    *secs = now_s() - t0;
    if (rc != CURLE_OK) {
        fprintf(stderr, "latency: %s\n", curl_easy_strerror(rc));
        return -1;
    }
    long status = 0, nc = 0;
    curl_off_t start = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &nc);
    curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME_T, &start);
    *conns += nc;
    *ttfb = (double)start / 1e6;
    if (status != 200) {
        fprintf(stderr, "latency: HTTP status %ld\n", status);
        return -1;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: latency [-n REQUESTS] [-w WARMUP] [-t MAX_SECONDS] [-m MIN] [-z] [-s] URL\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long n = 200, warmup = 20, min_n = 20;
    double max_s = 0;
    int gzip = 0, print_samples = 0, opt;
    while ((opt = getopt(argc, argv, "n:w:t:m:zs")) != -1) {
        switch (opt) {
        case 'n': n = atol(optarg); break;
        case 'w': warmup = atol(optarg); break;
        case 't': max_s = atof(optarg); break;
        case 'm': min_n = atol(optarg); break;
        case 'z': gzip = 1; break;
        case 's': print_samples = 1; break;
        default: usage();
        }
    }
    if (optind != argc - 1 || n < 1 || warmup < 0) usage();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *c = curl_easy_init();
    struct transfer t = {0};
    struct curl_slist *hdrs = NULL;
    if (gzip) hdrs = curl_slist_append(hdrs, "Accept-Encoding: gzip");
    curl_easy_setopt(c, CURLOPT_URL, argv[optind]);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);

    double *lat = malloc((size_t)n * sizeof(*lat)), *tfb = malloc((size_t)n * sizeof(*tfb));
    double *raw = malloc((size_t)n * sizeof(*raw));
    double secs, ttfb, sum = 0;
    long conns = 0, done = 0;
    int rc = 1;
    for (long i = 0; i < warmup; i++)
        if (fetch(c, &t, &secs, &ttfb, &conns) < 0) goto done;
    double t0 = now_s();
    for (; done < n; done++) {
        if (max_s > 0 && done >= min_n && now_s() - t0 > max_s) break;
        if (fetch(c, &t, &secs, &ttfb, &conns) < 0) goto done;
        lat[done] = raw[done] = secs * 1e3;
        tfb[done] = ttfb * 1e3;
        sum += secs * 1e3;
    }
    double med = median(lat, (size_t)done); /* sorts lat */
    size_t p99 = (size_t)ceil(0.99 * (double)done) - 1;
    printf("n=%ld median_ms=%.3f p99_ms=%.3f mean_ms=%.3f min_ms=%.3f max_ms=%.3f ttfb_ms=%.3f "
           "bytes=%zu encoding=%s conns=%ld",
           done, med, lat[p99], sum / (double)done, lat[0], lat[done - 1],
           median(tfb, (size_t)done), t.bytes, t.encoding, conns);
    for (long i = 0; print_samples && i < done; i++)
        printf("%s%.4f", i ? "," : " samples=", raw[i]);
    printf("\n");
    rc = 0;
done:
    free(lat);
    free(tfb);
    free(raw);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    curl_global_cleanup();
    return rc;
}
