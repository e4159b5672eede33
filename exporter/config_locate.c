/* config_locate.c: finds the line where a key of the config is written.
 *
 * Lua tables do not remember where their fields came from, so after a value is refused we
 * look for it in the source: a small tokenizer (comments, strings with their escapes, long
 * brackets, names, numbers, punctuation; line breaks counted as Lua counts them) and a walk
 * over the top-level assignments and table constructors that follows the key path. Later
 * assignments win, as in Lua, and `section.key = value` statements count too. It handles
 * literal configs, which is what people write; for a computed value it finds nothing (or the
 * enclosing table) and the caller falls back to a shorter path. config_verror puts the line
 * and the dotted path in front of a message: every config refusal reads the same. */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "xalloc.h"

#define LOOKAHEAD 4 /* EOF tokens after the last, so that toks[i + 3] is always readable */

enum tok_kind { T_NAME, T_STRING, T_NUMBER, T_PUNCT, T_EOF };

struct tok {
    enum tok_kind kind;
    bool long_str; /* T_STRING from [[...]]: no escapes */
    const char *p; /* for T_STRING, the text between the delimiters */
    size_t len;
    unsigned line;
};

struct scan {
    struct tok *toks;
    size_t n, cap;
};

static void push(struct scan *s, enum tok_kind k, const char *p, size_t len, unsigned line)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->toks = xrealloc(s->toks, s->cap * sizeof(*s->toks));
    }
    s->toks[s->n++] = (struct tok){.kind = k, .p = p, .len = len, .line = line};
}

static bool is_newline(char c)
{
    return c == '\n' || c == '\r';
}

/* Past one line break at p: "\n", "\r", "\r\n" or "\n\r", as Lua's lexer counts them. */
static const char *skip_newline(const char *p, const char *end, unsigned *line)
{
    char first = *p++;
    if (p < end && is_newline(*p) && *p != first) p++;
    (*line)++;
    return p;
}

/* Length of a long bracket opener "[==[" at p, or 0. */
static size_t long_open(const char *p, const char *end, size_t *level)
{
    if (p >= end || *p != '[') return 0;
    const char *q = p + 1;
    while (q < end && *q == '=') q++;
    if (q >= end || *q != '[') return 0;
    *level = (size_t)(q - p - 1);
    return (size_t)(q - p + 1);
}

/* Past the closing bracket of level `level`; *text_end is where the content ends. */
static const char *skip_long(const char *p, const char *end, size_t level, unsigned *line,
                             const char **text_end)
{
    while (p < end) {
        if (is_newline(*p)) {
            p = skip_newline(p, end, line);
            continue;
        }
        if (*p++ != ']') continue;
        const char *q = p;
        while (q < end && *q == '=') q++;
        if (q < end && *q == ']' && (size_t)(q - p) == level) {
            *text_end = p - 1;
            return q + 1;
        }
    }
    *text_end = end;
    return end;
}

/* A quoted string from its opening quote at p; pushes its text (escapes left as written). */
static const char *scan_quoted(struct scan *s, const char *p, const char *end, unsigned *line)
{
    char quote = *p++;
    const char *st = p;
    unsigned l0 = *line;
    while (p < end && *p != quote && !is_newline(*p)) {
        if (*p != '\\' || p + 1 >= end) {
            p++;
            continue;
        }
        p++;
        if (is_newline(*p)) {
            p = skip_newline(p, end, line);
        } else if (*p == 'z') { /* skips the white space that follows, line breaks too */
            p++;
            while (p < end && isspace((unsigned char)*p))
                p = is_newline(*p) ? skip_newline(p, end, line) : p + 1;
        } else {
            p++;
        }
    }
    push(s, T_STRING, st, (size_t)(p - st), l0);
    return p < end && *p == quote ? p + 1 : p;
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static const char *scan_number(const char *p, const char *end)
{
    bool hex = end - p > 1 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
    if (hex) p += 2;
    while (p < end) {
        char c = *p;
        if (hex ? (c == 'p' || c == 'P') : (c == 'e' || c == 'E')) {
            p++;
            if (p < end && (*p == '+' || *p == '-')) p++;
        } else if (isxdigit((unsigned char)c) || c == '.') {
            p++;
        } else {
            break;
        }
    }
    return p;
}

static void tokenize(struct scan *s, const char *p, const char *end)
{
    unsigned line = 1;
    size_t level, ol;
    while (p < end) {
        char c = *p;
        if (is_newline(c)) {
            p = skip_newline(p, end, &line);
        } else if (c == ' ' || c == '\t' || c == '\f' || c == '\v') {
            p++;
        } else if (c == '-' && p + 1 < end && p[1] == '-') {
            const char *text_end;
            p += 2;
            ol = long_open(p, end, &level);
            if (ol)
                p = skip_long(p + ol, end, level, &line, &text_end);
            else
                while (p < end && !is_newline(*p)) p++;
        } else if (c == '"' || c == '\'') {
            p = scan_quoted(s, p, end, &line);
        } else if ((ol = long_open(p, end, &level))) {
            const char *st = p + ol, *text_end;
            unsigned l0 = line;
            p = skip_long(st, end, level, &line, &text_end);
            push(s, T_STRING, st, (size_t)(text_end - st), l0);
            s->toks[s->n - 1].long_str = true;
        } else if (isalpha((unsigned char)c) || c == '_') {
            const char *st = p;
            while (p < end && is_name_char(*p)) p++;
            push(s, T_NAME, st, (size_t)(p - st), line);
        } else if (isdigit((unsigned char)c) ||
                   (c == '.' && p + 1 < end && isdigit((unsigned char)p[1]))) {
            const char *st = p;
            p = scan_number(p, end);
            push(s, T_NUMBER, st, (size_t)(p - st), line);
        } else {
            /* "==", "~=", "<=", ">=" are one token so that "=" means assignment. */
            size_t len = (p + 1 < end && p[1] == '=' && strchr("=~<>", c)) ? 2 : 1;
            push(s, T_PUNCT, p, len, line);
            p += len;
        }
    }
    for (int i = 0; i < LOOKAHEAD; i++) push(s, T_EOF, end, 0, line);
}

static bool is_punct(const struct tok *t, char c)
{
    return t->kind == T_PUNCT && t->len == 1 && t->p[0] == c;
}

static bool tok_is(const struct tok *t, const char *s)
{
    return t->kind == T_NAME && t->len == strlen(s) && memcmp(t->p, s, t->len) == 0;
}

/* Tokens that open or close a nesting level: brackets and block keywords. */
static bool tok_opens(const struct tok *t)
{
    return is_punct(t, '{') || is_punct(t, '(') || is_punct(t, '[') || tok_is(t, "function") ||
           tok_is(t, "do") || tok_is(t, "if") || tok_is(t, "repeat");
}

static bool tok_closes(const struct tok *t)
{
    return is_punct(t, '}') || is_punct(t, ')') || is_punct(t, ']') || tok_is(t, "end") ||
           tok_is(t, "until");
}

/* ---- comparing a written key with a path component ---- */

static int hex_value(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

/* Decodes the next character of a quoted string's text at *pp; -1 at its end, -2 for an
 * escape this does not read (the key is then not compared). */
static int next_char(const char **pp, const char *end, unsigned char *utf, int *nutf)
{
    static const char esc_from[] = "abfnrtv\\\"'", esc_to[] = "\a\b\f\n\r\t\v\\\"'";
    const char *p = *pp;
    if (*nutf > 0) return utf[--(*nutf)];
    /* \z skips the white space after it, possibly up to another \z. */
    while (end - p > 1 && p[0] == '\\' && p[1] == 'z')
        for (p += 2; p < end && isspace((unsigned char)*p);) p++;
    *pp = p;
    if (p >= end) return -1;
    if (*p != '\\' || p + 1 >= end) {
        *pp = p + 1;
        return (unsigned char)*p;
    }
    char e = *++p;
    const char *hit = e ? strchr(esc_from, e) : NULL;
    if (hit) {
        *pp = p + 1;
        return (unsigned char)esc_to[hit - esc_from];
    }
    if (is_newline(e)) {
        unsigned ignored = 0;
        *pp = skip_newline(p, end, &ignored);
        return '\n';
    }
    if (e == 'x' && end - p > 2 && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
        *pp = p + 3;
        return hex_value(p[1]) * 16 + hex_value(p[2]);
    }
    if (isdigit((unsigned char)e)) {
        int v = 0, n = 0;
        while (n < 3 && p < end && isdigit((unsigned char)*p)) v = v * 10 + (*p++ - '0'), n++;
        *pp = p;
        return v <= 255 ? v : -2;
    }
    if (e == 'u' && p + 1 < end && p[1] == '{') {
        unsigned long cp = 0;
        for (p += 2; p < end && isxdigit((unsigned char)*p) && cp < 0x80000000UL; p++)
            cp = cp * 16 + (unsigned long)hex_value(*p);
        if (p >= end || *p != '}' || cp >= 0x80000000UL) return -2;
        *pp = p + 1;
        if (cp < 0x80) return (int)cp;
        /* UTF-8 as Lua writes it (up to 6 bytes); continuation bytes are stored last first. */
        unsigned long mfb = 0x3f; /* the largest value that still fits in the first byte */
        *nutf = 0;
        do {
            utf[(*nutf)++] = (unsigned char)(0x80 | (cp & 0x3f));
            cp >>= 6;
            mfb >>= 1;
        } while (cp > mfb);
        return (int)((~mfb << 1 | cp) & 0xff);
    }
    return -2;
}

/* Whether string token t holds exactly want. */
static bool string_equals(const struct tok *t, const char *want)
{
    const char *p = t->p, *end = t->p + t->len;
    if (t->long_str) {
        if (p < end && is_newline(*p)) { /* a first line break is not part of the text */
            unsigned ignored = 0;
            p = skip_newline(p, end, &ignored);
        }
        size_t n = strlen(want);
        return (size_t)(end - p) == n && memcmp(p, want, n) == 0;
    }
    unsigned char utf[8] = {0};
    int nutf = 0;
    for (;;) {
        int c = next_char(&p, end, utf, &nutf);
        if (c == -2) return false;
        if (c == -1) return *want == '\0';
        if (*want == '\0' || (unsigned char)*want++ != c) return false;
    }
}

static bool name_equals(const struct tok *t, const char *want)
{
    return t->kind == T_NAME && strlen(want) == t->len && memcmp(t->p, want, t->len) == 0;
}

/* Whether the single token between [ and ] is the key want ("name", or "[1]", "[true]"). */
static bool bracket_key_equals(const struct tok *t, const char *want)
{
    char key[80];
    if (t->kind == T_STRING) return string_equals(t, want);
    if (t->kind == T_NAME && (tok_is(t, "true") || tok_is(t, "false")))
        return snprintf(key, sizeof(key), "[%.*s]", (int)t->len, t->p) > 0 &&
               strcmp(key, want) == 0;
    if (t->kind != T_NUMBER || t->len >= 64) return false;
    char num[64];
    memcpy(num, t->p, t->len);
    num[t->len] = '\0';
    char *rest;
    double v = strtod(num, &rest);
    if (*rest) return false;
    /* Lua turns float keys with an integer value into integers. */
    if (v > -9.2e18 && v < 9.2e18 && v == (double)(long long)v)
        snprintf(key, sizeof(key), "[%lld]", (long long)v);
    else
        snprintf(key, sizeof(key), "[%.14g]", v);
    return strcmp(key, want) == 0;
}

/* ---- walking the token stream ---- */

/* From an opening token at i, the index of its closing one (or of EOF). */
static size_t skip_nested(const struct scan *s, size_t i)
{
    long depth = 0;
    for (; s->toks[i].kind != T_EOF; i++) {
        if (tok_opens(&s->toks[i]))
            depth++;
        else if (tok_closes(&s->toks[i]) && --depth == 0)
            return i;
    }
    return i;
}

/* Skips one field value: up to a ',' or ';' or a closing token at the same depth. */
static size_t skip_value(const struct scan *s, size_t i)
{
    long depth = 0;
    for (; s->toks[i].kind != T_EOF; i++) {
        const struct tok *t = &s->toks[i];
        if (tok_opens(t)) {
            depth++;
        } else if (tok_closes(t)) {
            if (depth == 0) return i;
            depth--;
        } else if (depth == 0 && (is_punct(t, ',') || is_punct(t, ';'))) {
            return i;
        }
    }
    return i;
}

/* In the table constructor whose '{' is at i, the line of the last field named path[0] (or of
 * path[1...] inside it); 0 if there is none. */
static unsigned scan_table(const struct scan *s, size_t i, const char *const *path, size_t depth)
{
    unsigned found = 0;
    long index = 0;
    i++; /* past '{' */
    for (;;) {
        const struct tok *t = &s->toks[i];
        if (t->kind == T_EOF || tok_closes(t)) break;
        unsigned line = t->line;
        bool match;
        if (t->kind == T_NAME && is_punct(&s->toks[i + 1], '=')) {
            match = name_equals(t, path[0]);
            i += 2;
        } else if (is_punct(t, '[')) { /* [key] = value */
            size_t close = skip_nested(s, i);
            match = close == i + 2 && bracket_key_equals(&s->toks[i + 1], path[0]);
            i = close + (s->toks[close].kind != T_EOF);
            if (is_punct(&s->toks[i], '=')) i++;
        } else {
            char key[32];
            snprintf(key, sizeof(key), "[%ld]", ++index);
            match = strcmp(key, path[0]) == 0;
        }
        if (match) {
            unsigned inner = 0;
            if (depth > 1 && is_punct(&s->toks[i], '{'))
                inner = scan_table(s, i, path + 1, depth - 1);
            found = inner ? inner : line;
        }
        i = skip_value(s, i);
        if (!is_punct(&s->toks[i], ',') && !is_punct(&s->toks[i], ';')) break;
        i++;
    }
    return found;
}

/* A top-level assignment at i whose target starts with path[0]: `a = `, `a.b = `,
 * `a["b"] = `. Returns the line it gives for the path, or 0 if it does not assign the path or
 * a prefix of it. */
static unsigned scan_assignment(const struct scan *s, size_t i, const char *const *path,
                                size_t depth)
{
    size_t k = 1;
    for (i++;;) {
        const struct tok *t = &s->toks[i];
        if (is_punct(t, '.') && s->toks[i + 1].kind == T_NAME) {
            if (k >= depth || !name_equals(&s->toks[i + 1], path[k])) return 0;
            i += 2;
        } else if (is_punct(t, '[') && is_punct(&s->toks[i + 2], ']')) {
            if (k >= depth || !bracket_key_equals(&s->toks[i + 1], path[k])) return 0;
            i += 3;
        } else {
            break;
        }
        k++;
    }
    if (!is_punct(&s->toks[i], '=')) return 0;
    unsigned line = s->toks[i - 1].line;
    if (k < depth && is_punct(&s->toks[i + 1], '{')) {
        unsigned inner = scan_table(s, i + 1, path + k, depth - k);
        if (inner) line = inner;
    }
    return line;
}

unsigned config_locate(const char *src, size_t len, const char *const *path, size_t depth)
{
    if (depth == 0 || !src) return 0;
    struct scan s = {0};
    tokenize(&s, src, src + len);
    unsigned found = 0;
    long nest = 0;
    /* The last top-level assignment wins, as in Lua. */
    for (size_t i = 0; s.toks[i].kind != T_EOF; i++) {
        const struct tok *t = &s.toks[i];
        if (tok_opens(t))
            nest++;
        else if (tok_closes(t) && nest > 0)
            nest--;
        if (nest != 0 || !name_equals(t, path[0])) continue;
        if (i > 0 && (is_punct(&s.toks[i - 1], '.') || is_punct(&s.toks[i - 1], ':') ||
                      tok_is(&s.toks[i - 1], "local")))
            continue;
        unsigned line = scan_assignment(&s, i, path, depth);
        if (line) found = line;
    }
    free(s.toks);
    return found;
}

int config_verror(char *err, size_t errlen, const char *file, const char *src, size_t len,
                  const char *const *path, size_t depth, const char *fmt, va_list ap)
{
    char dotted[512] = "";
    size_t n = 0;
    for (size_t i = 0; i < depth && n < sizeof(dotted); i++)
        n += (size_t)snprintf(dotted + n, sizeof(dotted) - n, "%s%s",
                              (i && path[i][0] != '[') ? "." : "", path[i]);
    /* A computed value is not in the source: fall back to the nearest part that is. */
    unsigned line = 0;
    for (size_t d = depth; src && d > 0 && !line; d--) line = config_locate(src, len, path, d);
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* No line names it (a section the file lacks, one it computes): line 1, so that every
     * refusal reads file:line; the dotted path says what. */
    if (!line) line = 1;
    snprintf(err, errlen, "%s:%u: %s%s%s", file, line, dotted, dotted[0] ? ": " : "", msg);
    return -1;
}
