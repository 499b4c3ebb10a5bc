/* Runs every unit test table and prints "N passed, N failed". */
#include "unit.h"

int unit_failed_checks;

extern const struct unit_test conf_tests[];
extern const struct unit_test memdb_tests[];
extern const struct unit_test msg_tests[];
extern const struct unit_test sync_tests[];
extern const struct unit_test sync_fault_tests[];
extern const struct unit_test kvs_tests[];
extern const struct unit_test storage_tests[];
extern const struct unit_test qemu_xml_tests[];
extern const struct unit_test ha_tests[];
extern const struct unit_test lxc_conf_tests[];
extern const struct unit_test sdn_tests[];
extern const struct unit_test network_conf_tests[];

static const struct unit_test *const suites[] = {
    conf_tests,    memdb_tests,    msg_tests, sync_tests,     sync_fault_tests, kvs_tests,
    storage_tests, qemu_xml_tests, ha_tests,  lxc_conf_tests, sdn_tests,        network_conf_tests};

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    const char *only = argc > 1 ? argv[1] : NULL;

    for (size_t s = 0; s < sizeof(suites) / sizeof(suites[0]); s++) {
        for (const struct unit_test *t = suites[s]; t->name; t++) {
            if (only && !strstr(t->name, only))
                continue;
            int before = unit_failed_checks;
            t->fn();
            if (unit_failed_checks == before) {
                passed++;
                printf("ok   %s\n", t->name);
            } else {
                failed++;
                printf("FAIL %s\n", t->name);
            }
        }
    }
    printf("unit: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
