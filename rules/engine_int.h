/* engine_int.h: what rules/engine.c and rules/rulelib.c (the Lua API) share. Not for other
 * modules: rules.h is the engine's interface. */
#ifndef DRWATCH_ENGINE_INT_H
#define DRWATCH_ENGINE_INT_H

#include <lua.h>
#include <pthread.h>
#include <stdatomic.h>

#include "alertstate.h"
#include "history.h"
#include "log.h"
#include "luabox.h"
#include "rules.h"
#include "selector.h"
#include "xalloc.h"

/* One alert(name, spec) of a rule file. */
struct rule_alert {
    char *name;
    int ordinal; /* among the file's alerts of the same name: the key across reloads */
    double for_s, keep_firing_for_s;
    char **label_names, **label_tmpls;
    size_t nlabels;
    char **ann_names, **ann_tmpls; /* a template, or NULL when ann_refs holds a function */
    int *ann_refs;
    size_t nann;
    int expr_ref;
    struct alert_rule_state *state;
    enum luabox_outcome last_outcome;
    uint64_t failures[4]; /* by enum luabox_outcome */
    struct complaint complaint;
    double last_duration;
};

/* One transition(name, spec) of a rule file (transition_rules.c). */
struct rule_transition {
    char *name;
    char *to;          /* the target state, as written */
    int when_ref;      /* function() returning true or false */
    char *reason_text; /* the reason, or NULL when reason_ref holds a function(facts) */
    int reason_ref;
    int evidence_ref;     /* function() returning { check = value }, or LUA_NOREF */
    uint64_t requests;    /* evaluations whose request this rule made */
    uint64_t suppressed;  /* evaluations where its when was true after another rule's request */
    uint64_t failures[4]; /* by enum luabox_outcome */
    struct complaint complaint;
};

struct cached_selector {
    char *key;
    struct selector sel;
};

struct rule_file {
    struct rules_engine *engine;
    char *path;
    struct luabox *box;
    struct rule_alert *alerts;
    size_t nalerts;
    struct rule_transition *transitions;
    size_t ntransitions;
    int facts_ref; /* the environment's facts(), which a reason function is given */
    bool loading;
    uint64_t evaluations[4]; /* by enum luabox_outcome: the worst of the file's rules */
    double last_duration;
    struct cached_selector *selectors;
    size_t nselectors;
};

/* A selector whose range history is kept, and how to find its series again. */
struct tracked {
    struct track *tr;
    struct selector sel;
};

struct restore_entry {
    char *rule_key;
    char *labels;
    double active_at;
};

struct rules_engine {
    int64_t interval_ms, timeout_ms;
    size_t memory_limit;
    char *state_file;
    double grace_s, outage_s;
    struct rule_file *files;
    size_t nfiles;
    struct history *history;
    struct tracked *tracked;
    size_t ntracked;
    /* The evaluation under way. */
    double t;
    const struct snapshot *instant, *raw;
    struct metric_set *out;
    /* The evaluation's transition request (transition_rules.c); request_rule NULL: none. */
    const struct rule_transition *request_rule;
    const struct rule_file *request_file;
    char *request_reason, *request_evidence;
    /* From the state file, for the first evaluation after a start. */
    struct restore_entry *restore;
    size_t nrestore;
    double restore_saved_at;
    pthread_mutex_t json_lock;
    char *json;
    atomic_bool interrupted; /* rules_interrupt: every file's luabox stops at once */
};

/* rulelib.c: the API a rule file sees. Pushes the file's environment (read-only helpers,
 * alert(), strict globals); the file's struct is the upvalue of every function. */
DRW_MUST_CHECK int rulelib_push_env(struct rule_file *f, char *err, size_t errlen);
/* Reads the spec table at idx into a (at load time). Returns 0, or -1 with err filled. */
DRW_MUST_CHECK int rulelib_read_alert(struct rule_file *f, lua_State *L, int idx,
                                      struct rule_alert *a, char *err, size_t errlen);
/* Records the current value of every tracked selector into the history. */
void rulelib_record_history(struct rules_engine *e);
void rulelib_free_file_caches(struct rule_file *f);

/* transition_rules.c: transition(name, spec), the Lua function (the file is upvalue 1). */
int transition_rules_declare(lua_State *L);
/* Evaluates f's transition rules in order with what is left of the file's budget: the first
 * whose when is true (when no earlier file made one) becomes e's request. Returns the worst
 * outcome. */
enum luabox_outcome transition_rules_eval(struct rules_engine *e, struct rule_file *f,
                                          int64_t deadline);
/* Forgets the last evaluation's request (before the next evaluation, and when freeing). */
void transition_rules_clear(struct rules_engine *e);
/* drwatch_rule_transition_requests_total, _suppressed_total and _failures_total of f. */
void transition_rules_metrics(struct metric_set *m, const struct rule_file *f);
/* Carries the failure complaints of old's rules (matched by file and name) over to e. */
void transition_rules_take_state(struct rules_engine *e, struct rules_engine *old);
void transition_rules_free(lua_State *L, struct rule_file *f);

#endif
