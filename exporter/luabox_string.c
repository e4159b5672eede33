/* luabox_string.c: budgeted string.find, match, gmatch, gsub and rep for the sandbox (see
 * luabox_string.h for why). The matcher is a backtracking one over Lua 5.4's pattern language:
 * single-character classes with *, +, - and ?, captures (including position captures),
 * %b, %f, back-references and the ^ and $ anchors. Every call of the matcher, and every
 * character a repetition or a %b scans, is a step; every PM_CHECK_EVERY steps it asks
 * luabox_check_budget(), which raises the timeout once the deadline is past. Plain searches use
 * memmem (linear time). */
#include "luabox_string.h"

#include <ctype.h>
#include <lauxlib.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "luabox.h"

#define PM_MAXCAPTURES 32  /* as Lua's LUA_MAXCAPTURES */
#define PM_MAXDEPTH    200 /* matcher recursion, as Lua's MAXCCALLS */
#define PM_CHECK_EVERY 4096
#define PM_SPECIALS    "^$*+?.([%-"

enum { CAP_OPEN = -1, CAP_POSITION = -2 };

struct pm {
    lua_State *L;
    const char *s0, *s_end; /* the subject */
    const char *p_end;      /* the end of the pattern */
    int depth;              /* recursion left */
    int ncap;
    unsigned steps; /* until the next budget check */
    struct {
        const char *at;
        ptrdiff_t len; /* or CAP_OPEN, CAP_POSITION */
    } cap[PM_MAXCAPTURES];
};

static void pm_init(struct pm *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp)
{
    m->L = L;
    m->s0 = s;
    m->s_end = s + ls;
    m->p_end = p + lp;
    m->depth = PM_MAXDEPTH;
    m->ncap = 0;
    m->steps = PM_CHECK_EVERY;
}

static void pm_charge(struct pm *m, size_t n)
{
    if (n < m->steps) {
        m->steps -= (unsigned)n;
        return;
    }
    m->steps = PM_CHECK_EVERY;
    luabox_check_budget(m->L);
}

/* Past one single-character class at p ("x", "%a", "[...]"). */
static const char *pm_class_end(struct pm *m, const char *p)
{
    char c = *p++;
    if (c == '%') {
        if (p >= m->p_end) luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c != '[') return p;
    if (p < m->p_end && *p == '^') p++;
    /* The first character of a set is itself even when it is ']'. */
    do {
        if (p >= m->p_end) luaL_error(m->L, "malformed pattern (missing ']')");
        c = *p++;
        if (c == '%' && p < m->p_end) p++;
    } while (p >= m->p_end || *p != ']');
    return p + 1;
}

/* Whether c is in the class named by letter cl (%a, %D, ...); other letters are literal. */
static bool pm_class(int c, int cl)
{
    bool r;
    switch (tolower(cl)) {
    case 'a': r = isalpha(c); break;
    case 'c': r = iscntrl(c); break;
    case 'd': r = isdigit(c); break;
    case 'g': r = isgraph(c); break;
    case 'l': r = islower(c); break;
    case 'p': r = ispunct(c); break;
    case 's': r = isspace(c); break;
    case 'u': r = isupper(c); break;
    case 'w': r = isalnum(c); break;
    case 'x': r = isxdigit(c); break;
    case 'z': r = c == 0; break; /* deprecated, but Lua 5.4 still has it */
    default: return cl == c;
    }
    return isupper(cl) ? !r : r;
}

/* Whether c is in the set from p ('[') to close (its ']'). */
static bool pm_set(int c, const char *p, const char *close)
{
    bool in = true;
    p++;
    if (*p == '^') {
        in = false;
        p++;
    }
    for (; p < close; p++) {
        if (*p == '%') {
            p++;
            if (pm_class(c, (unsigned char)*p)) return in;
        } else if (p + 2 < close && p[1] == '-') {
            if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2]) return in;
            p += 2;
        } else if ((unsigned char)*p == c) {
            return in;
        }
    }
    return !in;
}

static bool pm_single(const struct pm *m, const char *s, const char *p, const char *ep)
{
    if (s >= m->s_end) return false;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.': return true;
    case '%': return pm_class(c, (unsigned char)p[1]);
    case '[': return pm_set(c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

static const char *pm_match(struct pm *m, const char *s, const char *p);

/* x* and x+ (after the first): the longest run first, then shorter ones. */
static const char *pm_longest(struct pm *m, const char *s, const char *p, const char *ep)
{
    ptrdiff_t n = 0;
    while (pm_single(m, s + n, p, ep)) n++;
    pm_charge(m, (size_t)n);
    for (; n >= 0; n--) {
        const char *r = pm_match(m, s + n, ep + 1);
        if (r) return r;
    }
    return NULL;
}

/* x-: the shortest run first. */
static const char *pm_shortest(struct pm *m, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *r = pm_match(m, s, ep + 1);
        if (r) return r;
        if (!pm_single(m, s, p, ep)) return NULL;
        s++;
    }
}

static const char *pm_open(struct pm *m, const char *s, const char *p, ptrdiff_t what)
{
    if (m->ncap >= PM_MAXCAPTURES) luaL_error(m->L, "too many captures");
    m->cap[m->ncap].at = s;
    m->cap[m->ncap].len = what;
    m->ncap++;
    const char *r = pm_match(m, s, p);
    if (!r) m->ncap--;
    return r;
}

static const char *pm_close(struct pm *m, const char *s, const char *p)
{
    int i = m->ncap - 1;
    while (i >= 0 && m->cap[i].len != CAP_OPEN) i--;
    if (i < 0) luaL_error(m->L, "invalid pattern capture");
    m->cap[i].len = s - m->cap[i].at;
    const char *r = pm_match(m, s, p);
    if (!r) m->cap[i].len = CAP_OPEN;
    return r;
}

/* %bxy at p ("xy"): a balanced run from x to its matching y. */
static const char *pm_balance(struct pm *m, const char *s, const char *p)
{
    if (p + 1 >= m->p_end) luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->s_end || *s != p[0]) return NULL;
    const char *start = s;
    int open = 1;
    while (++s < m->s_end) {
        if (*s == p[1]) {
            if (--open == 0) break;
        } else if (*s == p[0]) {
            open++;
        }
    }
    pm_charge(m, (size_t)(s - start));
    return s < m->s_end ? s + 1 : NULL;
}

/* %1 to %9: the same text as a closed capture. */
static const char *pm_backref(struct pm *m, const char *s, char digit)
{
    int i = digit - '1';
    if (i < 0 || i >= m->ncap || m->cap[i].len == CAP_OPEN)
        luaL_error(m->L, "invalid capture index %%%d", i + 1);
    ptrdiff_t len = m->cap[i].len;
    if (len < 0 || m->s_end - s < len) return NULL; /* a position capture matches nothing */
    pm_charge(m, (size_t)len);
    return memcmp(m->cap[i].at, s, (size_t)len) == 0 ? s + len : NULL;
}

/* %f[set] at p (the '['): the transition from a character not in set to one in it. */
static bool pm_frontier(struct pm *m, const char *s, const char *p, const char **ep)
{
    if (p >= m->p_end || *p != '[') luaL_error(m->L, "missing '[' after '%%f' in pattern");
    *ep = pm_class_end(m, p);
    int prev = s == m->s0 ? '\0' : (unsigned char)s[-1];
    int cur = s < m->s_end ? (unsigned char)*s : '\0';
    return !pm_set(prev, p, *ep - 1) && pm_set(cur, p, *ep - 1);
}

/* One pattern item at p, with its quantifier; the rest of the pattern recursively. Returns the
 * end of the match or NULL. The loop stands for calls in tail position. */
static const char *pm_item(struct pm *m, const char *s, const char *p, const char **next)
{
    const char *ep = pm_class_end(m, p);
    char q = ep < m->p_end ? *ep : '\0';
    *next = NULL;
    if (!pm_single(m, s, p, ep)) {
        if (q == '*' || q == '?' || q == '-') *next = ep + 1; /* zero repetitions are fine */
        return NULL;
    }
    switch (q) {
    case '?': {
        const char *r = pm_match(m, s + 1, ep + 1);
        if (!r) *next = ep + 1;
        return r;
    }
    case '+': return pm_longest(m, s + 1, p, ep);
    case '*': return pm_longest(m, s, p, ep);
    case '-': return pm_shortest(m, s, p, ep);
    default: *next = ep; return s + 1; /* one character, then go on at ep */
    }
}

static const char *pm_match(struct pm *m, const char *s, const char *p)
{
    if (m->depth-- == 0) luaL_error(m->L, "pattern too complex");
    pm_charge(m, 1);
    while (s && p < m->p_end) {
        const char *ep;
        if (*p == '(') {
            if (p + 1 < m->p_end && p[1] == ')')
                s = pm_open(m, s, p + 2, CAP_POSITION);
            else
                s = pm_open(m, s, p + 1, CAP_OPEN);
            break;
        }
        if (*p == ')') {
            s = pm_close(m, s, p + 1);
            break;
        }
        if (*p == '$' && p + 1 == m->p_end) {
            if (s != m->s_end) s = NULL;
            break;
        }
        if (*p == '%' && p + 1 < m->p_end && p[1] == 'b') {
            s = pm_balance(m, s, p + 2);
            p += 4;
            continue;
        }
        if (*p == '%' && p + 1 < m->p_end && p[1] == 'f') {
            if (!pm_frontier(m, s, p + 2, &ep)) s = NULL;
            p = ep;
            continue;
        }
        if (*p == '%' && p + 1 < m->p_end && isdigit((unsigned char)p[1])) {
            s = pm_backref(m, s, p[1]);
            p += 2;
            continue;
        }
        const char *r = pm_item(m, s, p, &ep);
        if (!ep) { /* the item decided the whole match */
            s = r;
            break;
        }
        if (r) s = r; /* matched one character; an unmatched optional item keeps s */
        p = ep;
    }
    m->depth++;
    return s;
}

/* ---- captures ---- */

/* Pushes capture i, or the whole match when the pattern has no captures and i is 0. */
static void pm_push_capture(struct pm *m, int i, const char *s, const char *e)
{
    if (i >= m->ncap) {
        if (i != 0) luaL_error(m->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(m->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t len = m->cap[i].len;
    if (len == CAP_OPEN) luaL_error(m->L, "unfinished capture");
    if (len == CAP_POSITION)
        lua_pushinteger(m->L, m->cap[i].at - m->s0 + 1);
    else
        lua_pushlstring(m->L, m->cap[i].at, (size_t)len);
}

/* Pushes every capture (the whole match when there are none and s is not NULL). */
static int pm_push_captures(struct pm *m, const char *s, const char *e)
{
    int n = (m->ncap == 0 && s) ? 1 : m->ncap;
    luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++) pm_push_capture(m, i, s, e);
    return n;
}

/* ---- the library functions ---- */

/* A start position as string.find takes it: negative counts from the end; 1-based. */
static size_t pm_start(lua_Integer pos, size_t len)
{
    if (pos > 0) return (size_t)pos;
    if (pos == 0 || pos < -(lua_Integer)len) return 1;
    return (size_t)((lua_Integer)len + pos + 1);
}

static bool pm_has_specials(const char *p, size_t lp)
{
    for (size_t i = 0; i < lp; i++)
        if (p[i] && strchr(PM_SPECIALS, p[i])) return true;
    return false;
}

static int pm_find_aux(lua_State *L, bool find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = pm_start(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) {
        lua_pushnil(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || !pm_has_specials(p, lp))) {
        const char *r = lp ? memmem(s + init, ls - init, p, lp) : s + init;
        if (r) {
            lua_pushinteger(L, r - s + 1);
            lua_pushinteger(L, (lua_Integer)(r - s + (ptrdiff_t)lp));
            return 2;
        }
        lua_pushnil(L);
        return 1;
    }
    struct pm m;
    pm_init(&m, L, s, ls, p, lp);
    bool anchor = lp > 0 && *p == '^';
    if (anchor) p++;
    const char *s1 = s + init;
    do {
        m.ncap = 0;
        m.depth = PM_MAXDEPTH;
        const char *e = pm_match(&m, s1, p);
        if (e) {
            if (!find) return pm_push_captures(&m, s1, e);
            lua_pushinteger(L, s1 - s + 1);
            lua_pushinteger(L, e - s);
            return pm_push_captures(&m, NULL, NULL) + 2;
        }
    } while (s1++ < m.s_end && !anchor);
    lua_pushnil(L);
    return 1;
}

static int pm_find(lua_State *L)
{
    return pm_find_aux(L, true);
}

static int pm_str_match(lua_State *L)
{
    return pm_find_aux(L, false);
}

/* gmatch's state between calls, as offsets into the subject (upvalue 1). */
struct pm_iter {
    size_t pos;
    size_t last; /* end of the last match, or SIZE_MAX */
};

static int pm_gmatch_next(lua_State *L)
{
    size_t ls, lp;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
    struct pm_iter *it = lua_touserdata(L, lua_upvalueindex(3));
    struct pm m;
    pm_init(&m, L, s, ls, p, lp);
    for (size_t at = it->pos; at <= ls; at++) {
        m.ncap = 0;
        m.depth = PM_MAXDEPTH;
        const char *e = pm_match(&m, s + at, p);
        /* An empty match right where the previous one ended does not count. */
        if (e && (size_t)(e - s) != it->last) {
            it->pos = it->last = (size_t)(e - s);
            return pm_push_captures(&m, s + at, e);
        }
    }
    it->pos = ls + 1;
    return 0;
}

static int pm_gmatch(lua_State *L)
{
    size_t ls;
    luaL_checklstring(L, 1, &ls);
    luaL_checkstring(L, 2);
    size_t init = pm_start(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2);
    struct pm_iter *it = lua_newuserdatauv(L, sizeof(*it), 0);
    it->pos = init > ls ? ls + 1 : init;
    it->last = (size_t)-1;
    lua_pushcclosure(L, pm_gmatch_next, 3);
    return 1;
}

/* A replacement string: %0 to %9 are captures, %% is '%'. */
static void pm_add_string(struct pm *m, luaL_Buffer *b, const char *s, const char *e)
{
    size_t l;
    const char *r = lua_tolstring(m->L, 3, &l);
    const char *end = r + l;
    for (;;) {
        const char *pct = memchr(r, '%', (size_t)(end - r));
        if (!pct) {
            luaL_addlstring(b, r, (size_t)(end - r));
            return;
        }
        luaL_addlstring(b, r, (size_t)(pct - r));
        char d = pct + 1 < end ? pct[1] : '\0';
        if (d == '%') {
            luaL_addchar(b, '%');
        } else if (d == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit((unsigned char)d)) {
            pm_push_capture(m, d - '1', s, e);
            luaL_tolstring(m->L, -1, NULL);
            lua_remove(m->L, -2);
            luaL_addvalue(b);
        } else {
            luaL_error(m->L, "invalid use of '%c' in replacement string", '%');
        }
        r = pct + 2;
    }
}

static void pm_add_value(struct pm *m, luaL_Buffer *b, const char *s, const char *e, int tr)
{
    lua_State *L = m->L;
    if (tr == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = pm_push_captures(m, s, e);
        lua_call(L, n, 1);
    } else if (tr == LUA_TTABLE) {
        pm_push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    } else {
        pm_add_string(m, b, s, e);
        return;
    }
    if (!lua_toboolean(L, -1)) { /* nil or false: keep the original text */
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    } else {
        luaL_addvalue(b);
    }
}

static int pm_gsub(lua_State *L)
{
    size_t ls, lp;
    const char *src = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int tr = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    luaL_argexpected(
        L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
        "string/function/table");
    struct pm m;
    pm_init(&m, L, src, ls, p, lp);
    bool anchor = lp > 0 && *p == '^';
    if (anchor) p++;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    const char *last = NULL;
    lua_Integer n = 0;
    while (n < max) {
        m.ncap = 0;
        m.depth = PM_MAXDEPTH;
        const char *e = pm_match(&m, src, p);
        if (e && e != last) {
            n++;
            pm_add_value(&m, &b, src, e, tr);
            src = last = e;
        } else if (src < m.s_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor) break;
    }
    luaL_addlstring(&b, src, (size_t)(m.s_end - src));
    luaL_pushresult(&b);
    lua_pushinteger(L, n);
    return 2;
}

/* string.rep: Lua's loops n times even when s and sep are empty (nothing is allocated, so the
 * heap cap does not stop it either). The result's size is bounded by the heap cap, and the
 * copying below takes O(log n) steps. */
static int pm_rep(lua_State *L)
{
    size_t l, lsep;
    const char *s = luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    const char *sep = luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || l + lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    if (l + lsep < l || l + lsep > (size_t)LUA_MAXINTEGER / (size_t)n)
        return luaL_error(L, "resulting string too large");
    size_t total = (size_t)n * l + (size_t)(n - 1) * lsep;
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, total);
    /* One copy of s and sep, then the text so far doubled: memcpy of large blocks rather than
     * n small ones (n can be in the millions). */
    memcpy(out, s, l);
    size_t done = l;
    if (done < total) {
        memcpy(out + done, sep, lsep);
        done += lsep;
    }
    while (done < total) {
        size_t chunk = done < total - done ? done : total - done;
        memcpy(out + done, out, chunk);
        done += chunk;
    }
    luaL_pushresultsize(&b, total);
    return 1;
}

void luabox_string_register(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"find", pm_find},       {"gmatch", pm_gmatch}, {"gsub", pm_gsub},
        {"match", pm_str_match}, {"rep", pm_rep},       {NULL, NULL},
    };
    luaL_setfuncs(L, fns, 0);
}
