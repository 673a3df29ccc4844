/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Runs a fuzz target over corpus files and directories without libFuzzer,
 * so the ordinary (and the sanitizer) build exercises every corpus file. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "util/fileio.h"
#include "util/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r = read_full_file(path, 16 * 1024 * 1024, &data, &size);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
                return r;
        }
        LLVMFuzzerTestOneInput((const uint8_t *) data, size);
        return 0;
}

int main(int argc, char *argv[]) {
        unsigned n = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %m\n", argv[i]);
                        return 1;
                }
                if (!S_ISDIR(st.st_mode)) {
                        if (run_file(argv[i]) < 0)
                                return 1;
                        n++;
                        continue;
                }
                struct dirent **names;
                int k = scandir(argv[i], &names, NULL, alphasort);
                if (k < 0) {
                        fprintf(stderr, "%s: %m\n", argv[i]);
                        return 1;
                }
                for (int j = 0; j < k; j++) {
                        _cleanup_free_ char *path = NULL;
                        if (names[j]->d_name[0] != '.' && asprintf(&path, "%s/%s", argv[i], names[j]->d_name) >= 0) {
                                if (run_file(path) < 0)
                                        return 1;
                                n++;
                        }
                        free(names[j]);
                }
                free(names);
        }
        printf("%u inputs ran through the target\n", n);
        return n > 0 ? 0 : 1;
}
