/* SPDX-License-Identifier: GPL-2.0-or-later */
/* JSON events: every emitter writes one line that is a version-1 event of
 * the documented shape (checked by event_validate() and by hand for the
 * exact bytes of one line), and the validator rejects what a consumer
 * could not rely on. */
#include "exec-test.h"
#include "exec/events.h"
#include "util/log.h"

static void assert_valid_lines(const char *text, size_t expected) {
        size_t n = 0;
        const char *p = text;
        while (*p) {
                const char *nl = strchr(p, '\n');
                ASSERT(nl);
                char *line = strndup(p, (size_t) (nl - p + 1)), *error = NULL;
                if (event_validate(line, &error) < 0) {
                        fprintf(stderr, "invalid event %s: %s\n", line, error);
                        abort();
                }
                free(line);
                n++;
                p = nl + 1;
        }
        ASSERT(n == expected);
}

static void assert_invalid(const char *line, const char *says) {
        char *error = NULL;
        ASSERT_ERR(event_validate(line, &error), EBADMSG);
        ASSERT_CONTAINS(error, says);
        free(error);
}

int main(void) {
        char *line = NULL, *buf = NULL;
        size_t size = 0;
        json_object *f = json_object_new_object();

        /* The exact bytes of one event: v, time and event first, the time
         * in UTC with milliseconds. */
        json_object_object_add(f, "step", json_object_new_string("copy-live-root"));
        json_object_object_add(f, "message", json_object_new_string("slow disk"));
        json_object_object_add(f, "event", json_object_new_string("overridden"));
        ASSERT_OK(event_format(EVENT_WARNING, 1795123456789000ULL, f, &line));
        ASSERT(streq(line, "{\"v\":1,\"time\":\"2026-11-19T21:24:16.789Z\",\"event\":\"warning\","
                           "\"step\":\"copy-live-root\",\"message\":\"slow disk\"}\n"));
        ASSERT_OK(event_validate(line, NULL));
        free(line);
        json_object_put(f);

        /* Nothing is written without an output. */
        ASSERT(!events_get_output());
        ASSERT_OK(events_run_start("apply", "/root/plan.json"));

        FILE *m = open_memstream(&buf, &size);
        ASSERT(m);
        events_set_output(m);
        ASSERT_OK(events_run_start("apply", "/root/plan.json"));
        ASSERT_OK(events_step_start("copy-live-root", "copy-live", 7, 21));
        ASSERT_OK(events_progress("copy-live-root", 512, 2048));
        ASSERT_OK(events_progress("copy-live-root", 2048, 2048));
        /* No step named: the one between step-start and step-end. */
        ASSERT_OK(events_message(EVENT_WARNING, NULL, "fanotify overflowed; comparing the whole tree"));
        ASSERT_OK(events_step_end("copy-live-root", "copy-live", "done", NULL));
        ASSERT_OK(events_message(EVENT_ERROR, NULL, "Hook /etc/rootraid/hooks.d/before-final-sync/10-db failed"));
        ASSERT_OK(events_run_end("failed", 7, "Hook failed \"quoted\"\nsecond line"));
        ASSERT_ERR(events_message(EVENT_PROGRESS, NULL, "x"), EINVAL);
        /* What is logged at warning level and above is an event too, and
         * run-end without an error of its own carries the last one. */
        log_info("not an event");
        log_warning("Logged warning %d.", 1);
        log_error("Logged error.");
        ASSERT_OK(events_run_end("failed", 7, NULL));
        events_set_output(NULL);
        fclose(m);

        assert_valid_lines(buf, 11);
        ASSERT_CONTAINS(buf, "\"event\":\"run-start\",\"verb\":\"apply\",\"plan\":\"/root/plan.json\"}\n");
        ASSERT_CONTAINS(buf, "\"event\":\"step-start\",\"step\":\"copy-live-root\",\"kind\":\"copy-live\",\"index\":7,\"total\":21}\n");
        ASSERT_CONTAINS(buf, "\"event\":\"progress\",\"step\":\"copy-live-root\",\"done\":512,\"total\":2048,\"percent\":25.0}\n");
        ASSERT_CONTAINS(buf, "\"done\":2048,\"total\":2048,\"percent\":100.0}\n");
        ASSERT_CONTAINS(buf, "\"event\":\"warning\",\"message\":\"fanotify overflowed; comparing the whole tree\",\"step\":\"copy-live-root\"}\n");
        ASSERT_CONTAINS(buf, "\"event\":\"step-end\",\"step\":\"copy-live-root\",\"kind\":\"copy-live\",\"state\":\"done\",\"error\":null}\n");
        ASSERT_CONTAINS(buf, "\"event\":\"error\",\"message\":\"Hook /etc/rootraid/hooks.d/before-final-sync/10-db failed\",\"step\":null}\n");
        /* A message with a newline stays on its line. */
        ASSERT_CONTAINS(buf, "\"result\":\"failed\",\"exit\":7,\"error\":\"Hook failed \\\"quoted\\\"\\nsecond line\"}\n");
        ASSERT_CONTAINS(buf, "\"event\":\"warning\",\"message\":\"Logged warning 1.\",\"step\":null}\n");
        ASSERT_CONTAINS(buf, "\"event\":\"error\",\"message\":\"Logged error.\",\"step\":null}\n");
        ASSERT_CONTAINS(buf, "\"event\":\"run-end\",\"result\":\"failed\",\"exit\":7,\"error\":\"Logged error.\"}\n");
        ASSERT(!strstr(buf, "not an event"));
        /* Without an output, logging emits nothing. */
        log_warning("after the output is gone");
        free(buf);

        /* status --follow's thinning (f580070): joining in the middle of a
         * step that reports every second, one line per 10 s is shown; its
         * 100% always; a new step starts afresh; other events all pass. */
        struct progress_filter thin = {};
        char pline[256];
        unsigned shown = 0;
        for (int t = 0; t <= 30; t++) {
                snprintf(pline, sizeof pline, "{\"v\":1,\"time\":\"2026-11-22T02:00:%02d.000Z\",\"event\":\"progress\","
                         "\"step\":\"copy-root\",\"done\":%d,\"total\":100,\"percent\":%d.0}\n", t, t + 60, t + 60);
                ASSERT(event_validate(pline, NULL) == 0);
                bool show = progress_filter_show(&thin, pline, 1000 + t);
                ASSERT(show == (t % 10 == 0));
                shown += show;
        }
        ASSERT(shown == 4);
        const char *full = "{\"v\":1,\"time\":\"2026-11-22T02:00:31.000Z\",\"event\":\"progress\",\"step\":\"copy-root\","
                           "\"done\":100,\"total\":100,\"percent\":100.0}\n";
        ASSERT(progress_filter_show(&thin, full, 1031));
        const char *warn = "{\"v\":1,\"time\":\"2026-11-22T02:00:31.000Z\",\"event\":\"warning\",\"message\":\"m\",\"step\":null}\n";
        ASSERT(progress_filter_show(&thin, warn, 1031));
        const char *start = "{\"v\":1,\"time\":\"2026-11-22T02:00:32.000Z\",\"event\":\"step-start\",\"step\":\"copy-boot\","
                            "\"kind\":\"copy-live\",\"index\":8,\"total\":25}\n";
        ASSERT(progress_filter_show(&thin, start, 1032));
        const char *other = "{\"v\":1,\"time\":\"2026-11-22T02:00:32.000Z\",\"event\":\"progress\",\"step\":\"copy-boot\","
                            "\"done\":1,\"total\":100,\"percent\":1.0}\n";
        ASSERT(progress_filter_show(&thin, other, 1032));  /* a new step's first line */
        ASSERT(!progress_filter_show(&thin, other, 1033)); /* and not its next second */
        progress_filter_done(&thin);

        /* What the validator refuses. */
        assert_invalid("{\"v\":1,\"time\":\"2026-11-19T21:24:16.789Z\",\"event\":\"warning\",\"step\":null}\n", "\"message\"");
        assert_invalid("{\"v\":2,\"time\":\"2026-11-19T21:24:16.789Z\",\"event\":\"warning\",\"message\":\"m\",\"step\":null}\n", "\"v\"");
        assert_invalid("{\"v\":1,\"time\":\"2026-11-18 18:04:16\",\"event\":\"warning\",\"message\":\"m\",\"step\":null}\n", "\"time\"");
        assert_invalid("{\"v\":1,\"time\":\"2026-11-19T21:24:16.789Z\",\"event\":\"party\"}\n", "known event type");
        assert_invalid("{\"v\":1,\"time\":\"2026-11-19T21:24:16.789Z\",\"event\":\"progress\",\"step\":\"s\",\"done\":\"1\",\"total\":2,\"percent\":50}\n", "\"done\"");
        assert_invalid("{\"v\":1}", "one line");
        assert_invalid("[1]\n", "JSON object");
        assert_invalid("{\"v\":1,\n\"time\":1}\n", "one line");
        return 0;
}
