/* config_locate.c: finds the line where a key of the config is written.
 *
 * Lua tables do not remember where their fields came from, so after a value is refused we
 * look for it in the source: a small tokenizer (comments, strings, long brackets, names,
 * punctuation) and a walk over the table constructors that follows the key path. It handles
 * literal configs, which is what people write; for a computed value it finds nothing and the
 * caller falls back to the module's line. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

enum tok_kind { T_NAME, T_STRING, T_NUMBER, T_PUNCT, T_EOF };

struct tok {
    enum tok_kind kind;
    const char *p;
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
    s->toks[s->n++] = (struct tok){k, p, len, line};
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

static const char *skip_long(const char *p, const char *end, size_t level, unsigned *line)
{
    for (; p < end; p++) {
        if (*p == '\n') (*line)++;
        if (*p != ']') continue;
        const char *q = p + 1;
        size_t l = 0;
        while (q < end && *q == '=') q++, l++;
        if (q < end && *q == ']' && l == level) return q + 1;
    }
    return end;
}

static void tokenize(struct scan *s, const char *p, const char *end)
{
    unsigned line = 1;
    size_t level;
    while (p < end) {
        char c = *p;
        if (c == '\n') {
            line++;
            p++;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            p++;
        } else if (c == '-' && p + 1 < end && p[1] == '-') {
            p += 2;
            size_t ol = long_open(p, end, &level);
            if (ol) p = skip_long(p + ol, end, level, &line);
            else while (p < end && *p != '\n') p++;
        } else if (c == '"' || c == '\'') {
            const char *st = p++;
            unsigned l0 = line;
            while (p < end && *p != c && *p != '\n') p += (*p == '\\' && p + 1 < end) ? 2 : 1;
            push(s, T_STRING, st + 1, (size_t)(p - st - 1), l0);
            if (p < end) p++;
        } else if (long_open(p, end, &level)) {
            const char *st = p + long_open(p, end, &level);
            unsigned l0 = line;
            p = skip_long(st, end, level, &line);
            push(s, T_STRING, st, 0, l0);
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
            const char *st = p;
            while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                               (*p >= '0' && *p <= '9') || *p == '_'))
                p++;
            push(s, T_NAME, st, (size_t)(p - st), line);
        } else if (c >= '0' && c <= '9') {
            const char *st = p;
            while (p < end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'x' ||
                               *p == 'e' || *p == 'E' || (*p >= 'a' && *p <= 'f')))
                p++;
            push(s, T_NUMBER, st, (size_t)(p - st), line);
        } else {
            /* "==", "~=", "<=", ">=" are one token so that "=" means assignment. */
            size_t len = (p + 1 < end && p[1] == '=' && strchr("=~<>", c)) ? 2 : 1;
            push(s, T_PUNCT, p, len, line);
            p += len;
        }
    }
    push(s, T_EOF, end, 0, line);
}

static bool is_punct(const struct tok *t, char c)
{
    return t->kind == T_PUNCT && t->len == 1 && t->p[0] == c;
}

static bool tok_is(const struct tok *t, const char *s)
{
    return t->len == strlen(s) && memcmp(t->p, s, t->len) == 0;
}

/* Skips one field value: up to a ',' or ';' or the closing '}' at the same depth. */
static size_t skip_value(const struct scan *s, size_t i)
{
    int depth = 0;
    for (; s->toks[i].kind != T_EOF; i++) {
        const struct tok *t = &s->toks[i];
        if (is_punct(t, '{') || is_punct(t, '(') || is_punct(t, '[')) depth++;
        else if (is_punct(t, '}') || is_punct(t, ')') || is_punct(t, ']')) {
            if (depth == 0) return i;
            depth--;
        } else if (depth == 0 && (is_punct(t, ',') || is_punct(t, ';'))) {
            return i;
        }
    }
    return i;
}

static unsigned scan_table(const struct scan *s, size_t i, const char *const *path, size_t depth)
{
    i++; /* past '{' */
    long index = 0;
    while (s->toks[i].kind != T_EOF && !is_punct(&s->toks[i], '}')) {
        const struct tok *t = &s->toks[i];
        char key[64] = "";
        unsigned line = t->line;
        if (t->kind == T_NAME && is_punct(&s->toks[i + 1], '=')) {
            snprintf(key, sizeof(key), "%.*s", (int)t->len, t->p);
            i += 2;
        } else if (is_punct(t, '[') && is_punct(&s->toks[i + 2], ']') &&
                   is_punct(&s->toks[i + 3], '=')) {
            const struct tok *k = &s->toks[i + 1];
            if (k->kind == T_STRING) snprintf(key, sizeof(key), "%.*s", (int)k->len, k->p);
            else snprintf(key, sizeof(key), "[%.*s]", (int)k->len, k->p);
            i += 4;
        } else {
            snprintf(key, sizeof(key), "[%ld]", ++index);
        }
        if (strcmp(key, path[0]) == 0) {
            if (depth == 1) return line;
            if (is_punct(&s->toks[i], '{')) {
                unsigned inner = scan_table(s, i, path + 1, depth - 1);
                return inner ? inner : line;
            }
            return line;
        }
        i = skip_value(s, i);
        if (is_punct(&s->toks[i], ',') || is_punct(&s->toks[i], ';')) i++;
    }
    return 0;
}

unsigned config_locate(const char *src, size_t len, const char *const *path, size_t depth)
{
    if (depth == 0) return 0;
    struct scan s = {0};
    tokenize(&s, src, src + len);
    unsigned found = 0;
    int nest = 0;
    /* The last top-level assignment to path[0] wins, as in Lua. */
    for (size_t i = 0; s.toks[i].kind != T_EOF; i++) {
        const struct tok *t = &s.toks[i];
        if (is_punct(t, '{') || is_punct(t, '(') || is_punct(t, '[')) nest++;
        else if (is_punct(t, '}') || is_punct(t, ')') || is_punct(t, ']')) nest--;
        else if (t->kind == T_NAME && (tok_is(t, "function") || tok_is(t, "do") ||
                                       tok_is(t, "if") || tok_is(t, "repeat")))
            nest++;
        else if (t->kind == T_NAME && (tok_is(t, "end") || tok_is(t, "until"))) nest--;
        if (nest != 0 || t->kind != T_NAME || !tok_is(t, path[0])) continue;
        if (!is_punct(&s.toks[i + 1], '=')) continue;
        if (i > 0 && (is_punct(&s.toks[i - 1], '.') || tok_is(&s.toks[i - 1], "local"))) continue;
        unsigned line = t->line;
        if (depth > 1 && is_punct(&s.toks[i + 2], '{')) {
            unsigned inner = scan_table(&s, i + 2, path + 1, depth - 1);
            if (inner) line = inner;
        }
        found = line;
    }
    free(s.toks);
    return found;
}
