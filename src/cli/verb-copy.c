/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rootraid copy: the copy engine on the command line (first pass, final
 * sync, verification), with a progress line on a terminal or JSON events. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/verbs.h"
#include "copy/copy.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strutil.h"

#define DEFAULT_STATE "/run/rootraid/copy.state"

struct ui {
        bool json;
        bool tty;
        bool line_shown;
};

/* JSON string: valid UTF-8 passes, other bytes become \u00XX of the
 * byte (names on Linux are bytes, not text). */
static void json_string(FILE *f, const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        fputc('"', f);
        while (*p) {
                unsigned c = *p;
                int len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
                bool valid = len > 1;
                for (int i = 1; valid && i < len; i++)
                        valid = (p[i] & 0xc0) == 0x80;
                if (len > 1 && valid) {
                        fwrite(p, 1, (size_t) len, f);
                        p += len;
                        continue;
                }
                if (c == '"' || c == '\\')
                        fprintf(f, "\\%c", c);
                else if (c < 0x20 || c >= 0x7f)
                        fprintf(f, "\\u%04x", c);
                else
                        fputc((int) c, f);
                p++;
        }
        fputc('"', f);
}

static void clear_line(struct ui *ui) {
        if (ui->line_shown) {
                fputs("\r\033[K", stderr);
                ui->line_shown = false;
        }
}

static void on_progress(const struct copy_progress *p, void *userdata) {
        struct ui *ui = userdata;
        double rate = p->elapsed > 0 ? (double) p->bytes_done / p->elapsed : 0;

        if (ui->json) {
                printf("{\"event\":\"progress\",\"bytes\":%" PRIu64 ",\"files\":%" PRIu64
                       ",\"bytes_total\":%" PRIu64 ",\"files_total\":%" PRIu64 ",\"elapsed\":%.1f,\"rate\":%.0f}\n",
                       p->bytes_done, p->files_done, p->bytes_total, p->files_total, p->elapsed, rate);
                fflush(stdout);
                return;
        }
        if (!ui->tty)
                return;
        char done[FORMAT_BYTES_MAX], total[FORMAT_BYTES_MAX], r[FORMAT_BYTES_MAX], eta[32] = "--:--";
        /* ETA from the larger of the two fractions: many small files cost
         * per file, big ones per byte. */
        double fb = p->bytes_total ? (double) p->bytes_done / (double) p->bytes_total : 0;
        double ff = p->files_total ? (double) p->files_done / (double) p->files_total : 0;
        double frac = MAX(fb, ff);
        if (frac > 0.01 && frac < 1) {
                unsigned s = (unsigned) (p->elapsed / frac - p->elapsed);
                snprintf(eta, sizeof eta, "%u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
        }
        fprintf(stderr, "\r\033[K%s / %s, %" PRIu64 " / %" PRIu64 " files, %s/s, ETA %s",
                format_bytes(done, sizeof done, p->bytes_done), format_bytes(total, sizeof total, p->bytes_total),
                p->files_done, p->files_total, format_bytes(r, sizeof r, (uint64_t) rate), eta);
        ui->line_shown = true;
}

static void on_message(enum copy_message_kind kind, const char *path, const char *text, void *userdata) {
        struct ui *ui = userdata;

        if (ui->json) {
                printf("{\"event\":\"%s\",\"path\":", copy_message_kind_to_string(kind));
                json_string(stdout, path);
                printf(",\"message\":");
                json_string(stdout, text);
                printf("}\n");
                fflush(stdout);
                return;
        }
        clear_line(ui);
        switch (kind) {
        case COPY_MESSAGE_DIFFERENCE:
                printf("%s: %s\n", path, text);
                break;
        case COPY_MESSAGE_INFO:
                log_info("%s", text);
                break;
        case COPY_MESSAGE_WARNING:
                log_warning("%s: %s", path, text);
                break;
        default:
                log_error("%s: %s", path, text);
        }
}

static void summary(struct ui *ui, const char *what, int r, const struct copy_stats *s, const char *error) {
        clear_line(ui);
        if (ui->json) {
                printf("{\"event\":\"done\",\"what\":\"%s\",\"result\":%d,\"files\":%" PRIu64 ",\"bytes\":%" PRIu64
                       ",\"hardlinks\":%" PRIu64 ",\"deleted\":%" PRIu64 ",\"vanished\":%" PRIu64
                       ",\"errors\":%" PRIu64 ",\"differences\":%" PRIu64 ",\"recorded\":%" PRIu64
                       ",\"full_compare\":%s,\"elapsed\":%.3f",
                       what, r, s->files, s->bytes, s->hardlinks, s->deleted, s->vanished, s->errors,
                       s->differences, s->recorded, s->full_compare ? "true" : "false", s->elapsed);
                if (error) {
                        printf(",\"error\":");
                        json_string(stdout, error);
                }
                printf("}\n");
                fflush(stdout);
                return;
        }
        if (streq(what, "verify")) {
                log_info("verify: %" PRIu64 " difference(s), in %.1f s.", s->differences, s->elapsed);
                return;
        }
        char b[FORMAT_BYTES_MAX], rate[FORMAT_BYTES_MAX];
        log_info("%s: %" PRIu64 " entries written, %s in %.1f s (%s/s); %" PRIu64 " hard links, %" PRIu64
                 " deleted, %" PRIu64 " vanished, %" PRIu64 " errors.",
                 what, s->files, format_bytes(b, sizeof b, s->bytes), s->elapsed,
                 format_bytes(rate, sizeof rate, s->elapsed > 0 ? (uint64_t) ((double) s->bytes / s->elapsed) : 0),
                 s->hardlinks, s->deleted, s->vanished, s->errors);
}

/* Forks the change recorder: it marks SRC, writes STATE and reports back
 * before we start copying; then it records until SIGUSR1/SIGTERM. */
static int start_recorder(const char *src, const char *state, pid_t *ret_pid) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return log_error_errno(errno, "Cannot create a pipe: %m");
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Cannot fork the change recorder: %m");
        if (pid == 0) {
                sigset_t set;
                int sig, r;
                struct copy_tracker *t = NULL;

                safe_close(p[0]);
                (void) setsid(); /* survive the terminal */
                (void) !chdir("/");
                sigemptyset(&set);
                sigaddset(&set, SIGUSR1);
                sigaddset(&set, SIGTERM);
                sigaddset(&set, SIGINT);
                sigaddset(&set, SIGHUP);
                sigprocmask(SIG_BLOCK, &set, NULL); /* before the tracker's thread exists */
                r = copy_tracker_start(src, &t);
                if (r >= 0)
                        r = copy_tracker_save(t, state, false);
                (void) !write(p[1], &r, sizeof r);
                safe_close(p[1]);
                if (r < 0)
                        _exit(1);
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null >= 0) {
                        dup2(null, 0);
                        dup2(null, 1);
                        dup2(null, 2);
                }
                do
                        sig = 0, (void) sigwait(&set, &sig);
                while (sig == SIGHUP);
                r = copy_tracker_save(t, state, true);
                copy_tracker_free(t);
                _exit(r < 0 ? 1 : 0);
        }
        safe_close(p[1]);
        int r = -EIO;
        ssize_t n = read(p[0], &r, sizeof r);
        safe_close(p[0]);
        if (n != sizeof r)
                return log_error_errno(EIO, "The change recorder died before it started.");
        if (r == -EOPNOTSUPP)
                return log_warning_errno(r, "This kernel or filesystem cannot report changes with fanotify; "
                                            "the final sync will compare the whole tree.");
        if (r < 0)
                return log_error_errno(r, "Cannot start recording changes on %s: %m", src);
        *ret_pid = pid;
        return 0;
}

static void help(void) {
        printf("Usage: rootraid copy [OPTIONS] SRC DST\n"
               "       rootraid copy --sync STATE [OPTIONS] SRC DST\n"
               "       rootraid copy --verify [--checksum] SRC DST\n\n"
               "Copy the filesystem mounted at SRC into the directory DST exactly (like\n"
               "rsync -aHAXS --numeric-ids, plus chattr flags), in parallel.  SRC is read\n"
               "through a private read-only bind mount, so files under mount points are\n"
               "copied and other filesystems are not.\n\n"
               "  -j --jobs N       worker threads (default: 4 per CPU, 8 to 64; to\n"
               "                    compare or sync, 16 per CPU, 32 to 64)\n"
               "     --track        record changes on SRC from before the copy until\n"
               "                    --sync (a background process writes --state)\n"
               "     --state FILE   where --track records (default " DEFAULT_STATE ")\n"
               "     --sync STATE   final sync: apply the changes recorded in STATE; without\n"
               "                    a usable record, compare the whole tree (and say so)\n"
               "     --rewrite      copy every file again, even where DST looks up to date (a\n"
               "                    DST that a power cut may have damaged)\n"
               "     --verify       compare SRC and DST, list every difference (exit 1)\n"
               "     --checksum     with --verify, compare file contents too\n"
               "     --json         print JSON events (one per line) instead of text\n"
               "  -h --help         show this help\n");
}

int verb_copy(int argc, char *argv[]) {
        enum { ARG_TRACK = 0x100, ARG_STATE, ARG_SYNC, ARG_REWRITE, ARG_VERIFY, ARG_CHECKSUM, ARG_JSON };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "jobs", required_argument, NULL, 'j' },
                { "track", no_argument, NULL, ARG_TRACK },
                { "state", required_argument, NULL, ARG_STATE },
                { "sync", required_argument, NULL, ARG_SYNC },
                { "rewrite", no_argument, NULL, ARG_REWRITE },
                { "verify", no_argument, NULL, ARG_VERIFY },
                { "checksum", no_argument, NULL, ARG_CHECKSUM },
                { "json", no_argument, NULL, ARG_JSON },
                { 0 }
        };
        struct ui ui = { .tty = isatty(STDERR_FILENO) };
        struct copy_options o = { .progress = on_progress, .message = on_message, .userdata = &ui };
        const char *state = NULL, *sync = NULL;
        bool track = false, verify = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "hj:", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'j': {
                        char *end;
                        unsigned long n = strtoul(optarg, &end, 10);
                        if (*end || n < 1 || n > 1024)
                                return log_error_errno(EINVAL, "--jobs wants a number from 1 to 1024, not '%s'.", optarg);
                        o.jobs = (unsigned) n;
                        break;
                }
                case ARG_TRACK:
                        track = true;
                        break;
                case ARG_STATE:
                        state = optarg;
                        break;
                case ARG_SYNC:
                        sync = optarg;
                        break;
                case ARG_REWRITE:
                        o.rewrite = true;
                        break;
                case ARG_VERIFY:
                        verify = true;
                        break;
                case ARG_CHECKSUM:
                        o.checksum = true;
                        break;
                case ARG_JSON:
                        ui.json = true;
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (argc - optind != 2)
                return log_error_errno(EINVAL, "rootraid copy wants SRC and DST. See 'rootraid copy --help'.");
        if ((track || state) + !!sync + verify > 1)
                return log_error_errno(EINVAL, "--track/--state, --sync and --verify do not go together.");
        if (o.rewrite && verify)
                return log_error_errno(EINVAL, "--rewrite and --verify do not go together.");
        if (o.checksum && !verify)
                return log_error_errno(EINVAL, "--checksum goes with --verify.");
        /* Absolute: the change recorder runs from "/". */
        _cleanup_free_ char *src = realpath(argv[optind], NULL), *dst = realpath(argv[optind + 1], NULL);
        _cleanup_free_ char *state_abs = NULL;
        if (!src || !dst)
                return log_error_errno(errno, "Cannot find %s: %m", !src ? argv[optind] : argv[optind + 1]);
        o.src = src;
        o.dst = dst;
        if (state && state[0] != '/') {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                if (!cwd || !(state_abs = path_join(cwd, state)))
                        return log_oom();
                state = state_abs;
        }
        if (ui.json)
                o.progress_interval_ms = 1000;
        /* Where a sync's time goes (bench/run, debugging). */
        o.timing = !isempty(getenv("ROOTRAID_COPY_TIMING"));

        struct copy_stats stats = {};
        _cleanup_free_ char *error = NULL;

        if (verify) {
                o.progress = NULL;
                r = copy_verify(&o, &stats, &error);
                if (r < 0)
                        return log_error_errno(r, "%s", strna(error));
                summary(&ui, "verify", stats.differences ? 1 : 0, &stats, NULL);
                return stats.differences ? 1 : 0;
        }
        _cleanup_free_ char *link_map = NULL;
        if (sync) {
                /* Written by the first pass next to its change record. */
                if (asprintf(&link_map, "%s.links", sync) < 0)
                        return log_oom();
                o.link_map = link_map;
                r = copy_sync(&o, NULL, sync, &stats, &error);
                summary(&ui, stats.full_compare ? "sync (full comparison)" : "sync (recorded changes)", r, &stats,
                        error);
                if (r < 0)
                        return log_error_errno(r, "%s", strna(error));
                return 0;
        }

        pid_t recorder = 0;
        if (track || state) {
                if (!state) {
                        (void) mkdir_p("/run/rootraid", 0700); /* write_file_atomic reports it */
                        state = DEFAULT_STATE;
                }
                r = start_recorder(o.src, state, &recorder);
                if (r < 0 && r != -EOPNOTSUPP)
                        return r;
                /* Where hard-linked files went, for the final sync. */
                if (asprintf(&link_map, "%s.links", state) < 0)
                        return log_oom();
                o.link_map = link_map;
        }
        r = copy_tree(&o, &stats, &error);
        summary(&ui, "copy", r, &stats, error);
        if (r < 0) {
                if (recorder > 0)
                        (void) kill(recorder, SIGTERM); /* the copy failed: nothing to sync */
                return log_error_errno(r, "%s", strna(error));
        }
        if (recorder > 0 && !ui.json)
                log_info("Recording changes in the background (pid %d) into %s; "
                         "run 'rootraid copy --sync %s %s %s' for the final sync.",
                         (int) recorder, state, state, o.src, o.dst);
        if (recorder > 0 && ui.json)
                printf("{\"event\":\"recording\",\"pid\":%d}\n", (int) recorder);
        return 0;
}
