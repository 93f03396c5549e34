/*
 * A tiny dameng_exporter site plugin in C, against the generated header
 * plugins/sdk/include/dm_exporter_plugin.h. tests/plugins.rs builds it with the system
 * compiler:
 *
 *   cc -std=c99 -Wall -Wextra -Werror -shared -fPIC -I plugins/sdk/include \
 *      examples/c-plugin/hello_plugin.c -o libhello_c.so
 *
 * It reports hello_c_sessions = SELECT COUNT(*) FROM V$SESSIONS on its datasource.
 * Memory rule: whoever allocates frees. The host's table is freed with host->free_table;
 * the samples and error strings this plugin allocates are freed by its own free_* functions.
 */
#include <stdlib.h>
#include <string.h>

#include "dm_exporter_plugin.h"

typedef struct {
    unsigned long runs;
} Hello;

static char *copy(const char *s) {
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c) memcpy(c, s, n);
    return c;
}

static int32_t hello_create(const char *config, const DmHost *host, void **out_instance,
                            char **out_error) {
    Hello *h;
    (void)config; /* this plugin takes no configuration */
    h = calloc(1, sizeof *h);
    if (!h) {
        *out_error = copy("out of memory");
        return DM_ERROR;
    }
    if (host && host->log) host->log(host->ctx, DM_LOG_INFO, "hello_c plugin created");
    *out_instance = h;
    return DM_OK;
}

static const DmMetric METRICS[] = {
    {"hello_c_sessions", "Sessions, counted by the C example plugin.", DM_METRIC_GAUGE, 0, NULL},
};

static int32_t hello_declare(void *instance, DmMetricList *out, char **out_error) {
    (void)instance;
    (void)out_error;
    out->metrics = METRICS; /* static data: free_metrics has nothing to free */
    out->count = sizeof METRICS / sizeof METRICS[0];
    out->owner = NULL;
    return DM_OK;
}

static int32_t hello_collect(void *instance, const DmHost *host, DmSampleList *out,
                             char **out_error) {
    DmTable t;
    int32_t status;
    double value = 0;
    DmSample *s;
    memset(&t, 0, sizeof t);
    status = host->query(host->ctx, "SELECT COUNT(*) FROM V$SESSIONS", 1, 0, &t);
    if (status != DM_OK) {
        *out_error = copy(t.error ? t.error : "query failed");
        host->free_table(&t);
        return DM_ERROR;
    }
    if (t.row_count > 0 && t.column_count > 0 && t.cells[0]) value = strtod(t.cells[0], NULL);
    host->free_table(&t); /* the host allocated it: the host frees it */
    s = malloc(sizeof *s);
    if (!s) {
        *out_error = copy("out of memory");
        return DM_ERROR;
    }
    s->metric = 0;
    s->value = value;
    s->label_count = 0;
    s->label_values = NULL;
    out->samples = s;
    out->count = 1;
    out->owner = s;
    ((Hello *)instance)->runs++;
    return DM_OK;
}

static void hello_free_metrics(DmMetricList *list) { (void)list; }

static void hello_free_samples(DmSampleList *list) {
    free(list->owner);
    list->owner = NULL;
    list->samples = NULL;
    list->count = 0;
}

static void hello_free_error(char *error) { free(error); }

static void hello_destroy(void *instance) { free(instance); }

static const DmPluginDeclaration DECLARATION = {
    DM_ABI_VERSION, "hello_c", "1.0.0",
    hello_create, hello_declare, hello_collect,
    hello_free_metrics, hello_free_samples, hello_free_error, hello_destroy,
};

const struct DmPluginDeclaration *dm_exporter_plugin_v1(void) { return &DECLARATION; }
