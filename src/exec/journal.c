/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The journal
 * ===========
 *
 * What it is for.  A migration takes hours and may be cut at any instant:
 * kill -9, a lost SSH session, a power cut, a reboot that is part of the
 * plan.  The journal records, for one plan, the state of every step, so that
 * `resume` knows where to continue and `rollback` knows what to undo.  It is
 * only a hint: the executor re-checks the machine's real state before it
 * trusts a "done" (see executor.c).
 *
 * Where it lives.  In every directory of j->locations: the old root's
 * /var/lib/rootraid, and TARGET/var/lib/rootraid once the new root is
 * mounted (so the journal survives whichever root the machine boots).  Every
 * commit writes every location; load reads them all and keeps the valid copy
 * with the highest generation.
 *
 * File format.  JOURNAL_FILE_NAME holds one line of JSON:
 *
 *   {"checksum":"crc32c:1a2b3c4d","journal":BODY}
 *
 * where BODY is a JSON object (format_version, generation, fingerprint,
 * plan_path, run_state, created, updated, steps[], plan) and the checksum is
 * CRC-32C of BODY's exact bytes.  The envelope is fixed text, so the
 * checksum is computed over bytes rather than a re-serialization, and the
 * file is still plain JSON for jq.  A copy whose envelope, checksum, JSON or
 * fields are wrong is ignored and reported, never "repaired".
 *
 * Commit protocol.  journal_commit() increments the generation, serializes
 * once and, for each location in order, calls write_file_atomic(): write
 * JOURNAL_FILE_NAME.tmp.PID, fsync it, rename it over JOURNAL_FILE_NAME,
 * fsync the directory.  The rename is the commit point of that location.
 * A crash leaves each location with either the previous or the new
 * generation (never a mixture inside one file), so load() sees generation
 * G or G+1 and picks G+1 wherever it reached disk.  A crash between two
 * locations leaves them one generation apart, which is the same case.
 * Leftover temporary files are removed when a location is (re)attached.
 *
 * Only one process may commit (the executor lock, lock.c); the generation
 * is therefore a total order of commits.
 *
 * Fault injection for the tests: ROOTRAID_FAULT_JOURNAL=POINT[@GEN] makes
 * the process SIGKILL itself at POINT ("before-write", "between-locations",
 * "after-write") of the commit of generation GEN (any, when omitted).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "exec/crc32c.h"
#include "exec/journal.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strutil.h"

#define ENVELOPE_PREFIX "{\"checksum\":\"crc32c:"
#define ENVELOPE_MIDDLE "\",\"journal\":"
#define ENVELOPE_SUFFIX "}\n"
#define JOURNAL_MAX_SIZE (64u << 20)

static const char *const step_state_table[_STEP_STATE_MAX] = {
        [STEP_STATE_PENDING] = "pending",
        [STEP_STATE_RUNNING] = "running",
        [STEP_STATE_DONE] = "done",
        [STEP_STATE_FAILED] = "failed",
        [STEP_STATE_UNDOING] = "undoing",
        [STEP_STATE_UNDONE] = "undone",
};
DEFINE_STRING_TABLE(step_state, enum step_state, _STEP_STATE_MAX)

static const char *const run_state_table[_RUN_STATE_MAX] = {
        [RUN_STATE_APPLYING] = "applying",
        [RUN_STATE_ROLLING_BACK] = "rolling-back",
        [RUN_STATE_FINISHED] = "finished",
        [RUN_STATE_ROLLED_BACK] = "rolled-back",
};
DEFINE_STRING_TABLE(run_state, enum run_state, _RUN_STATE_MAX)

static struct journal *log_owner; /* the journal whose log files receive messages */

static int set_error(char **ret_error, const char *format, ...) _printf_(2, 3);
static int set_error(char **ret_error, const char *format, ...) {
        va_list ap;

        if (!ret_error)
                return 0;
        free(*ret_error);
        *ret_error = NULL;
        va_start(ap, format);
        if (vasprintf(ret_error, format, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return 0;
}

static void fault_point(const char *point, uint64_t generation) {
        const char *e = getenv("ROOTRAID_FAULT_JOURNAL");
        size_t l = strlen(point);

        if (!e || strncmp(e, point, l) != 0)
                return;
        if (e[l] == '@') {
                if (strtoull(e + l + 1, NULL, 10) != generation)
                        return;
        } else if (e[l] != 0)
                return;
        (void) raise(SIGKILL); /* the test wants the process to die right here */
}

static void journal_steps_free(struct journal_step *steps, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(steps[i].id);
                free(steps[i].error);
                free(steps[i].boot_id);
        }
        free(steps);
}

struct journal *journal_free(struct journal *j) {
        if (!j)
                return NULL;
        journal_log_close(j);
        free(j->fingerprint);
        free(j->plan_path);
        json_object_put(j->plan);
        journal_steps_free(j->steps, j->n_steps);
        strv_free(j->locations);
        free(j);
        return NULL;
}

int journal_new(const struct plan *p, const char *plan_path, json_object *plan_json, struct journal **ret) {
        _cleanup_journal_free_ struct journal *j = NULL;

        if (!p || !p->fingerprint || !plan_json)
                return -EINVAL;
        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->format_version = JOURNAL_FORMAT_VERSION;
        j->run_state = RUN_STATE_APPLYING;
        j->created = j->updated = time(NULL);
        j->fingerprint = strdup(p->fingerprint);
        if (!j->fingerprint)
                return -ENOMEM;
        if (plan_path) {
                j->plan_path = strdup(plan_path);
                if (!j->plan_path)
                        return -ENOMEM;
        }
        j->plan = json_object_get(plan_json);
        j->steps = calloc(p->n_steps ? p->n_steps : 1, sizeof *j->steps);
        if (!j->steps)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_steps; i++) {
                j->steps[i].id = strdup(p->steps[i].id);
                if (!j->steps[i].id)
                        return -ENOMEM;
                j->n_steps = i + 1;
        }
        *ret = TAKE_PTR(j);
        return 0;
}

/* Whether the temporary file name (JOURNAL_FILE_NAME.tmp.PID) may belong
 * to a commit under way: its writer is a live process.  A process of
 * another boot that got the same PID keeps the garbage file until it is
 * gone too; a later commit by that PID truncates it. */
static bool temporary_in_use(const char *name) {
        const char *pid = name + strlen(JOURNAL_FILE_NAME ".tmp.");
        char *end;

        errno = 0;
        long n = strtol(pid, &end, 10);
        if (errno != 0 || end == pid || *end || n <= 0 || n > INT_MAX)
                return false;
        return kill((pid_t) n, 0) == 0 || errno == EPERM;
}

/* Removes JOURNAL_FILE_NAME.tmp.* left by a commit that was cut before its
 * rename: they are never read, but they would pile up across crashes.
 * Only those of dead writers: every reader (`status`, a resume waiting for
 * the lock) attaches the locations too, and removing the file of a commit
 * under way failed that commit's rename with ENOENT (a crash-matrix run
 * polling `status` stopped apply twice: "Cannot write the journal ...:
 * No such file or directory"). */
static void remove_stale_temporaries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d)))
                if (startswith(de->d_name, JOURNAL_FILE_NAME ".tmp.") && !temporary_in_use(de->d_name))
                        (void) unlinkat(dirfd(d), de->d_name, 0); /* garbage; failing to remove it is harmless */
        closedir(d);
}

static FILE *log_open_in(const char *dir) {
        _cleanup_free_ char *path = path_join(dir, JOURNAL_LOG_NAME);
        return path ? fopen(path, "ae") : NULL;
}

int journal_add_location(struct journal *j, const char *dir) {
        int r;

        if (strv_contains(j->locations, dir))
                return 0;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        remove_stale_temporaries(dir);
        r = strv_extend(&j->locations, dir);
        if (r < 0)
                return r;
        if (log_owner == j) {
                FILE **l = realloc(j->logs, (j->n_logs + 1) * sizeof *l);
                if (!l)
                        return -ENOMEM;
                j->logs = l;
                j->logs[j->n_logs] = log_open_in(dir);
                if (!j->logs[j->n_logs])
                        return -errno;
                j->n_logs++;
        }
        return 0;
}

int journal_remove_location(struct journal *j, const char *dir) {
        size_t n = strv_length(j->locations);

        for (size_t i = 0; i < n; i++) {
                if (!streq(j->locations[i], dir))
                        continue;
                free(j->locations[i]);
                memmove(j->locations + i, j->locations + i + 1, (n - i) * sizeof(char *));
                /* logs are opened in location order, one per location */
                if (i < j->n_logs) {
                        (void) fclose(j->logs[i]); /* append-only log; nothing to report */
                        memmove(j->logs + i, j->logs + i + 1, (j->n_logs - i - 1) * sizeof(FILE *));
                        j->n_logs--;
                }
                return 0;
        }
        return -ENOENT;
}

static int format_time(time_t t, json_object **ret) {
        struct tm tm;
        char buf[32];

        if (t == 0) {
                *ret = NULL; /* json null */
                return 0;
        }
        if (!gmtime_r(&t, &tm) || strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return -EINVAL;
        *ret = json_object_new_string(buf);
        return *ret ? 0 : -ENOMEM;
}

static int parse_time(json_object *o, time_t *ret) {
        struct tm tm = {};
        const char *s, *e;

        if (!o) {
                *ret = 0;
                return 0;
        }
        if (!json_object_is_type(o, json_type_string))
                return -EBADMSG;
        s = json_object_get_string(o);
        e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (!e || *e)
                return -EBADMSG;
        *ret = timegm(&tm);
        return 0;
}

static int add(json_object *obj, const char *key, json_object *v) {
        /* json-c takes ownership of v even on failure */
        return json_object_object_add(obj, key, v) < 0 ? -ENOMEM : 0;
}

static int add_string(json_object *obj, const char *key, const char *s) {
        json_object *v = NULL;
        if (s) {
                v = json_object_new_string(s);
                if (!v)
                        return -ENOMEM;
        }
        return add(obj, key, v);
}

static int add_time(json_object *obj, const char *key, time_t t) {
        json_object *v;
        int r = format_time(t, &v);
        return r < 0 ? r : add(obj, key, v);
}

int journal_to_json(const struct journal *j, json_object **ret) {
        json_object *o = json_object_new_object(), *steps = json_object_new_array();
        int r;

        if (!o || !steps) {
                json_object_put(o);
                json_object_put(steps);
                return -ENOMEM;
        }
        r = add(o, "format_version", json_object_new_int(j->format_version));
        if (r >= 0)
                r = add(o, "generation", json_object_new_int64((int64_t) j->generation));
        if (r >= 0)
                r = add_string(o, "fingerprint", j->fingerprint);
        if (r >= 0)
                r = add_string(o, "plan_path", j->plan_path);
        if (r >= 0)
                r = add_string(o, "run_state", run_state_to_string(j->run_state));
        if (r >= 0)
                r = add_time(o, "created", j->created);
        if (r >= 0)
                r = add_time(o, "updated", j->updated);
        for (size_t i = 0; r >= 0 && i < j->n_steps; i++) {
                const struct journal_step *s = &j->steps[i];
                json_object *so = json_object_new_object();
                if (!so) {
                        r = -ENOMEM;
                        break;
                }
                if (json_object_array_add(steps, so) < 0) {
                        json_object_put(so);
                        r = -ENOMEM;
                        break;
                }
                r = add_string(so, "id", s->id);
                if (r >= 0)
                        r = add_string(so, "state", step_state_to_string(s->state));
                if (r >= 0)
                        r = add(so, "attempts", json_object_new_int((int) s->attempts));
                if (r >= 0)
                        r = add_time(so, "started", s->started);
                if (r >= 0)
                        r = add_time(so, "finished", s->finished);
                if (r >= 0)
                        r = add_string(so, "error", s->error);
                if (r >= 0)
                        r = add_string(so, "boot_id", s->boot_id);
        }
        if (r >= 0) {
                r = add(o, "steps", steps);
                steps = NULL;
        }
        if (r >= 0)
                r = add(o, "plan", json_object_get(j->plan));
        json_object_put(steps);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}

/* The file's bytes: envelope around the body, checksum over the body. */
static int journal_serialize(const struct journal *j, char **ret) {
        json_object *o = NULL;
        char *text;
        int r;

        r = journal_to_json(j, &o);
        if (r < 0)
                return r;
        const char *body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        if (!body) {
                json_object_put(o);
                return -ENOMEM;
        }
        r = asprintf(&text, ENVELOPE_PREFIX "%08x" ENVELOPE_MIDDLE "%s" ENVELOPE_SUFFIX,
                     crc32c(0, body, strlen(body)), body);
        json_object_put(o);
        if (r < 0)
                return -ENOMEM;
        *ret = text;
        return 0;
}

int journal_commit(struct journal *j, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t n = strv_length(j->locations);
        int r;

        if (n == 0) {
                set_error(ret_error, "The journal has no location to be written to.");
                return -EINVAL;
        }
        j->generation++;
        j->updated = time(NULL);
        r = journal_serialize(j, &text);
        if (r < 0) {
                set_error(ret_error, "Cannot serialize the journal: %s", strerror(-r));
                return r;
        }
        fault_point("before-write", j->generation);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = path_join(j->locations[i], JOURNAL_FILE_NAME);
                if (!path)
                        return -ENOMEM;
                if (i > 0)
                        fault_point("between-locations", j->generation);
                /* Commit point of this location: the rename inside
                 * write_file_atomic() makes generation j->generation the one
                 * found here after a crash. */
                r = write_file_atomic(path, text, strlen(text), 0600);
                if (r < 0) {
                        set_error(ret_error, "Cannot write the journal %s: %s", path, strerror(-r));
                        return r;
                }
        }
        fault_point("after-write", j->generation);
        return 0;
}

/* Field accessors for parsing: each checks the type strictly. */
static json_object *get(json_object *o, const char *key, json_type type, bool nullable, int *r) {
        json_object *v = NULL;

        if (*r < 0)
                return NULL;
        if (!json_object_object_get_ex(o, key, &v)) {
                *r = -EBADMSG;
                return NULL;
        }
        if (!v && nullable)
                return NULL;
        if (!json_object_is_type(v, type)) {
                *r = -EBADMSG;
                return NULL;
        }
        return v;
}

static int dup_string(json_object *v, char **ret) {
        if (!v) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

/* Parses one copy; *ret_why says why it is not valid. */
static int journal_parse(const char *text, size_t size, struct journal **ret, char **ret_why) {
        _cleanup_journal_free_ struct journal *j = NULL;
        const size_t lp = strlen(ENVELOPE_PREFIX), lm = strlen(ENVELOPE_MIDDLE), ls = strlen(ENVELOPE_SUFFIX);
        json_tokener *tok = NULL;
        json_object *o = NULL, *steps;
        char hex[9] = {}, *end;
        int r = 0;

        if (size < lp + 8 + lm + ls || memcmp(text, ENVELOPE_PREFIX, lp) != 0 ||
            memcmp(text + lp + 8, ENVELOPE_MIDDLE, lm) != 0)
                return set_error(ret_why, "it does not start like a rootraid journal"), -EBADMSG;
        if (memcmp(text + size - ls, ENVELOPE_SUFFIX, ls) != 0)
                return set_error(ret_why, "it is truncated (torn write)"), -EBADMSG;
        memcpy(hex, text + lp, 8);
        uint32_t want = (uint32_t) strtoul(hex, &end, 16);
        /* Exactly the lower-case digits journal_serialize() writes. */
        if (*end || strspn(hex, "0123456789abcdef") != 8)
                return set_error(ret_why, "its checksum field is malformed"), -EBADMSG;
        const char *body = text + lp + 8 + lm;
        size_t body_size = size - lp - 8 - lm - ls;
        uint32_t got = crc32c(0, body, body_size);
        if (got != want)
                return set_error(ret_why, "its checksum does not match (torn or corrupted copy: crc32c %08x, expected %08x)",
                                 got, want), -EBADMSG;

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, body, (int) body_size);
        if (!o || json_tokener_get_parse_end(tok) != body_size) {
                json_tokener_free(tok);
                json_object_put(o);
                return set_error(ret_why, "its body is not valid JSON"), -EBADMSG;
        }
        json_tokener_free(tok);

        j = calloc(1, sizeof *j);
        if (!j) {
                json_object_put(o);
                return -ENOMEM;
        }
        json_object *v = get(o, "format_version", json_type_int, false, &r);
        if (r >= 0 && json_object_get_int(v) != JOURNAL_FORMAT_VERSION) {
                set_error(ret_why, "its format version %d is not %d", json_object_get_int(v), JOURNAL_FORMAT_VERSION);
                json_object_put(o);
                return -EBADMSG;
        }
        j->format_version = JOURNAL_FORMAT_VERSION;
        v = get(o, "generation", json_type_int, false, &r);
        if (v)
                j->generation = (uint64_t) json_object_get_int64(v);
        if (r >= 0)
                r = dup_string(get(o, "fingerprint", json_type_string, false, &r), &j->fingerprint);
        if (r >= 0)
                r = dup_string(get(o, "plan_path", json_type_string, true, &r), &j->plan_path);
        v = get(o, "run_state", json_type_string, false, &r);
        if (v) {
                j->run_state = run_state_from_string(json_object_get_string(v));
                if (j->run_state < 0)
                        r = -EBADMSG;
        }
        if (r >= 0)
                r = parse_time(get(o, "created", json_type_string, false, &r), &j->created);
        if (r >= 0)
                r = parse_time(get(o, "updated", json_type_string, false, &r), &j->updated);
        v = get(o, "plan", json_type_object, false, &r);
        if (v)
                j->plan = json_object_get(v);
        steps = get(o, "steps", json_type_array, false, &r);
        if (steps) {
                size_t n = json_object_array_length(steps);
                j->steps = calloc(n ? n : 1, sizeof *j->steps);
                if (!j->steps)
                        r = -ENOMEM;
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        json_object *so = json_object_array_get_idx(steps, i);
                        struct journal_step *s = &j->steps[i];
                        j->n_steps = i + 1;
                        if (!json_object_is_type(so, json_type_object)) {
                                r = -EBADMSG;
                                break;
                        }
                        r = dup_string(get(so, "id", json_type_string, false, &r), &s->id);
                        v = get(so, "state", json_type_string, false, &r);
                        if (v) {
                                s->state = step_state_from_string(json_object_get_string(v));
                                if (s->state < 0)
                                        r = -EBADMSG;
                        }
                        v = get(so, "attempts", json_type_int, false, &r);
                        if (v) {
                                if (json_object_get_int(v) < 0)
                                        r = -EBADMSG;
                                s->attempts = (unsigned) json_object_get_int(v);
                        }
                        if (r >= 0)
                                r = parse_time(get(so, "started", json_type_string, true, &r), &s->started);
                        if (r >= 0)
                                r = parse_time(get(so, "finished", json_type_string, true, &r), &s->finished);
                        if (r >= 0)
                                r = dup_string(get(so, "error", json_type_string, true, &r), &s->error);
                        if (r >= 0)
                                r = dup_string(get(so, "boot_id", json_type_string, true, &r), &s->boot_id);
                }
        }
        json_object_put(o);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return set_error(ret_why, "a field is missing or has the wrong type"), -EBADMSG;
        *ret = TAKE_PTR(j);
        return 0;
}

static int warn_older(char ***warnings, const char *old_path, const struct journal *old, const char *new_path,
                      const struct journal *new) {
        _cleanup_free_ char *w = NULL;
        if (asprintf(&w, "The journal copy %s is older (generation %llu) than %s (generation %llu); using the newer one.",
                     old_path, (unsigned long long) old->generation, new_path, (unsigned long long) new->generation) < 0)
                return -ENOMEM;
        return strv_extend(warnings, w);
}

int journal_load(char *const *dirs, struct journal **ret, char ***ret_warnings, char **ret_error) {
        _cleanup_journal_free_ struct journal *best = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_free_ char *best_path = NULL;
        bool any = false;
        int r;

        for (size_t i = 0; dirs && dirs[i]; i++) {
                _cleanup_free_ char *path = path_join(dirs[i], JOURNAL_FILE_NAME), *text = NULL, *why = NULL;
                struct journal *j = NULL;
                size_t size;

                if (!path)
                        return -ENOMEM;
                r = read_full_file(path, JOURNAL_MAX_SIZE, &text, &size);
                if (r == -ENOENT)
                        continue;
                any = true;
                if (r < 0) {
                        why = strdup(strerror(-r));
                        if (!why)
                                return -ENOMEM;
                } else {
                        r = journal_parse(text, size, &j, &why);
                        if (r == -ENOMEM)
                                return r;
                }
                if (r < 0) {
                        _cleanup_free_ char *w = NULL;
                        if (asprintf(&w, "Ignoring the journal copy %s: %s.", path, strna(why)) < 0)
                                return -ENOMEM;
                        r = strv_extend(&warnings, w);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (best && best->generation == j->generation && !streq_ptr(best->fingerprint, j->fingerprint)) {
                        /* Two valid copies of the same generation for different
                         * plans: someone copied journals around.  Refuse to guess. */
                        set_error(ret_error, "The journals %s and %s have the same generation %llu but belong to different plans.",
                                  best_path, path, (unsigned long long) j->generation);
                        journal_free(j);
                        return -EBADMSG;
                }
                if (!best || j->generation > best->generation) {
                        if (best && warn_older(&warnings, best_path, best, path, j) < 0) {
                                journal_free(j);
                                return -ENOMEM;
                        }
                        journal_free(best);
                        best = j;
                        free(best_path);
                        best_path = TAKE_PTR(path);
                } else {
                        if (j->generation < best->generation && warn_older(&warnings, path, j, best_path, best) < 0) {
                                journal_free(j);
                                return -ENOMEM;
                        }
                        journal_free(j);
                }
        }

        if (!best) {
                if (!any) {
                        set_error(ret_error, "No journal found: nothing was applied here.");
                        return -ENOENT;
                }
                _cleanup_free_ char *all = NULL;
                for (size_t i = 0; warnings && warnings[i]; i++) {
                        char *t = NULL;
                        if (asprintf(&t, "%s%s%s", strempty(all), all ? " " : "", warnings[i]) < 0)
                                return -ENOMEM;
                        free(all);
                        all = t;
                }
                set_error(ret_error, "No valid journal copy. %s", strempty(all));
                return -EBADMSG;
        }
        for (size_t i = 0; dirs[i]; i++) {
                r = journal_add_location(best, dirs[i]);
                if (r < 0) {
                        set_error(ret_error, "Cannot use the journal directory %s: %s", dirs[i], strerror(-r));
                        return r;
                }
        }
        *ret = TAKE_PTR(best);
        if (ret_warnings)
                *ret_warnings = TAKE_PTR(warnings);
        return 0;
}

int journal_find_step(const struct journal *j, const char *id) {
        for (size_t i = 0; i < j->n_steps; i++)
                if (streq(j->steps[i].id, id))
                        return (int) i;
        return -ENOENT;
}

int journal_set_step_state(struct journal *j, size_t i, enum step_state state, const char *error) {
        struct journal_step *s;
        char *e = NULL;

        if (i >= j->n_steps || state < 0 || state >= _STEP_STATE_MAX)
                return -EINVAL;
        if (error) {
                e = strdup(error);
                if (!e)
                        return -ENOMEM;
        }
        s = &j->steps[i];
        switch (state) {
        case STEP_STATE_RUNNING:
                s->attempts++;
                __attribute__((fallthrough));
        case STEP_STATE_UNDOING: {
                char *boot = NULL;
                /* Without /proc (a test chroot) the step simply has no boot id. */
                if (read_one_line_file("/proc/sys/kernel/random/boot_id", &boot) >= 0) {
                        free(s->boot_id);
                        s->boot_id = boot;
                }
                s->started = time(NULL);
                s->finished = 0;
                break;
        }
        case STEP_STATE_DONE:
        case STEP_STATE_FAILED:
        case STEP_STATE_UNDONE:
                s->finished = time(NULL);
                break;
        default:
                break;
        }
        free(s->error);
        s->error = e;
        s->state = state;
        return 0;
}

int journal_check_plan(const struct journal *j, const struct plan *p, char **ret_error) {
        if (!streq_ptr(j->fingerprint, p->fingerprint)) {
                if (j->plan_path)
                        set_error(ret_error, "The journal belongs to another plan (%s, fingerprint %s), not to the plan with fingerprint %s.",
                                  j->plan_path, strna(j->fingerprint), strna(p->fingerprint));
                else
                        set_error(ret_error, "The journal belongs to another plan (fingerprint %s), not to the plan with fingerprint %s.",
                                  strna(j->fingerprint), strna(p->fingerprint));
                return -ESTALE;
        }
        if (j->n_steps != p->n_steps) {
                set_error(ret_error, "The journal has %zu steps but the plan has %zu.", j->n_steps, p->n_steps);
                return -ESTALE;
        }
        for (size_t i = 0; i < p->n_steps; i++)
                if (!streq_ptr(j->steps[i].id, p->steps[i].id)) {
                        set_error(ret_error, "Step %zu is '%s' in the journal but '%s' in the plan.", i + 1,
                                  strna(j->steps[i].id), strna(p->steps[i].id));
                        return -ESTALE;
                }
        return 0;
}

static void log_sink(enum log_level level, const char *msg, void *userdata) {
        static const char *const names[_LOG_LEVEL_MAX] = { "debug", "info", "notice", "warning", "error" };
        struct journal *j = userdata;
        char stamp[32] = "";
        struct tm tm;
        time_t now = time(NULL);

        if (gmtime_r(&now, &tm))
                (void) strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
        for (size_t i = 0; i < j->n_logs; i++) {
                /* A full or vanished log must not stop a migration: the
                 * journal itself is what resume relies on. */
                (void) fprintf(j->logs[i], "%s %s %s\n", stamp,
                               level >= 0 && level < _LOG_LEVEL_MAX ? names[level] : "?", msg);
                (void) fflush(j->logs[i]);
        }
}

int journal_log_open(struct journal *j) {
        size_t n = strv_length(j->locations);

        journal_log_close(j);
        j->logs = calloc(n ? n : 1, sizeof *j->logs);
        if (!j->logs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                j->logs[i] = log_open_in(j->locations[i]);
                if (!j->logs[i]) {
                        int r = -errno;
                        journal_log_close(j);
                        return r;
                }
                j->n_logs = i + 1;
        }
        log_owner = j;
        log_set_sink(log_sink, j);
        return 0;
}

void journal_log_close(struct journal *j) {
        if (log_owner == j) {
                log_set_sink(NULL, NULL);
                log_owner = NULL;
        }
        for (size_t i = 0; i < j->n_logs; i++)
                (void) fclose(j->logs[i]); /* append-only log; nothing to report */
        free(j->logs);
        j->logs = NULL;
        j->n_logs = 0;
}
