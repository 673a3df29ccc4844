/* SPDX-License-Identifier: GPL-2.0-or-later */
/* write-crypttab and write-mdadm-conf through the executor: the rewritten
 * files say what the boot needs and keep everything else; applying twice
 * gives the same bytes; rollback restores the originals exactly, and
 * removes an mdadm.conf that did not exist before. */
#include "exec-test.h"
#include "exec/executor.h"
#include "steps/kinds.h"

static const char crypttab[] =
        "# <target name> <source device>         <key file>      <options>\n"
        "cryptroot  UUID=0d0d0d0d-1111-2222-3333-444444444444  none  luks,discard\n"
        "cryptswap\t/dev/disk/by-partuuid/abc-02\t/dev/urandom\tswap,cipher=aes-xts-plain64,size=512\n"
        "   # an indented comment naming cryptroot\n"
        "cryptdata UUID=5e5e5e5e-1111-2222-3333-444444444444 /etc/keys/data.key luks";

static const char mdadm_conf[] =
        "# mdadm.conf\n"
        "HOMEHOST <system>\n"
        "MAILADDR ops@example.org\n"
        "# an array of the old system, kept\n"
        "ARRAY /dev/md/backup metadata=1.2 UUID=aaaaaaaa:bbbbbbbb:cccccccc:dddddddd name=host:backup\n"
        "# a stale line for the array being made, dropped with its continuation\n"
        "ARRAY /dev/md/root metadata=1.2 name=host:root\n"
        "   UUID=01234567:89ABCDEF:01234567:89abcdef\n";

static json_object *obj(const char *k1, const char *v1, const char *k2, const char *v2, const char *k3, const char *v3) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, k1, json_object_new_string(v1));
        json_object_object_add(o, k2, json_object_new_string(v2));
        json_object_object_add(o, k3, json_object_new_string(v3));
        return o;
}

static struct plan *config_plan(const char *crypttab_path, const char *mdadm_path, const char *mailaddr) {
        static const char *const ids[] = { "write-crypttab", "write-mdadm-conf" };
        struct plan *p = test_plan_new("sha256:conf", ids, 2, STEP_WRITE_CRYPTTAB, 2);
        json_object *a = json_object_new_object(), *entries = json_object_new_array();

        json_object *e = obj("name", "cryptroot", "crypt", "cryptroot", "old_uuid", "0d0d0d0d-1111-2222-3333-444444444444");
        json_object_object_add(e, "new_source", json_object_new_string("UUID=7a7a7a7a-0000-4000-8000-000000000001"));
        json_object_array_add(entries, e);
        json_object_object_add(a, "path", json_object_new_string(crypttab_path));
        json_object_object_add(a, "entries", entries);
        json_object_put(p->steps[0].args);
        p->steps[0].args = a;

        p->steps[1].kind = STEP_WRITE_MDADM_CONF;
        a = json_object_new_object();
        json_object *arrays = json_object_new_array();
        json_object *r = obj("array", "root", "device", "/dev/md/root", "uuid", "01234567:89abcdef:01234567:89abcdef");
        json_object_object_add(r, "name", json_object_new_string("host:root"));
        json_object_object_add(r, "metadata", json_object_new_string("1.2"));
        json_object_array_add(arrays, r);
        r = obj("array", "boot", "device", "/dev/md/boot", "uuid", "fedcba98:76543210:fedcba98:76543210");
        json_object_object_add(r, "name", json_object_new_string("host:boot"));
        json_object_object_add(r, "metadata", json_object_new_string("1.0"));
        json_object_array_add(arrays, r);
        json_object_object_add(a, "path", json_object_new_string(mdadm_path));
        json_object_object_add(a, "mailaddr", mailaddr ? json_object_new_string(mailaddr) : NULL);
        json_object_object_add(a, "arrays", arrays);
        json_object_put(p->steps[1].args);
        p->steps[1].args = a;
        return p;
}

static const char expected_mdadm_conf[] =
        "# mdadm.conf\n"
        "HOMEHOST <system>\n"
        "MAILADDR ops@example.org\n"
        "# an array of the old system, kept\n"
        "ARRAY /dev/md/backup metadata=1.2 UUID=aaaaaaaa:bbbbbbbb:cccccccc:dddddddd name=host:backup\n"
        "# a stale line for the array being made, dropped with its continuation\n"
        "ARRAY /dev/md/root metadata=1.2 UUID=01234567:89abcdef:01234567:89abcdef name=host:root\n"
        "ARRAY /dev/md/boot metadata=1.0 UUID=fedcba98:76543210:fedcba98:76543210 name=host:boot\n";

static const char expected_crypttab[] =
        "# <target name> <source device>         <key file>      <options>\n"
        "cryptroot  UUID=7a7a7a7a-0000-4000-8000-000000000001  none  luks,discard\n"
        "cryptswap\t/dev/disk/by-partuuid/abc-02\t/dev/urandom\tswap,cipher=aes-xts-plain64,size=512\n"
        "   # an indented comment naming cryptroot\n"
        "cryptdata UUID=5e5e5e5e-1111-2222-3333-444444444444 /etc/keys/data.key luks";

int main(void) {
        char *tmp = test_tmpdir(), *etc = test_path(tmp, "etc"), *mdadm_dir = test_path(tmp, "etc/mdadm");
        char *state = test_path(tmp, "state"), *e = NULL;
        char *dirs[] = { state, NULL };
        struct executor_options opts = {};

        log_set_max_level(LOG_LEVEL_WARNING);
        ASSERT(mkdir(etc, 0755) == 0 && mkdir(mdadm_dir, 0755) == 0);
        test_write(etc, "crypttab", crypttab);
        test_write(mdadm_dir, "mdadm.conf", mdadm_conf);
        char *ct = test_path(etc, "crypttab"), *mc = test_path(mdadm_dir, "mdadm.conf");

        struct plan *p = config_plan(ct, mc, NULL);
        struct journal *j = test_journal_new(p, dirs);
        ASSERT_OK(executor_apply(p, j, step_table, &opts, &e));
        char *c = test_read(etc, "crypttab");
        ASSERT(streq(c, expected_crypttab));
        free(c);
        c = test_read(mdadm_dir, "mdadm.conf");
        ASSERT(streq(c, expected_mdadm_conf));
        free(c);

        /* Again: same bytes, nothing re-applied. */
        struct step_context ctx = { .plan = p };
        ASSERT(step_write_crypttab.check(&ctx, &p->steps[0]) > 0);
        ASSERT(step_write_mdadm_conf.check(&ctx, &p->steps[1]) > 0);
        ASSERT_OK(step_write_mdadm_conf.apply(&ctx, &p->steps[1]));
        c = test_read(mdadm_dir, "mdadm.conf");
        ASSERT(streq(c, expected_mdadm_conf));
        free(c);

        ASSERT_OK(executor_rollback(p, j, step_table, &opts, &e));
        c = test_read(etc, "crypttab");
        ASSERT(streq(c, crypttab));
        free(c);
        c = test_read(mdadm_dir, "mdadm.conf");
        ASSERT(streq(c, mdadm_conf));
        free(c);
        journal_free(j);
        test_plan_free(p);

        /* No mdadm.conf at all (mdadm was not installed): it is created,
         * with a MAILADDR, in a directory that did not exist; rollback
         * removes it again. */
        test_rm_rf(mdadm_dir);
        test_rm_rf(state);
        p = config_plan(ct, mc, "admin@example.org");
        j = test_journal_new(p, dirs);
        ASSERT_OK(executor_apply(p, j, step_table, &opts, &e));
        c = test_read(mdadm_dir, "mdadm.conf");
        ASSERT(streq(c, "MAILADDR admin@example.org\n"
                        "ARRAY /dev/md/root metadata=1.2 UUID=01234567:89abcdef:01234567:89abcdef name=host:root\n"
                        "ARRAY /dev/md/boot metadata=1.0 UUID=fedcba98:76543210:fedcba98:76543210 name=host:boot\n"));
        free(c);
        ASSERT_OK(executor_rollback(p, j, step_table, &opts, &e));
        ASSERT(!test_exists(mdadm_dir, "mdadm.conf"));
        ASSERT(!test_exists(mdadm_dir, "mdadm.conf.rootraid-absent"));
        journal_free(j);
        test_plan_free(p);

        /* A crypttab without the planned entry is refused, naming it. */
        test_rm_rf(state);
        test_write(etc, "crypttab", "other UUID=1 none luks\n");
        p = config_plan(ct, mc, NULL);
        j = test_journal_new(p, dirs);
        ASSERT_ERR(executor_apply(p, j, step_table, &opts, &e), ENOENT);
        ASSERT_CONTAINS(e, "no entry named cryptroot");
        journal_free(j);
        test_plan_free(p);

        free(ctx.error);
        test_rm_rf(tmp);
        free(tmp);
        free(etc);
        free(mdadm_dir);
        free(state);
        free(ct);
        free(mc);
        free(e);
        printf("config steps: all tests passed\n");
        return 0;
}
