/* SPDX-License-Identifier: GPL-2.0-or-later */
/* JSON events; the schema is in events.h and the README ("JSON events").
 * The schema lives here twice on purpose: once in the emitters, once in
 * event_validate(), so a test catches an emitter that drifts from it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "exec/events.h"
#include "util/log.h"
#include "util/strutil.h"

static const char *const event_type_table[_EVENT_TYPE_MAX] = {
        [EVENT_RUN_START] = "run-start",
        [EVENT_RUN_END] = "run-end",
        [EVENT_STEP_START] = "step-start",
        [EVENT_STEP_END] = "step-end",
        [EVENT_PROGRESS] = "progress",
        [EVENT_WARNING] = "warning",
        [EVENT_ERROR] = "error",
};
DEFINE_STRING_TABLE(event_type, enum event_type, _EVENT_TYPE_MAX)

static FILE *output;
/* The events file (events_set_record()). */
static FILE *record;
/* The step between its step-start and step-end, for warning and error
 * events that do not name one. */
static char *current_step;
/* The last error event's message, for run-end when the caller has none. */
static char *last_error;

static void observe_log(enum log_level level, const char *msg) {
        (void) events_message(level >= LOG_LEVEL_ERROR ? EVENT_ERROR : EVENT_WARNING, NULL, msg);
}

static void sinks_changed(void) {
        /* Warnings and errors logged anywhere become events too. */
        log_set_observer(events_enabled() ? observe_log : NULL);
        if (!events_enabled()) {
                free(current_step);
                current_step = NULL;
                free(last_error);
                last_error = NULL;
        }
}

void events_set_output(FILE *f) {
        output = f;
        sinks_changed();
}

FILE *events_get_output(void) {
        return output;
}

void events_set_record(FILE *f) {
        record = f;
        sinks_changed();
}

bool events_enabled(void) {
        return output || record;
}

static int format_time(uint64_t t_usec, char *buf, size_t l) {
        time_t t = (time_t) (t_usec / 1000000);
        struct tm tm;
        char s[32];

        if (!gmtime_r(&t, &tm) || strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
                return -EINVAL;
        if (snprintf(buf, l, "%s.%03uZ", s, (unsigned) (t_usec % 1000000 / 1000)) >= (int) l)
                return -ENAMETOOLONG;
        return 0;
}

int event_format(enum event_type type, uint64_t t_usec, json_object *fields, char **ret) {
        const char *name = event_type_to_string(type);
        char when[64];
        json_object *o;
        int r;

        if (!name)
                return -EINVAL;
        r = format_time(t_usec, when, sizeof when);
        if (r < 0)
                return r;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        /* v, time and event first, so a person reading the stream sees them. */
        r = json_object_object_add(o, "v", json_object_new_int(EVENTS_VERSION));
        if (r >= 0)
                r = json_object_object_add(o, "time", json_object_new_string(when));
        if (r >= 0)
                r = json_object_object_add(o, "event", json_object_new_string(name));
        if (r >= 0 && fields) {
                json_object_object_foreach(fields, k, v) {
                        if (streq(k, "v") || streq(k, "time") || streq(k, "event"))
                                continue;
                        if ((r = json_object_object_add(o, k, json_object_get(v))) < 0)
                                break;
                }
        }
        if (r < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        char *line = NULL;
        r = s && asprintf(&line, "%s\n", s) >= 0 ? 0 : -ENOMEM;
        json_object_put(o);
        if (r < 0)
                return r;
        *ret = line;
        return 0;
}

enum field_type { F_STRING, F_STRING_OR_NULL, F_INT, F_NUMBER };

struct field {
        const char *key;
        enum field_type type;
};

/* The keys each type requires; see events.h. */
static const struct field *required_fields(enum event_type type) {
        static const struct field run_start[] = { { "verb", F_STRING }, { "plan", F_STRING_OR_NULL }, {} };
        static const struct field run_end[] = { { "result", F_STRING }, { "exit", F_INT }, { "error", F_STRING_OR_NULL }, {} };
        static const struct field step_start[] = { { "step", F_STRING }, { "kind", F_STRING }, { "index", F_INT }, { "total", F_INT }, {} };
        static const struct field step_end[] = { { "step", F_STRING }, { "kind", F_STRING }, { "state", F_STRING }, { "error", F_STRING_OR_NULL }, {} };
        static const struct field progress[] = { { "step", F_STRING }, { "done", F_INT }, { "total", F_INT }, { "percent", F_NUMBER }, {} };
        static const struct field message[] = { { "message", F_STRING }, { "step", F_STRING_OR_NULL }, {} };

        switch (type) {
        case EVENT_RUN_START: return run_start;
        case EVENT_RUN_END: return run_end;
        case EVENT_STEP_START: return step_start;
        case EVENT_STEP_END: return step_end;
        case EVENT_PROGRESS: return progress;
        case EVENT_WARNING:
        case EVENT_ERROR: return message;
        default: return NULL;
        }
}

static bool field_ok(json_object *v, enum field_type t) {
        switch (t) {
        case F_STRING: return json_object_is_type(v, json_type_string);
        case F_STRING_OR_NULL: return !v || json_object_is_type(v, json_type_string);
        case F_INT: return json_object_is_type(v, json_type_int);
        case F_NUMBER: return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
        }
        return false;
}

static int invalid(char **ret_error, const char *format, const char *arg) {
        if (ret_error && asprintf(ret_error, format, arg) < 0)
                *ret_error = NULL;
        return -EBADMSG;
}

int event_validate(const char *line, char **ret_error) {
        json_object *o = NULL, *v;
        enum json_tokener_error e;
        struct tm tm = {};
        int r = 0;

        if (!line || !*line || line[strlen(line) - 1] != '\n' || strchr(line, '\n') != line + strlen(line) - 1)
                return invalid(ret_error, "An event is one line ending in a newline%s.", "");
        o = json_tokener_parse_verbose(line, &e);
        if (!o)
                return invalid(ret_error, "Not JSON: %s.", json_tokener_error_desc(e));
        if (!json_object_is_type(o, json_type_object))
                r = invalid(ret_error, "An event is a JSON object%s.", "");
        else if (!json_object_object_get_ex(o, "v", &v) || !json_object_is_type(v, json_type_int) ||
                 json_object_get_int(v) != EVENTS_VERSION)
                r = invalid(ret_error, "\"v\" is missing or not %s.", "1");
        else if (!json_object_object_get_ex(o, "time", &v) || !json_object_is_type(v, json_type_string))
                r = invalid(ret_error, "\"time\" is missing or not a %s.", "string");
        else {
                const char *t = json_object_get_string(v), *end = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm);
                unsigned ms;
                int n = 0;
                if (!end || sscanf(end, ".%3u%n", &ms, &n) != 1 || n != 4 || !streq(end + n, "Z"))
                        r = invalid(ret_error, "\"time\" %s is not YYYY-MM-DDTHH:MM:SS.mmmZ.", t);
        }
        if (r >= 0) {
                enum event_type type = _EVENT_TYPE_INVALID;
                if (json_object_object_get_ex(o, "event", &v) && json_object_is_type(v, json_type_string))
                        type = event_type_from_string(json_object_get_string(v));
                const struct field *f = required_fields(type);
                if (!f)
                        r = invalid(ret_error, "\"event\" is missing or not a known event type%s.", "");
                for (; r >= 0 && f->key; f++) {
                        bool has = json_object_object_get_ex(o, f->key, &v);
                        if (!has || !field_ok(v, f->type))
                                r = invalid(ret_error, "Key \"%s\" is missing or has the wrong type.", f->key);
                }
        }
        json_object_put(o);
        return r;
}

int events_emit(enum event_type type, json_object *fields) {
        _cleanup_free_ char *line = NULL;
        struct timeval tv;
        int r;

        if (!events_enabled())
                return 0;
        (void) gettimeofday(&tv, NULL);
        r = event_format(type, (uint64_t) tv.tv_sec * 1000000 + (uint64_t) tv.tv_usec, fields, &line);
        if (r < 0)
                return r;
        r = 0;
        FILE *sinks[] = { output, record };
        for (size_t i = 0; i < ELEMENTSOF(sinks); i++)
                if (sinks[i] && (fputs(line, sinks[i]) < 0 || fflush(sinks[i]) < 0))
                        r = -EIO;
        return r;
}

static json_object *string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

/* Adds key/value pairs to a new object and emits it; takes the values. */
static int emit_pairs(enum event_type type, size_t n, const char *const *keys, json_object **values) {
        json_object *o = json_object_new_object();
        int r = o ? 0 : -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                if (r >= 0 && json_object_object_add(o, keys[i], values[i]) >= 0)
                        continue;
                json_object_put(values[i]);
                r = -ENOMEM;
        }
        if (r >= 0)
                r = events_emit(type, o);
        json_object_put(o);
        return r;
}

#define EMIT(type, ...)                                                                 \
        ({                                                                              \
                static const char *const _k[] = { __VA_ARGS__ };                        \
                emit_pairs(type, ELEMENTSOF(_k), _k, _v);                               \
        })

int events_run_start(const char *verb, const char *plan_path) {
        if (!events_enabled())
                return 0;
        json_object *_v[] = { string_or_null(verb), string_or_null(plan_path) };
        return EMIT(EVENT_RUN_START, "verb", "plan");
}

int events_record_begin(FILE *f, const char *verb, const char *plan_path) {
        FILE *o = output;
        int r;

        /* Only f, for this one event; log_set_observer() is left alone. */
        output = NULL;
        record = f;
        json_object *_v[] = { string_or_null(verb), string_or_null(plan_path) };
        r = EMIT(EVENT_RUN_START, "verb", "plan");
        output = o;
        events_set_record(f);
        return r;
}

int events_run_end(const char *result, int exit_code, const char *error) {
        if (!events_enabled())
                return 0;
        if (!error && exit_code != 0)
                error = last_error;
        json_object *_v[] = { string_or_null(result), json_object_new_int(exit_code), string_or_null(error) };
        return EMIT(EVENT_RUN_END, "result", "exit", "error");
}

int events_step_start(const char *step, const char *kind, size_t index, size_t total) {
        if (!events_enabled())
                return 0;
        free(current_step);
        current_step = step ? strdup(step) : NULL;
        json_object *_v[] = { string_or_null(step), string_or_null(kind),
                              json_object_new_int64((int64_t) index), json_object_new_int64((int64_t) total) };
        return EMIT(EVENT_STEP_START, "step", "kind", "index", "total");
}

int events_step_end(const char *step, const char *kind, const char *state, const char *error) {
        if (!events_enabled())
                return 0;
        free(current_step);
        current_step = NULL;
        json_object *_v[] = { string_or_null(step), string_or_null(kind), string_or_null(state), string_or_null(error) };
        return EMIT(EVENT_STEP_END, "step", "kind", "state", "error");
}

int events_progress(const char *step, uint64_t done, uint64_t total) {
        if (!events_enabled())
                return 0;
        /* Rounded down to 0.1, so 100 means done. */
        double pct = total > 0 ? (double) (uint64_t) ((double) MIN(done, total) * 1000.0 / (double) total) / 10.0 : 0.0;
        json_object *_v[] = { string_or_null(step), json_object_new_int64((int64_t) done),
                              json_object_new_int64((int64_t) total), json_object_new_double(pct) };
        return EMIT(EVENT_PROGRESS, "step", "done", "total", "percent");
}

int events_message(enum event_type type, const char *step, const char *message) {
        if (type != EVENT_WARNING && type != EVENT_ERROR)
                return -EINVAL;
        if (!events_enabled())
                return 0;
        if (type == EVENT_ERROR && message) {
                free(last_error);
                last_error = strdup(message);
        }
        json_object *_v[] = { string_or_null(message), string_or_null(step ? step : current_step) };
        return EMIT(type, "message", "step");
}

int events_tail_seek_end(struct events_tail *t, const char *path) {
        struct stat st;

        free(t->partial);
        t->partial = NULL;
        if (stat(path, &st) < 0) {
                if (errno != ENOENT)
                        return -errno;
                t->offset = 0;
                return 0;
        }
        t->offset = st.st_size;
        return 0;
}

int events_tail_read(struct events_tail *t, const char *path, char ***ret_lines) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_strv_free_ char **lines = NULL;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t have = t->partial ? strlen(t->partial) : 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOENT) {
                t->offset = 0;
                *ret_lines = NULL;
                return 0;
        }
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size < t->offset) {
                /* A new run started the file afresh. */
                t->offset = 0;
                free(t->partial);
                t->partial = NULL;
                have = 0;
        }
        size_t n = (size_t) (st.st_size - t->offset);
        buf = malloc(have + n + 1);
        if (!buf)
                return -ENOMEM;
        if (have)
                memcpy(buf, t->partial, have);
        ssize_t k = n > 0 ? pread(fd, buf + have, n, t->offset) : 0;
        if (k < 0)
                return -errno;
        t->offset += k;
        buf[have + (size_t) k] = '\0';

        char *p = buf;
        for (char *nl; (nl = strchr(p, '\n')); p = nl + 1) {
                _cleanup_free_ char *line = strndup(p, (size_t) (nl - p + 1));
                if (!line || strv_extend(&lines, line) < 0)
                        return -ENOMEM;
        }
        free(t->partial);
        t->partial = *p ? strdup(p) : NULL;
        if (*p && !t->partial)
                return -ENOMEM;
        *ret_lines = TAKE_PTR(lines);
        return 0;
}

void events_tail_done(struct events_tail *t) {
        free(t->partial);
        t->partial = NULL;
}

static const char *get_str(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                                 : NULL;
}

static int64_t get_int(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

bool progress_filter_show(struct progress_filter *f, const char *line, int64_t now_sec) {
        json_object *o = json_tokener_parse(line);
        bool show = true;

        if (!o)
                return true; /* not ours to judge: event_describe() refuses it */
        switch (event_type_from_string(get_str(o, "event"))) {
        case EVENT_PROGRESS: {
                const char *step = get_str(o, "step");
                json_object *v;
                bool complete = json_object_object_get_ex(o, "percent", &v) && json_object_get_double(v) >= 100.0;
                if (f->step && step && streq(f->step, step)) {
                        if (now_sec - f->shown < PROGRESS_FILTER_SEC && !complete)
                                show = false;
                } else {
                        free(f->step);
                        f->step = step ? strdup(step) : NULL; /* out of memory: shown again next time */
                }
                if (show)
                        f->shown = now_sec;
                break;
        }
        case EVENT_STEP_START:
                free(f->step);
                f->step = NULL;
                break;
        default:
                break;
        }
        json_object_put(o);
        return show;
}

void progress_filter_done(struct progress_filter *f) {
        free(f->step);
        f->step = NULL;
}

int event_describe(const char *line, char **ret_text, int *ret_exit) {
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX], hms[9] = "";
        json_object *o, *v;
        char *text = NULL;
        int r, exit_code = -1;

        r = event_validate(line, NULL);
        if (r < 0)
                return r;
        o = json_tokener_parse(line);
        if (!o)
                return -EBADMSG;
        const char *t = get_str(o, "time");
        if (t && strlen(t) >= 19)
                memcpy(hms, t + 11, 8); /* validated: YYYY-MM-DDTHH:MM:SS... */
        const char *step = get_str(o, "step"), *error = get_str(o, "error");
        switch (event_type_from_string(get_str(o, "event"))) {
        case EVENT_RUN_START:
                r = asprintf(&text, "%s rootraid %s started (plan %s)", hms, get_str(o, "verb"), strna(get_str(o, "plan")));
                break;
        case EVENT_RUN_END:
                exit_code = (int) get_int(o, "exit");
                r = asprintf(&text, "%s rootraid ended: %s (exit %d)%s%s", hms, get_str(o, "result"), exit_code,
                             error ? ": " : "", strempty(error));
                break;
        case EVENT_STEP_START:
                r = asprintf(&text, "%s step %" PRIi64 "/%" PRIi64 " %s (%s) started", hms, get_int(o, "index") + 1,
                             get_int(o, "total"), step, get_str(o, "kind"));
                break;
        case EVENT_STEP_END:
                r = asprintf(&text, "%s step %s: %s%s%s", hms, step, get_str(o, "state"), error ? ": " : "",
                             strempty(error));
                break;
        case EVENT_PROGRESS: {
                double pct = json_object_object_get_ex(o, "percent", &v) ? json_object_get_double(v) : 0.0;
                uint64_t total = (uint64_t) get_int(o, "total");
                format_bytes(a, sizeof a, (uint64_t) get_int(o, "done"));
                if (total == 0) /* not known: a final sync's amount, say */
                        r = asprintf(&text, "%s   %s: %s so far", hms, step, a);
                else
                        r = asprintf(&text, "%s   %s: %5.1f%%  %s of %s", hms, step, pct, a,
                                     format_bytes(b, sizeof b, total));
                break;
        }
        case EVENT_WARNING:
        case EVENT_ERROR:
                r = asprintf(&text, "%s %s: %s", hms, streq(get_str(o, "event"), "error") ? "error" : "warning",
                             get_str(o, "message"));
                break;
        default:
                r = 0;
                text = NULL;
        }
        json_object_put(o);
        if (r < 0)
                return -ENOMEM;
        *ret_text = text;
        *ret_exit = exit_code;
        return 0;
}
