/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Small helpers shared by the executor and journal tests: assertions that
 * say where they failed, temporary directories, and plans built in C. */

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plan/plan.h"

#define ASSERT(cond)                                                                    \
        do {                                                                            \
                if (!(cond)) {                                                          \
                        fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
                        abort();                                                        \
                }                                                                       \
        } while (0)

#define ASSERT_OK(expr)                                                                 \
        do {                                                                            \
                long long _r = (long long) (expr);                                      \
                if (_r < 0) {                                                           \
                        fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, strerror((int) -_r)); \
                        abort();                                                        \
                }                                                                       \
        } while (0)

#define ASSERT_ERR(expr, err)                                                           \
        do {                                                                            \
                long long _r = (long long) (expr);                                      \
                if (_r != -(err)) {                                                     \
                        fprintf(stderr, "%s:%d: %s returned %lld, expected -%s\n", __FILE__, __LINE__, #expr, _r, #err); \
                        abort();                                                        \
                }                                                                       \
        } while (0)

#define ASSERT_CONTAINS(haystack, needle)                                               \
        do {                                                                            \
                const char *_h = (haystack);                                            \
                if (!_h || !strstr(_h, (needle))) {                                     \
                        fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, _h ? _h : "(null)", (needle)); \
                        abort();                                                        \
                }                                                                       \
        } while (0)

static inline int test_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

/* rm -rf */
static inline void test_rm_rf(const char *path) {
        (void) nftw(path, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new empty directory under $TMPDIR; caller frees and removes. */
static inline char *test_tmpdir(void) {
        const char *base = getenv("TMPDIR");
        char *t = NULL;
        if (asprintf(&t, "%s/rootraid-test-XXXXXX", base ? base : "/tmp") < 0 || !mkdtemp(t)) {
                perror("mkdtemp");
                abort();
        }
        return t;
}

static inline char *test_path(const char *dir, const char *name) {
        char *p = NULL;
        if (asprintf(&p, "%s/%s", dir, name) < 0)
                abort();
        return p;
}

static inline bool test_exists(const char *dir, const char *name) {
        char *p = test_path(dir, name);
        bool b = access(p, F_OK) == 0;
        free(p);
        return b;
}

/* Reads a whole small file, NULL if missing. */
static inline char *test_read(const char *dir, const char *name) {
        char *p = test_path(dir, name), *buf = NULL;
        size_t n = 0;
        FILE *f = fopen(p, "re");
        free(p);
        if (!f)
                return NULL;
        buf = calloc(1, 1 << 16);
        if (buf)
                n = fread(buf, 1, (1 << 16) - 1, f);
        buf[n] = 0;
        fclose(f);
        return buf;
}

static inline void test_write(const char *dir, const char *name, const char *content) {
        char *p = test_path(dir, name);
        FILE *f = fopen(p, "we");
        ASSERT(f);
        fputs(content, f);
        ASSERT(fclose(f) == 0);
        free(p);
}

/* A plan of n steps named ids[i], all of one kind, each with args
 * {"file": ids[i]}; point_of_no_return at ponr.  Built in C so that these
 * tests do not depend on the plan loader. */
static inline struct plan *test_plan_new(const char *fingerprint, const char *const *ids, size_t n, enum step_kind kind,
                                         size_t ponr) {
        struct plan *p = calloc(1, sizeof *p);
        ASSERT(p);
        p->format_version = PLAN_FORMAT_VERSION;
        p->fingerprint = strdup(fingerprint);
        p->steps = calloc(n, sizeof *p->steps);
        ASSERT(p->fingerprint && p->steps);
        p->n_steps = n;
        p->point_of_no_return = ponr;
        for (size_t i = 0; i < n; i++) {
                struct plan_step *s = &p->steps[i];
                s->id = strdup(ids[i]);
                s->kind = kind;
                s->args = json_object_new_object();
                json_object_object_add(s->args, "file", json_object_new_string(ids[i]));
                ASSERT(asprintf(&s->description, "Create the file %s", ids[i]) >= 0);
                s->reversible = true;
                s->undo = strdup("remove the file");
                s->writes_old_disk = i >= ponr;
        }
        return p;
}

static inline void test_plan_free(struct plan *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_steps; i++) {
                free(p->steps[i].id);
                json_object_put(p->steps[i].args);
                free(p->steps[i].description);
                free(p->steps[i].undo);
                json_object_put(p->steps[i].establishes);
        }
        free(p->steps);
        free(p->fingerprint);
        free(p);
}

/* The plan as a document for the journal's embedded copy: the test only
 * needs it to round-trip, not to be a complete plan. */
static inline json_object *test_plan_json(const struct plan *p) {
        json_object *o = json_object_new_object(), *steps = json_object_new_array();
        json_object_object_add(o, "fingerprint", json_object_new_string(p->fingerprint));
        for (size_t i = 0; i < p->n_steps; i++)
                json_object_array_add(steps, json_object_new_string(p->steps[i].id));
        json_object_object_add(o, "steps", steps);
        json_object_object_add(o, "ratio", json_object_new_double(0.1));
        return o;
}

static inline void test_unlink(const char *dir, const char *name) {
        char *p = test_path(dir, name);
        ASSERT(unlink(p) == 0);
        free(p);
}

#include "exec/journal.h"

/* A new journal for p (plan path "/root/plan.json") whose commits go to
 * every directory of dirs (NULL terminated). */
static inline struct journal *test_journal_new(const struct plan *p, char *const *dirs) {
        struct journal *j = NULL;
        json_object *pj = test_plan_json(p);
        ASSERT_OK(journal_new(p, "/root/plan.json", pj, &j));
        json_object_put(pj);
        for (size_t i = 0; dirs[i]; i++)
                ASSERT_OK(journal_add_location(j, dirs[i]));
        return j;
}

/* What resume does: the newest valid journal on disk. */
static inline struct journal *test_journal_load(char *const *dirs, char ***warnings) {
        struct journal *j = NULL;
        char *e = NULL;
        int r = journal_load(dirs, &j, warnings, &e);
        if (r < 0)
                fprintf(stderr, "journal_load: %s: %s\n", strerror(-r), e);
        ASSERT_OK(r);
        free(e);
        return j;
}

#include <fcntl.h>

/* Redirects stdout into a file under dir until test_capture_end(), which
 * returns what was printed (caller frees). */
struct test_capture {
        int saved;
        char *dir;
};

static inline void test_capture_begin(struct test_capture *c, const char *dir) {
        char *p = test_path(dir, "captured-stdout");
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        fflush(stdout);
        c->saved = dup(STDOUT_FILENO);
        c->dir = strdup(dir);
        ASSERT(fd >= 0 && c->saved >= 0 && c->dir);
        ASSERT(dup2(fd, STDOUT_FILENO) == STDOUT_FILENO);
        close(fd);
        free(p);
}

static inline char *test_capture_end(struct test_capture *c) {
        fflush(stdout);
        ASSERT(dup2(c->saved, STDOUT_FILENO) == STDOUT_FILENO);
        close(c->saved);
        char *text = test_read(c->dir, "captured-stdout");
        ASSERT(text);
        free(c->dir);
        return text;
}

/* One entry of write-fstab's "entries" argument. */
static inline json_object *test_fstab_entry(const char *mountpoint, const char *fstype, const char *old_uuid,
                                            const char *new_source) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "filesystem", json_object_new_string("fs"));
        json_object_object_add(e, "mountpoint", json_object_new_string(mountpoint));
        json_object_object_add(e, "fstype", json_object_new_string(fstype));
        json_object_object_add(e, "old_uuid", json_object_new_string(old_uuid));
        json_object_object_add(e, "new_source", json_object_new_string(new_source));
        return e;
}
