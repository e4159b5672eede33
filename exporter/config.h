/* config.h: the Lua configuration file, read through typed per-module schemas.
 *
 * The file is a sandboxed Lua chunk (luabox.h) whose top-level assignments name modules, like
 * Snort 3 or Prosody:
 *
 *     drwatch  = { site = "gold" }
 *     textfile = { directory = "/var/lib/drwatch/textfile", interval = "15s" }
 *
 * Each module declares its keys in a table of struct cfg_key (name, type, where in the module's
 * C struct the value goes, default, what is expected). An unknown module or key, a missing
 * required key, or a value of the wrong type is refused with file:line and what was expected.
 * Helpers belong in `local` variables; reading an undefined global is an error too.
 *
 * Ownership: config_load returns a struct config that owns every string and list in the module
 * structs; config_free releases them all. */
#ifndef DRWATCH_CONFIG_H
#define DRWATCH_CONFIG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xalloc.h"

enum cfg_type {
    CFG_STRING,   /* char * */
    CFG_BOOL,     /* bool */
    CFG_INT,      /* int64_t */
    CFG_NUMBER,   /* double */
    CFG_DURATION, /* int64_t milliseconds; "15s", "1m30s", "500ms", or a number of seconds */
    CFG_ENUM,     /* int: index into choices */
    CFG_TABLE,    /* a nested struct, inline at offset, with keys `sub` */
    CFG_LIST,     /* struct cfg_list of items of sub_size bytes, each a table of keys `sub` */
    CFG_STRINGS,  /* struct cfg_strings: a list of strings */
    CFG_LABELS,   /* struct cfg_labels: a table of label name = value */
    CFG_OPTIONAL, /* an optional nested struct: a void * at offset, NULL when the key is absent,
                     else sub_size bytes with keys `sub` (freed by config_free); lets a schema
                     made at run time offer one key per plug-in type */
};

struct cfg_list {
    void *items;
    size_t n;
};

struct cfg_strings {
    char **v;
    size_t n;
};

struct cfg_labels {
    char **names;
    char **values;
    size_t n;
};

struct cfg_key {
    const char *name;
    enum cfg_type type;
    size_t offset;
    const char *def;    /* default as text ("15s", "true", "gold"); NULL: zero/empty */
    const char *expect; /* what a good value looks like, for error messages */
    bool required;
    const char *const *choices; /* CFG_ENUM, NULL-terminated */
    const struct cfg_key *sub;  /* CFG_TABLE, CFG_LIST, CFG_OPTIONAL: ends with name NULL */
    size_t sub_size;            /* CFG_LIST: sizeof one item; CFG_OPTIONAL: of the struct */
    double min, max;            /* CFG_INT, CFG_NUMBER, CFG_DURATION (ms): checked if max > min */
    size_t present_at; /* CFG_PRESENT_AT(struct, field): a bool set when the file gives the key
                          (for values inherited from an outer table when absent); 0: none */
};

/* Where a key records its presence; +1 so that 0 means "not recorded". */
#define CFG_PRESENT_AT(type, field) (offsetof(type, field) + 1)

/* Tables nest at most this deep (path parts: keys and list items), so that a schema that
 * refers to itself (a routing tree) cannot recurse without end on a cyclic Lua table. */
#define CFG_MAX_DEPTH 48

/* clang-format off */
#define CFG_END {.name = NULL}
/* clang-format on */

/* A top-level section of the file. */
struct cfg_module {
    const char *name;
    const struct cfg_key *keys;
    size_t size;   /* sizeof the module's C struct */
    bool required; /* the file must have this section; otherwise a missing section is off: its
                      defaults are filled in and its required keys are not asked for */
};

struct config;

/* Reads and checks path against the modules. Returns NULL with "file:line: message" in err
 * when the file is refused. */
DRW_MUST_CHECK struct config *config_load(const char *path, const struct cfg_module *const *mods,
                                          size_t nmods, char *err, size_t errlen);
/* Same, from memory (tests and fuzzing); name is used in messages. */
DRW_MUST_CHECK struct config *config_load_buffer(const char *src, size_t len, const char *name,
                                                 const struct cfg_module *const *mods, size_t nmods,
                                                 char *err, size_t errlen);
void config_free(struct config *c); /* NULL-safe */

/* The module's struct (defaults filled in when the file did not mention it), and whether the
 * file had a section for it. */
const void *config_module(const struct config *c, const char *name, bool *present);
const char *config_path(const struct config *c);

/* The line in src where a key path is written, e.g. {"textfile", "directory"}; list items are
 * given as "[3]". 0 when it cannot be found (computed configs). */
unsigned config_locate(const char *src, size_t len, const char *const *path, size_t depth);

/* The one format of a config refusal, for the loader and for the parts that check a config
 * after it is loaded: "file:line: a.b[2].c: message" into err, where line is that of the
 * deepest part of path that config_locate finds in src, and without ":line" when none is
 * found (src may be NULL). Returns -1, so that a caller can return it. */
int config_verror(char *err, size_t errlen, const char *file, const char *src, size_t len,
                  const char *const *path, size_t depth, const char *fmt, va_list ap)
    __attribute__((format(printf, 8, 0)));

#endif
