/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The in-process API the executor uses: copy_tracker_start() before
 * copy_tree(), changes to SRC, copy_sync() with the tracker; the sync must
 * use the record (no full comparison) and copy_verify() must then find no
 * difference, also for a file with several names that changed, through
 * the link map.  Run by test-copy-api.sh on loop images.
 * Usage: test-copy-api SRC DST LINK_MAP */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy/copy.h"
#include "util/macro.h"

static int write_file(const char *dir, const char *name, const char *text) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text))
                return -errno;
        return 0;
}

static void on_message(enum copy_message_kind kind, const char *path, const char *text, void *userdata) {
        printf("%s: %s: %s\n", copy_message_kind_to_string(kind), path, text);
}

int main(int argc, char *argv[]) {
        struct copy_options o = { .message = on_message, .checksum = true };
        struct copy_stats st = {};
        _cleanup_(copy_tracker_freep) struct copy_tracker *t = NULL;
        _cleanup_free_ char *error = NULL;
        char path[4096], path2[4096];
        int r;

        if (argc != 4) {
                fprintf(stderr, "usage: %s SRC DST LINK_MAP\n", argv[0]);
                return 2;
        }
        o.src = argv[1];
        o.dst = argv[2];
        o.link_map = argv[3];

        r = copy_tracker_start(o.src, &t);
        if (r == -EOPNOTSUPP) {
                printf("SKIP: no fanotify filesystem marks here\n");
                return 77;
        }
        if (r < 0) {
                fprintf(stderr, "FAIL: copy_tracker_start: %s\n", strerror(-r));
                return 1;
        }
        r = copy_tree(&o, &st, &error);
        if (r < 0) {
                fprintf(stderr, "FAIL: copy_tree: %s\n", strna(error));
                return 1;
        }

        /* Changes after the first pass: new, rewritten, renamed, deleted. */
        snprintf(path, sizeof path, "%s/api-dir", o.src);
        if (mkdir(path, 0750) < 0 || write_file(path, "new", "new file\n") < 0 ||
            write_file(o.src, "data/small", "rewritten\n") < 0) {
                fprintf(stderr, "FAIL: changing SRC: %m\n");
                return 1;
        }
        snprintf(path, sizeof path, "%s/data/random-odd", o.src);
        snprintf(path2, sizeof path2, "%s/api-dir/renamed", o.src);
        if (rename(path, path2) < 0) {
                fprintf(stderr, "FAIL: rename: %m\n");
                return 1;
        }
        snprintf(path, sizeof path, "%s/names/-dash", o.src);
        if (unlink(path) < 0) {
                fprintf(stderr, "FAIL: unlink: %m\n");
                return 1;
        }
        /* A new name and new contents for a file whose other names do not
         * change: only the link map says where their copy is. */
        snprintf(path, sizeof path, "%s/hard/a/one", o.src);
        snprintf(path2, sizeof path2, "%s/api-dir/one-more", o.src);
        if (link(path, path2) < 0 || write_file(o.src, "api-dir/one-more", "linked, rewritten\n") < 0) {
                fprintf(stderr, "FAIL: link: %m\n");
                return 1;
        }

        st = (struct copy_stats) {};
        r = copy_sync(&o, t, NULL, &st, &error);
        if (r < 0) {
                fprintf(stderr, "FAIL: copy_sync: %s\n", strna(error));
                return 1;
        }
        if (st.full_compare) {
                fprintf(stderr, "FAIL: copy_sync compared the whole tree\n");
                return 1;
        }
        if (st.files == 0 || st.deleted == 0) {
                fprintf(stderr, "FAIL: copy_sync wrote %ju entries and deleted %ju\n", (uintmax_t) st.files,
                        (uintmax_t) st.deleted);
                return 1;
        }
        st = (struct copy_stats) {};
        r = copy_verify(&o, &st, &error);
        if (r < 0 || st.differences > 0) {
                fprintf(stderr, "FAIL: copy_verify: %s, %ju differences\n", r < 0 ? strna(error) : "ran",
                        (uintmax_t) st.differences);
                return 1;
        }
        printf("PASS: in-process tracker, copy, sync and verify\n");
        return 0;
}
