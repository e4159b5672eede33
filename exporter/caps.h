/* caps.h: the hard caps on buffers, in one place (curl's dynbuf.h keeps its DYN_* limits the
 * same way). Every struct buf is created with one of these (buf_init aborts on 0), and so is
 * every file read whole (file_read_all). What happens at a cap is the caller's to decide and
 * never a crash: an error that is counted or reported (a scrape fails with errors_total
 * {reason}, a config is refused, a notification falls back to its small text), never a silent
 * cut where the cut text would lie. The error convention itself is written at the top of
 * xalloc.h.
 *
 * Caps on what the outside world sizes come first; then generous caps on buffers that hold
 * only drwatch's own output, named for what they hold: they catch a bug, not an attack.
 * A few buffers take their cap from a config key whose limits live in its schema:
 * max_body_bytes of HTTP targets (1 KiB to 1 GiB) and max_file_bytes of the textfile
 * collector. */
#ifndef DRWATCH_CAPS_H
#define DRWATCH_CAPS_H

#define CAP_KIB ((size_t)1024)
#define CAP_MIB ((size_t)1024 * 1024)

/* ---- files read whole ---- */
/* A bearer token, password, webhook URL or API token read from a file. Service-account JWTs
 * are 1-2 KiB; 16 KiB leaves room for any token and refuses a wrong path (a log file). */
#define CAP_SECRET_FILE (16 * CAP_KIB)
/* The pod's namespace file: a namespace name is at most 63 bytes. */
#define CAP_NAMESPACE_FILE (256)
/* A template file of a notifier (alerts/templates/default.lua is 12 KiB). */
#define CAP_TEMPLATE_FILE (1 * CAP_MIB)
/* The config file, read again to find the line of a refusal (the loader reads it with the
 * same cap). */
#define CAP_CONFIG_FILE (1 * CAP_MIB)
/* The alert manager's state file: groups, alerts and their notification times (AM_MAX_GROUPS
 * groups of capped alerts). */
#define CAP_ALERT_STATE_FILE (256 * CAP_MIB)
/* The silences file: at most the silences the API accepts, each with capped matchers. */
#define CAP_SILENCES_FILE (64 * CAP_MIB)
/* /proc/self/statm: a line of seven numbers. */
#define CAP_PROC_FILE (4 * CAP_KIB)

/* ---- what targets answer ---- */
/* A response body when the caller sets no max_body (notifier answers, Kubernetes calls
 * without a target's max_body_bytes); max_body_bytes defaults to the same. */
#define CAP_HTTP_BODY (16 * CAP_MIB)
/* The peer's view (GET /peer/v1/view): states, GSLB answers and the peer's own targets,
 * a few KiB; site/peer_server.c caps what it serves at the same size. */
#define CAP_PEER_VIEW (1 * CAP_MIB)
/* One read of a textfile: the buffer holds one read and the unfinished line before it (the
 * file as a whole is capped by max_file_bytes). */
#define CAP_TEXTFILE_CHUNK (1 * CAP_MIB)
/* A request path with a query that carries outside text: a Kubernetes continue token or a
 * label selector. apiservers refuse URLs much longer than this. */
#define CAP_URL_PATH (64 * CAP_KIB)

/* ---- labels, selectors and expressions ---- */
/* A label set as text (canonical `a="b",c="d"`, Alertmanager's `{a="b", c="d"}`, a group
 * key) or one label value unescaped. Samples carry at most 128 labels (textparse), but a
 * value is bounded only by the body it came in (16 MiB by default); rules and alerts hold
 * copies of those. 1 MiB is far past any real label set and small enough to refuse a
 * runaway. */
#define CAP_LABELS_TEXT (1 * CAP_MIB)
/* A series selector or matcher list as text, and a regex translated for regcomp. Their
 * sources are the config, rules and the silences API (whose request body is capped); RE2
 * patterns are held near 20 KB once expanded (promregex.c), so 1 MiB is far past that. */
#define CAP_SELECTOR_TEXT (1 * CAP_MIB)
/* A libpq conninfo string made of config values (host, dbname, user, paths). */
#define CAP_PG_CONNINFO (64 * CAP_KIB)
/* A transition rule's reason, or its evidence as "check=value, ..." text (a rule file's
 * function makes them; the switchover journal keeps 255 bytes of a request's reason). Over the
 * cap the rule fails, counted, rather than asking with a cut text. */
#define CAP_TRANSITION_TEXT (4 * CAP_KIB)

/* ---- templates and notifications ---- */
/* One value or expansion of a rule's annotation template ({{ $labels.x }}, printf,
 * humanize...): annotations are texts for people; 1 MiB is past any that a Teams card or an
 * email could carry. */
#define CAP_TEMPLATE_TEXT (1 * CAP_MIB)
/* A rendered notification (a Teams card, an email, webhook or Alertmanager JSON): what one
 * outbox entry holds. Receivers refuse much less (Teams: 28 KB); max_payload_bytes of a
 * receiver is at most this. */
#define CAP_NOTIFY_PAYLOAD (1 * CAP_MIB)
/* A payload as sent: an email of a text payload, quoted-printable encoded (at most three
 * bytes per byte, plus soft line breaks), or a card wrapped around it. */
#define CAP_NOTIFY_WIRE (4 * CAP_MIB)
/* A piece of a notification made on its own: an email subject, a card title or text, a
 * receiver name quoted as a regex. */
#define CAP_NOTIFY_TEXT (64 * CAP_KIB)
/* What a receiver's answer adds to the log and the outbox when a send fails (the body is cut
 * to a few KiB before it gets here; redaction may lengthen it). */
#define CAP_SEND_DETAIL (16 * CAP_KIB)

/* ---- drwatch's own output ---- */
/* The exposition: one family rendered (text or a deflate segment), the whole body in one
 * piece, and the label keys the renderer groups by. Bounded by what the collectors hold,
 * itself bounded by the body caps above; 256 MiB is some 2 million series. */
#define CAP_EXPOSITION (256 * CAP_MIB)
/* The alert timeline `drwatch test-rules --timeline` prints (promtool test YAML). */
#define CAP_TESTRULES_OUTPUT (64 * CAP_MIB)

/* A trigger's request body made of config values: the Tekton push body holds a ref and a
 * clone URL, escaped at most twelve bytes to a character (a surrogate pair). */
#define CAP_TRIGGER_BODY (64 * CAP_KIB)

/* One line of a Kubernetes watch stream: an event carrying a whole object (a ConfigMap holds
 * at most 1 MiB of data, which JSON escaping may grow). */
#define CAP_K8S_WATCH_LINE (4 * CAP_MIB)

/* ---- the HTTP server ---- */
#define CAP_HTTP_REPLY (64 * CAP_MIB) /* a route's answer (an API listing) */
#define CAP_HTTP_ERROR (4 * CAP_KIB)  /* an error text */
/* Request bodies held at once across every connection; each route also caps its own. */
#define CAP_HTTP_BODY_TOTAL (4 * CAP_MIB)

/* ---- /federate ---- */
/* The match[] parameters of one request, and their length in all once URL-decoded. Each is
 * compiled (its regexes too) and tried on every family of the snapshot, so these bound the
 * work one request makes; federation configs list a handful. (The request line's 8 KiB,
 * HTTP_MAX_URI, already bounds the length; this one holds should that grow.) More: 400. */
#define CAP_FEDERATE_MATCHES     32
#define CAP_FEDERATE_MATCH_BYTES (8 * CAP_KIB)
/* One answer as sent (compressed when gzip is asked for): every series selected is what
 * /metrics serves, some 12 MB for 100k series. Past it: 500 saying so, counted. */
#define CAP_FEDERATE_REPLY (64 * CAP_MIB)

#endif
