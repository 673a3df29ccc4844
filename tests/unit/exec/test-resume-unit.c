/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The resume unit's installer on a temporary sysroot: install writes
 * exactly the unit and its multi-user.target.wants symlink (pointing at
 * the path the booted root sees), twice is harmless, and remove leaves the
 * tree as it was, other units untouched. */
#include <ftw.h>
#include <limits.h>

#include "exec-test.h"
#include "exec/resume-unit.h"
#include "util/fileio.h"
#include "util/strutil.h"

static char **listing;
static size_t prefix_len;

static int collect(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        char *s = NULL;
        ASSERT(asprintf(&s, "%s%s", path + prefix_len, S_ISDIR(st->st_mode) ? "/" : "") > 0);
        ASSERT_OK(strv_extend(&listing, s));
        free(s);
        return 0;
}

static int cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Every path under root, sorted, one a line. */
static char *tree(const char *root) {
        char *out = strdup("");
        listing = NULL;
        prefix_len = strlen(root);
        ASSERT(nftw(root, collect, 16, FTW_PHYS) == 0);
        qsort(listing, strv_length(listing), sizeof(char *), cmp);
        for (char **l = listing; l && *l; l++) {
                char *n = NULL;
                ASSERT(asprintf(&n, "%s%s\n", out, *l) > 0);
                free(out);
                out = n;
        }
        strv_free(listing);
        return out;
}

int main(int argc, char *argv[]) {
        char *root = test_tmpdir(), *error = NULL, *text = NULL, *before, *after, *p;
        char target[PATH_MAX];
        size_t l;
        ssize_t n;

        /* A root as Debian leaves it: other units enabled. */
        p = test_path(root, "etc/systemd/system/multi-user.target.wants");
        ASSERT_OK(mkdir_p(p, 0755));
        free(p);
        p = test_path(root, "etc/systemd/system/multi-user.target.wants/ssh.service");
        ASSERT(symlink("/lib/systemd/system/ssh.service", p) == 0);
        free(p);
        p = test_path(root, "etc/systemd/system/sshd.service");
        ASSERT(symlink("/lib/systemd/system/ssh.service", p) == 0);
        free(p);
        before = tree(root);

        ASSERT_ERR(resume_unit_install(root, "rootraid", &error), EINVAL);
        ASSERT_CONTAINS(error, "rootraid");
        free(error);
        error = NULL;

        ASSERT_OK(resume_unit_install(root, "/usr/sbin/rootraid", &error));
        ASSERT_OK(resume_unit_install(root, "/usr/sbin/rootraid", &error)); /* again: harmless */
        after = tree(root);
        char *expected = NULL;
        ASSERT(asprintf(&expected, "%s", before) > 0);
        /* Exactly two new entries. */
        ASSERT(streq(after,
                     "/\n"
                     "/etc/\n"
                     "/etc/systemd/\n"
                     "/etc/systemd/system/\n"
                     "/etc/systemd/system/multi-user.target.wants/\n"
                     "/etc/systemd/system/multi-user.target.wants/rootraid-resume.service\n"
                     "/etc/systemd/system/multi-user.target.wants/ssh.service\n"
                     "/etc/systemd/system/rootraid-resume.service\n"
                     "/etc/systemd/system/sshd.service\n"));
        free(expected);
        free(after);

        /* The symlink names the unit as the booted system sees it, not
         * through the sysroot; the unit runs resume once the journal exists. */
        p = test_path(root, "etc/systemd/system/multi-user.target.wants/rootraid-resume.service");
        n = readlink(p, target, sizeof target - 1);
        ASSERT(n > 0);
        target[n] = '\0';
        ASSERT(streq(target, "/etc/systemd/system/rootraid-resume.service"));
        free(p);
        p = test_path(root, "etc/systemd/system/rootraid-resume.service");
        ASSERT_OK(read_full_file(p, 65536, &text, &l));
        ASSERT_CONTAINS(text, "\nExecStart=/usr/sbin/rootraid resume\n");
        ASSERT_CONTAINS(text, "\nConditionPathExists=/var/lib/rootraid/journal.json\n");
        ASSERT_CONTAINS(text, "\nAfter=local-fs.target\n");
        ASSERT_CONTAINS(text, "\nWantedBy=multi-user.target\n");
        struct stat st;
        ASSERT(stat(p, &st) == 0 && (st.st_mode & 07777) == 0644);
        free(text);
        free(p);

        /* A symlink pointing elsewhere (a stale install) is replaced. */
        p = test_path(root, "etc/systemd/system/multi-user.target.wants/rootraid-resume.service");
        ASSERT(unlink(p) == 0 && symlink("/nowhere", p) == 0);
        ASSERT_OK(resume_unit_install(root, "/usr/local/sbin/rootraid", &error));
        n = readlink(p, target, sizeof target - 1);
        ASSERT(n > 0);
        target[n] = '\0';
        ASSERT(streq(target, "/etc/systemd/system/rootraid-resume.service"));
        free(p);

        /* Remove: back to the tree before, twice is harmless. */
        ASSERT_OK(resume_unit_remove(root, &error));
        ASSERT_OK(resume_unit_remove(root, &error));
        after = tree(root);
        if (!streq(before, after)) {
                fprintf(stderr, "before:\n%safter:\n%s", before, after);
                abort();
        }
        free(after);

        /* On a root without systemd's directories, install creates them. */
        char *bare = test_tmpdir();
        ASSERT_OK(resume_unit_install(bare, "/usr/sbin/rootraid", &error));
        p = test_path(bare, "etc/systemd/system/rootraid-resume.service");
        ASSERT(access(p, F_OK) == 0);
        free(p);
        ASSERT_OK(resume_unit_remove(bare, &error));
        p = test_path(bare, "etc/systemd/system/multi-user.target.wants/rootraid-resume.service");
        ASSERT(access(p, F_OK) < 0 && errno == ENOENT);
        free(p);

        /* The template shipped in contrib/systemd/ is what install writes. */
        if (argc > 1) {
                char *shipped = NULL;
                ASSERT_OK(read_full_file(argv[1], 65536, &shipped, &l));
                ASSERT_OK(resume_unit_text("/usr/sbin/rootraid", &text));
                if (!streq(shipped, text)) {
                        fprintf(stderr, "%s differs from what rootraid installs:\n%s", argv[1], text);
                        abort();
                }
                free(shipped);
                free(text);
        }

        free(before);
        test_rm_rf(root);
        test_rm_rf(bare);
        free(root);
        free(bare);
        return 0;
}
