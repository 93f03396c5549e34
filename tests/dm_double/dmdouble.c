/*
 * dmdouble: a test double of DM8's ODBC driver (libdodbc).
 *
 * This is NOT Dameng's driver. It forwards every call to the SQLite ODBC driver
 * (libsqlite3odbc.so, Debian package libsqliteodbc) and reproduces, by configuration, the
 * DM driver behaviours that public DM documentation and field reports describe
 * (docs/DM8_EVIDENCE.md, findings F2, F3, F5, F6 and evidence E4, E7, E8, E9, E18, E21).
 * Behaviour knobs come from the connection string (DMDOUBLE_* keys, stripped before the
 * string reaches the SQLite driver); tests/dm_double/README.md lists them.
 *
 * Handles are the SQLite driver's own handles (pass-through); a side table keeps the
 * per-handle state the double needs: knobs (per connection), a synthesized diagnostic
 * record, the prepared statement text, the query timeout and a cancel flag.
 *
 * Only the narrow (ANSI) entry points are exported: unixODBC then calls them for
 * narrow applications (odbc-api on Linux).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sql.h>
#include <sqlext.h>

#ifndef DMDOUBLE_REAL_DRIVER
#define DMDOUBLE_REAL_DRIVER "/usr/lib/x86_64-linux-gnu/odbc/libsqlite3odbc.so"
#endif

#define EXPORT __attribute__((visibility("default")))

/* ------------------------------------------------------------------ knobs */

enum dead_mode { DEAD_UNSUPPORTED, DEAD_ODD, DEAD_OK };
enum qt_mode { QT_OK, QT_REFUSE, QT_IGNORE };
enum ro_mode { RO_ENFORCE, RO_IGNORE, RO_LIE };

#define MAX_LIST 16
#define NAME_LEN 128

struct slow_rule {
    char name[NAME_LEN];
    double seconds;
};

struct knobs {
    enum dead_mode dead;
    int dead_value; /* value returned by DEAD=odd */
    enum qt_mode qtimeout;
    enum ro_mode rdonly;
    int tz_minutes; /* session time zone, minutes east of UTC */
    char tz_text[16]; /* "+08:00" */
    int server_tz_minutes; /* the emulated server's zone (SYSDATE), minutes east of UTC */
    long sessid;
    char dbms_ver[64];
    int deny_n;
    char deny[MAX_LIST][NAME_LEN];
    int slow_n;
    struct slow_rule slow[MAX_LIST];
    int errors; /* translate SQLite errors into DM's (DMDOUBLE_ERRORS=dm|sqlite) */
    char log[512]; /* DMDOUBLE_LOG: file that gets one line per connect/disconnect/cancel */
    int log_sql;   /* DMDOUBLE_LOG_SQL=1: also log "exec <statement>" per execution */
    char pwd[256]; /* DMDOUBLE_PWD: the only password accepted (empty: any) */
    char database_dir[512]; /* DMDOUBLE_DATABASE_DIR: Database=<dir>/<SERVER>.db when none given */
    /* seen in the connection string (not knobs) */
    int has_database;
    int has_pwd;
    char server[256];
    char given_pwd[256];
    char keys[1024];  /* keywords in order, comma-separated */
    char attrs[2048]; /* "KEY=VALUE" lines for the log, PWD value masked */
};

static void knobs_default(struct knobs *k) {
    memset(k, 0, sizeof *k);
    k->dead = DEAD_UNSUPPORTED;
    k->dead_value = 2;
    k->qtimeout = QT_OK;
    k->rdonly = RO_ENFORCE;
    k->tz_minutes = 480;
    strcpy(k->tz_text, "+08:00");
    k->sessid = 140000001;
    strcpy(k->dbms_ver, "08.01.0005.0060");
    k->errors = 1;
}

/* ------------------------------------------------------------------ side table */

struct diag {
    int set;
    SQLRETURN rc;
    char state[6];
    SQLINTEGER native;
    char msg[1024];
};

struct entry {
    SQLHANDLE h;
    SQLSMALLINT type;
    struct entry *parent_dbc; /* statements: their connection's entry */
    struct knobs k;           /* connections */
    int read_only;            /* connections: SQL_ATTR_ACCESS_MODE = READ_ONLY */
    SQLULEN conn_timeout;     /* connections: SQL_ATTR_CONNECTION_TIMEOUT */
    struct diag d;
    double prepared_sleep;    /* statements: sleep of the text passed to SQLPrepare */
    char *prepared;           /* statements: the text passed to SQLPrepare (for the log) */
    SQLULEN qtimeout;         /* statements: accepted SQL_ATTR_QUERY_TIMEOUT */
    atomic_int cancel;        /* statements: SQLCancel seen */
    atomic_int sleeping;      /* statements: inside a slow-statement sleep */
    struct entry *next;
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table;

static struct entry *find(SQLHANDLE h) {
    if (!h) return NULL;
    pthread_mutex_lock(&table_lock);
    struct entry *e = table;
    while (e && e->h != h) e = e->next;
    pthread_mutex_unlock(&table_lock);
    return e;
}

/*
 * Entries are never freed, only recycled: SQLCancel may look an entry up on one thread while
 * another thread frees the statement (the exporter's watchdog), and a recycled entry is still
 * valid memory. The table therefore holds at most as many entries as handles were alive at once.
 */
static struct entry *add(SQLHANDLE h, SQLSMALLINT type, struct entry *parent) {
    pthread_mutex_lock(&table_lock);
    struct entry *e = table;
    while (e && e->h != NULL) e = e->next;
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) {
            pthread_mutex_unlock(&table_lock);
            return NULL;
        }
        e->next = table;
        table = e;
    }
    e->type = type;
    e->parent_dbc = type == SQL_HANDLE_STMT ? parent : NULL;
    if (type == SQL_HANDLE_DBC) knobs_default(&e->k);
    e->read_only = 0;
    e->conn_timeout = 0;
    e->d.set = 0;
    e->prepared_sleep = 0;
    e->qtimeout = 0;
    atomic_store(&e->cancel, 0);
    atomic_store(&e->sleeping, 0);
    e->h = h;
    pthread_mutex_unlock(&table_lock);
    return e;
}

static void drop(SQLHANDLE h) {
    pthread_mutex_lock(&table_lock);
    struct entry *e = table;
    while (e && e->h != h) e = e->next;
    if (e && h) {
        e->h = NULL;
        free(e->prepared);
        e->prepared = NULL;
    }
    pthread_mutex_unlock(&table_lock);
}

static struct knobs *knobs_of(struct entry *e) {
    static struct knobs defaults;
    static int init;
    if (e && e->type == SQL_HANDLE_DBC) return &e->k;
    if (e && e->parent_dbc) return &e->parent_dbc->k;
    if (!init) {
        knobs_default(&defaults);
        init = 1;
    }
    return &defaults;
}

static void clear_diag(SQLHANDLE h) {
    struct entry *e = find(h);
    if (e) e->d.set = 0;
}

static SQLRETURN set_diag(SQLHANDLE h, const char *state, SQLINTEGER native, const char *fmt, ...) {
    struct entry *e = find(h);
    if (e) {
        e->d.set = 1;
        e->d.rc = SQL_ERROR;
        snprintf(e->d.state, sizeof e->d.state, "%s", state);
        e->d.native = native;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->d.msg, sizeof e->d.msg, fmt, ap);
        va_end(ap);
    }
    return SQL_ERROR;
}

/* Appends "event\n" to the DMDOUBLE_LOG file of the connection, if one is configured. */
static void log_event(const struct knobs *k, const char *event) {
    if (!k->log[0]) return;
    static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&log_lock);
    FILE *f = fopen(k->log, "a");
    if (f) {
        fprintf(f, "%s\n", event);
        fclose(f);
    }
    pthread_mutex_unlock(&log_lock);
}

/* Logs "exec <sql>" (whitespace runs collapsed to one space) when DMDOUBLE_LOG_SQL is on. */
static void log_sql(const struct knobs *k, const char *sql) {
    if (!k->log[0] || !k->log_sql) return;
    size_t n = strlen(sql);
    char *line = malloc(n + 6);
    if (!line) return;
    strcpy(line, "exec ");
    char *o = line + 5;
    int space = 0;
    for (const char *p = sql; *p; p++) {
        if (isspace((unsigned char)*p)) { space = 1; continue; }
        if (space && o > line + 5) *o++ = ' ';
        space = 0;
        *o++ = *p;
    }
    *o = 0;
    log_event(k, line);
    free(line);
}

/* ------------------------------------------------------------------ the real driver */

static void *real_lib;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

#define REAL_FN(name) static __typeof__(name) *r_##name;
#define REAL_FUNCTIONS(X)                                                                    \
    X(SQLAllocHandle) X(SQLFreeHandle) X(SQLFreeStmt) X(SQLSetEnvAttr) X(SQLGetEnvAttr)      \
    X(SQLConnect) X(SQLDriverConnect) X(SQLDisconnect) X(SQLSetConnectAttr)                  \
    X(SQLGetConnectAttr) X(SQLSetStmtAttr) X(SQLGetStmtAttr) X(SQLExecDirect) X(SQLPrepare)  \
    X(SQLExecute) X(SQLNumResultCols) X(SQLDescribeCol) X(SQLColAttribute) X(SQLBindCol)     \
    X(SQLBindParameter) X(SQLNumParams) X(SQLFetch) X(SQLFetchScroll) X(SQLGetData)          \
    X(SQLMoreResults) X(SQLCloseCursor) X(SQLCancel) X(SQLGetDiagRec) X(SQLGetDiagField)     \
    X(SQLGetInfo) X(SQLEndTran) X(SQLRowCount) X(SQLTables) X(SQLColumns)                    \
    X(SQLGetTypeInfo) X(SQLNativeSql) X(SQLParamData) X(SQLPutData) X(SQLSetPos)             \
    X(SQLDescribeParam) X(SQLGetCursorName) X(SQLSetCursorName)
REAL_FUNCTIONS(REAL_FN)

static void load_real(void) {
    const char *path = getenv("DMDOUBLE_REAL_DRIVER");
    if (!path || !*path) path = DMDOUBLE_REAL_DRIVER;
    real_lib = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!real_lib) {
        fprintf(stderr, "dmdouble: cannot load the SQLite ODBC driver %s: %s\n", path, dlerror());
        return;
    }
#define LOAD(name) r_##name = (__typeof__(name) *)dlsym(real_lib, #name);
    REAL_FUNCTIONS(LOAD)
#undef LOAD
}

static int real_ready(void) {
    pthread_once(&real_once, load_real);
    return real_lib != NULL;
}

#define FORWARD(name, ...) \
    (real_ready() && r_##name ? r_##name(__VA_ARGS__) : SQL_ERROR)

/*
 * The SQLite driver hands out a diagnostic record once (a second SQLGetDiagRec answers
 * SQL_NO_DATA), and unixODBC reads records more than once. So the first record of every
 * error or warning is copied into the side table right away and answered from there.
 */
static SQLRETURN capture(SQLSMALLINT type, SQLHANDLE h, SQLRETURN rc) {
    if (rc != SQL_ERROR && rc != SQL_SUCCESS_WITH_INFO) return rc;
    struct entry *e = find(h);
    if (!e || e->d.set || !r_SQLGetDiagRec) return rc;
    SQLCHAR state[6] = {0}, msg[1024] = {0};
    SQLINTEGER native = 0;
    SQLSMALLINT len = 0;
    if (SQL_SUCCEEDED(r_SQLGetDiagRec(type, h, 1, state, &native, msg, (SQLSMALLINT)sizeof msg, &len))) {
        e->d.set = 1;
        e->d.rc = rc;
        memcpy(e->d.state, state, 6);
        e->d.native = native;
        snprintf(e->d.msg, sizeof e->d.msg, "%s", (char *)msg);
    }
    return rc;
}

#define FWD_STMT(s, name, ...) capture(SQL_HANDLE_STMT, s, FORWARD(name, __VA_ARGS__))
#define FWD_DBC(c, name, ...) capture(SQL_HANDLE_DBC, c, FORWARD(name, __VA_ARGS__))

/* ------------------------------------------------------------------ text helpers */

static int ieq(const char *a, const char *b) { return strcasecmp(a, b) == 0; }

static int ident_char(int c) {
    return isalnum(c) || c == '_' || c == '$' || c == '#' || (c & 0x80);
}

/* Reads the first line number (1-based) at which `name` occurs in `sql` (case-insensitive). */
static int line_of(const char *sql, const char *name) {
    size_t n = strlen(name);
    int line = 1;
    for (const char *p = sql; *p; p++) {
        if (*p == '\n') line++;
        if (n && strncasecmp(p, name, n) == 0) return line;
    }
    return 1;
}

/* A growable string. */
struct buf {
    char *s;
    size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 256) + n;
        char *ns = realloc(b->s, cap);
        if (!ns) return;
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

/*
 * Tokenizer: walks `sql`, calling `on_ident(start, len, ctx)` for every identifier outside
 * string literals, quoted identifiers and comments; everything else is copied verbatim.
 * Quoted identifiers ("X") are reported with their quotes stripped through on_quoted.
 */
typedef void (*ident_fn)(const char *s, size_t n, int quoted, void *ctx);
typedef void (*text_fn)(const char *s, size_t n, void *ctx);

static void scan(const char *sql, ident_fn on_ident, text_fn on_text, void *ctx) {
    const char *p = sql;
    while (*p) {
        const char *start = p;
        if (*p == '\'') {
            p++;
            while (*p) {
                if (*p == '\'' && p[1] == '\'') p += 2;
                else if (*p == '\'') { p++; break; }
                else p++;
            }
            if (on_text) on_text(start, (size_t)(p - start), ctx);
        } else if (*p == '"') {
            p++;
            while (*p && *p != '"') p++;
            if (*p) p++;
            if (on_ident) on_ident(start + 1, (size_t)(p - start) - (p[-1] == '"' ? 2 : 1), 1, ctx);
            if (on_text) on_text(start, (size_t)(p - start), ctx);
        } else if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n') p++;
            if (on_text) on_text(start, (size_t)(p - start), ctx);
        } else if (p[0] == '/' && p[1] == '*') {
            p += 2;
            while (*p && !(p[0] == '*' && p[1] == '/')) p++;
            if (*p) p += 2;
            if (on_text) on_text(start, (size_t)(p - start), ctx);
        } else if (ident_char((unsigned char)*p) && !isdigit((unsigned char)*p)) {
            while (*p && ident_char((unsigned char)*p)) p++;
            if (on_ident) on_ident(start, (size_t)(p - start), 0, ctx);
            if (on_text) on_text(start, (size_t)(p - start), ctx);
        } else if (isdigit((unsigned char)*p)) {
            while (*p && (isalnum((unsigned char)*p) || *p == '.')) p++;
            if (on_text) on_text(start, (size_t)(p - start), ctx);
        } else {
            p++;
            if (on_text) on_text(start, 1, ctx);
        }
    }
}

/* ---- identifiers as qualified names (for DENY and the first keyword) */

struct names {
    int n;
    char name[64][NAME_LEN * 2]; /* "A" or "A.B", upper case */
    char first[NAME_LEN];        /* first unquoted word of the statement */
    const char *last_end;        /* end of the previous identifier */
    const char *sql;
};

static void names_ident(const char *s, size_t n, int quoted, void *ctx) {
    struct names *ns = ctx;
    char word[NAME_LEN];
    size_t m = n < NAME_LEN - 1 ? n : NAME_LEN - 1;
    for (size_t i = 0; i < m; i++) word[i] = (char)toupper((unsigned char)s[i]);
    word[m] = 0;
    if (!ns->first[0] && !quoted) snprintf(ns->first, sizeof ns->first, "%s", word);
    /* Is this identifier "prev . this"? (only a dot, maybe quotes, between them) */
    const char *between = ns->last_end;
    int qualified = 0;
    if (between && ns->n > 0) {
        const char *q = between;
        if (*q == '"') q++;
        while (*q == ' ') q++;
        if (*q == '.') {
            q++;
            while (*q == ' ') q++;
            if (*q == '"') q++;
            qualified = (q == s);
        }
    }
    if (qualified) {
        char *prev = ns->name[ns->n - 1];
        size_t l = strlen(prev);
        snprintf(prev + l, sizeof ns->name[0] - l, ".%s", word);
    } else if (ns->n < 64) {
        snprintf(ns->name[ns->n++], sizeof ns->name[0], "%s", word);
    }
    ns->last_end = s + n;
}

static void collect_names(const char *sql, struct names *ns) {
    memset(ns, 0, sizeof *ns);
    ns->sql = sql;
    scan(sql, names_ident, NULL, ns);
}

/* The denied object `sql` names, if any (written into out, as DM prints it). */
static int denied(const struct knobs *k, const char *sql, char *out, size_t outlen) {
    if (!k->deny_n) return 0;
    struct names ns;
    collect_names(sql, &ns);
    /* ATTACH/DETACH/PRAGMA are the fixture's plumbing (SYSJOB is an attached file), not DM SQL. */
    if (ieq(ns.first, "ATTACH") || ieq(ns.first, "DETACH") || ieq(ns.first, "PRAGMA")) return 0;
    for (int i = 0; i < ns.n; i++) {
        const char *nm = ns.name[i];
        const char *dot = strchr(nm, '.');
        for (int j = 0; j < k->deny_n; j++) {
            const char *d = k->deny[j];
            int hit;
            if (strchr(d, '.')) hit = ieq(nm, d);
            else if (dot) hit = (strncasecmp(nm, d, (size_t)(dot - nm)) == 0 &&
                                 strlen(d) == (size_t)(dot - nm)) ||
                                ieq(dot + 1, d);
            else hit = ieq(nm, d);
            if (hit) {
                snprintf(out, outlen, "%s", nm);
                return 1;
            }
        }
    }
    return 0;
}

static int is_write(const char *sql) {
    static const char *const writes[] = {"INSERT", "UPDATE", "DELETE", "MERGE", "CREATE",
                                         "DROP", "ALTER", "TRUNCATE", "GRANT", "REVOKE",
                                         "REPLACE", "COMMENT", "RENAME", NULL};
    struct names ns;
    collect_names(sql, &ns);
    for (int i = 0; writes[i]; i++)
        if (ieq(ns.first, writes[i])) return 1;
    return 0;
}

/* ---- rewriting SYSDATE, CURRENT_TIMESTAMP, LOCALTIMESTAMP, SESSID(), TIMESTAMP '...',
 * SF_GET_SESSION_SQL(...) */

struct rewrite {
    struct buf out;
    const struct knobs *k;
    const char *skip_until; /* skip "()" after SESSID */
    int sf_active;          /* inside SF_GET_SESSION_SQL( ... ): close the subquery after it */
    int sf_depth;           /* parenthesis depth inside it */
};

/* SF_GET_SESSION_SQL(x): the full text of session x's statement. The fixture's V$SESSIONS
 * holds full texts, so the double answers V$SESSIONS.SQL_TEXT of that session (DM's own
 * SQL_TEXT column keeps only the first 1000 characters; that cut is not emulated). */
/* The inner columns are renamed so that the argument (e.g. SESS_ID) names the outer row. */
#define SF_SESSION_SQL "(SELECT DMDOUBLE_T FROM (SELECT SQL_TEXT AS DMDOUBLE_T, SESS_ID AS DMDOUBLE_ID " \
                       "FROM V$SESSIONS) WHERE DMDOUBLE_ID = "

static void rw_text(const char *s, size_t n, void *ctx) {
    struct rewrite *rw = ctx;
    char tmp[256];
    if (rw->sf_active && n == 1 && (*s == '(' || *s == ')')) {
        put(&rw->out, s, 1);
        rw->sf_depth += *s == '(' ? 1 : -1;
        if (rw->sf_depth == 0) {
            puts_(&rw->out, ")");
            rw->sf_active = 0;
        }
        return;
    }
    if (rw->skip_until) {
        /* drop whitespace and "()" following SESSID */
        if (n == 1 && (*s == '(' || *s == ' ')) return;
        if (n == 1 && *s == ')') { rw->skip_until = NULL; return; }
        rw->skip_until = NULL;
    }
    if (ident_char((unsigned char)*s) && !isdigit((unsigned char)*s)) {
        char word[32];
        if (n < sizeof word) {
            memcpy(word, s, n);
            word[n] = 0;
            if (ieq(word, "SYSDATE")) {
                snprintf(tmp, sizeof tmp, "strftime('%%Y-%%m-%%d %%H:%%M:%%S','now','%+d minutes')",
                         rw->k->server_tz_minutes);
                puts_(&rw->out, tmp);
                return;
            }
            if (ieq(word, "CURRENT_TIMESTAMP")) {
                snprintf(tmp, sizeof tmp,
                         "(strftime('%%Y-%%m-%%d %%H:%%M:%%f','now','%+d minutes')||'000 %s')",
                         rw->k->tz_minutes, rw->k->tz_text);
                puts_(&rw->out, tmp);
                return;
            }
            if (ieq(word, "LOCALTIMESTAMP")) {
                snprintf(tmp, sizeof tmp,
                         "(strftime('%%Y-%%m-%%d %%H:%%M:%%f','now','%+d minutes')||'000')",
                         rw->k->tz_minutes);
                puts_(&rw->out, tmp);
                return;
            }
            if (ieq(word, "TIMESTAMP")) {
                /* DM's typed literal TIMESTAMP 'YYYY-MM-DD HH:MM:SS' (日期时间型常量): SQLite
                 * stores timestamps as text, so the literal is the plain string. */
                const char *q = s + n;
                while (*q && isspace((unsigned char)*q)) q++;
                if (*q == '\'') return;
            }
            if (ieq(word, "SF_GET_SESSION_SQL") && !rw->sf_active) {
                puts_(&rw->out, SF_SESSION_SQL);
                rw->sf_active = 1;
                rw->sf_depth = 0;
                return;
            }
            if (ieq(word, "SESSID")) {
                snprintf(tmp, sizeof tmp, "%ld", rw->k->sessid);
                puts_(&rw->out, tmp);
                rw->skip_until = s + n;
                return;
            }
        }
    }
    put(&rw->out, s, n);
}

/* Whitespace- and comment-free upper-case form, for recognising whole statements. */
static void squeeze_text(const char *s, size_t n, void *ctx) {
    struct buf *b = ctx;
    if (n >= 2 && ((s[0] == '/' && s[1] == '*') || (s[0] == '-' && s[1] == '-'))) return;
    for (size_t i = 0; i < n; i++) {
        if (isspace((unsigned char)s[i]) || s[i] == ';') continue;
        char c = (char)toupper((unsigned char)s[i]);
        put(b, &c, 1);
    }
}

/* Returns a malloc'd SQLite statement for the DM statement `sql`. */
static char *rewrite(struct entry *dbc, const char *sql) {
    const struct knobs *k = knobs_of(dbc);
    struct buf sq = {0};
    scan(sql, NULL, squeeze_text, &sq);
    if (sq.s && strcmp(sq.s, "SELECTRDONLYFROMV$SESSIONSWHERESESS_ID=SESSID()") == 0) {
        free(sq.s);
        int ro = dbc && dbc->read_only && k->rdonly != RO_IGNORE;
        if (k->rdonly == RO_LIE) ro = 1;
        return strdup(ro ? "SELECT 'Y' AS RDONLY" : "SELECT 'N' AS RDONLY");
    }
    free(sq.s);
    struct rewrite rw = {.k = k};
    scan(sql, NULL, rw_text, &rw);
    if (!rw.out.s) return strdup("");
    return rw.out.s;
}

/* Seconds this statement sleeps before it runs: a marker or a DMDOUBLE_SLOW rule. */
static double sleep_of(const struct knobs *k, const char *sql) {
    double secs = 0;
    const char *m = strstr(sql, "/*dmdouble:sleep=");
    if (m) secs = atof(m + strlen("/*dmdouble:sleep="));
    if (k->slow_n) {
        struct names ns;
        collect_names(sql, &ns);
        for (int i = 0; i < ns.n; i++)
            for (int j = 0; j < k->slow_n; j++) {
                const char *nm = ns.name[i];
                const char *dot = strrchr(nm, '.');
                if (ieq(nm, k->slow[j].name) || (dot && ieq(dot + 1, k->slow[j].name)))
                    if (k->slow[j].seconds > secs) secs = k->slow[j].seconds;
            }
    }
    return secs;
}

/* ------------------------------------------------------------------ errors */

/* Translates the SQLite driver's current error on `stmt` into DM's, when it has one. */
static void translate_error(SQLHSTMT stmt, struct entry *se, const char *sql) {
    const struct knobs *k = knobs_of(se);
    if (!k->errors || !se || !se->d.set) return;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", se->d.msg);
    char name[NAME_LEN * 2];
    const char *p;
    if ((p = strstr(msg, "no such table: ")) != NULL) {
        p += strlen("no such table: ");
        size_t n = 0;
        while (p[n] && p[n] != ' ' && p[n] != '(' && n < sizeof name - 1) n++;
        memcpy(name, p, n);
        name[n] = 0;
        for (size_t i = 0; i < n; i++) name[i] = (char)toupper((unsigned char)name[i]);
        char *dot = strchr(name, '.');
        if (dot) {
            /* schema.table: is the schema attached? */
            *dot = 0;
            int attached = 0;
            SQLHSTMT q = NULL;
            SQLHDBC dbc = se && se->parent_dbc ? se->parent_dbc->h : NULL;
            if (dbc && SQL_SUCCEEDED(r_SQLAllocHandle(SQL_HANDLE_STMT, dbc, &q))) {
                if (SQL_SUCCEEDED(r_SQLExecDirect(q, (SQLCHAR *)"PRAGMA database_list", SQL_NTS))) {
                    while (SQL_SUCCEEDED(r_SQLFetch(q))) {
                        char db[NAME_LEN] = {0};
                        SQLLEN ind = 0;
                        if (SQL_SUCCEEDED(r_SQLGetData(q, 2, SQL_C_CHAR, db, sizeof db, &ind)) &&
                            ieq(db, name))
                            attached = 1;
                    }
                }
                r_SQLFreeHandle(SQL_HANDLE_STMT, q);
            }
            if (!attached) {
                set_diag(stmt, "42000", -2103, "第%d 行附近出现错误: 无效的模式名[%s]",
                         line_of(sql, name), name);
                return;
            }
            *dot = '.';
            char *obj = dot + 1;
            set_diag(stmt, "42S02", -2106, "第%d 行附近出现错误: 无效的表或视图名[%s]",
                     line_of(sql, obj), obj);
            return;
        }
        set_diag(stmt, "42S02", -2106, "第%d 行附近出现错误: 无效的表或视图名[%s]",
                 line_of(sql, name), name);
        return;
    }
    if ((p = strstr(msg, "no such column: ")) != NULL) {
        p += strlen("no such column: ");
        size_t n = 0;
        while (p[n] && p[n] != ' ' && p[n] != '(' && n < sizeof name - 1) n++;
        memcpy(name, p, n);
        name[n] = 0;
        char *col = strrchr(name, '.');
        col = col ? col + 1 : name;
        for (char *c = col; *c; c++) *c = (char)toupper((unsigned char)*c);
        set_diag(stmt, "42S22", -2111, "第%d 行附近出现错误: 无效的列名[%s]", line_of(sql, col),
                 col);
        return;
    }
}

/* Checks done before a statement reaches SQLite; returns SQL_ERROR with DM's diagnostic. */
static SQLRETURN precheck(SQLHSTMT stmt, struct entry *se, const char *sql) {
    const struct knobs *k = knobs_of(se);
    char obj[NAME_LEN * 2];
    if (denied(k, sql, obj, sizeof obj))
        return set_diag(stmt, "42000", -5504, "没有[%s]对象的查询权限", obj);
    struct entry *dbc = se ? se->parent_dbc : NULL;
    if (dbc && dbc->read_only && k->rdonly == RO_ENFORCE && is_write(sql))
        return set_diag(stmt, "25006", -6506, "试图在只读事务中修改数据");
    return SQL_SUCCESS;
}

/* Sleeps `secs`, honouring SQLCancel and (QTIMEOUT=ok) the query timeout. */
static SQLRETURN slow(SQLHSTMT stmt, struct entry *se, double secs) {
    if (secs <= 0 || !se) return SQL_SUCCESS;
    const struct knobs *k = knobs_of(se);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    atomic_store(&se->sleeping, 1);
    for (;;) {
        if (atomic_load(&se->cancel)) {
            atomic_store(&se->sleeping, 0);
            atomic_store(&se->cancel, 0);
            return set_diag(stmt, "HY008", -6, "Operation canceled");
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el = (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9;
        if (k->qtimeout == QT_OK && se->qtimeout > 0 && el >= (double)se->qtimeout) {
            atomic_store(&se->sleeping, 0);
            return set_diag(stmt, "HYT00", -608, "请求执行超时");
        }
        if (el >= secs) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&se->sleeping, 0);
    return SQL_SUCCESS;
}

/* ------------------------------------------------------------------ connection string */

static void parse_knob(struct knobs *k, const char *key, const char *val) {
    if (ieq(key, "DMDOUBLE_DEAD")) {
        if (ieq(val, "ok")) k->dead = DEAD_OK;
        else if (ieq(val, "unsupported")) k->dead = DEAD_UNSUPPORTED;
        else {
            k->dead = DEAD_ODD;
            if (isdigit((unsigned char)*val)) k->dead_value = atoi(val);
        }
    } else if (ieq(key, "DMDOUBLE_QTIMEOUT")) {
        k->qtimeout = ieq(val, "refuse") ? QT_REFUSE : ieq(val, "ignore") ? QT_IGNORE : QT_OK;
    } else if (ieq(key, "DMDOUBLE_RDONLY")) {
        k->rdonly = ieq(val, "ignore") ? RO_IGNORE : ieq(val, "lie") ? RO_LIE : RO_ENFORCE;
    } else if (ieq(key, "DMDOUBLE_SESSION_TZ")) {
        int sign = 1, h = 0, m = 0;
        const char *p = val;
        if (*p == '-') { sign = -1; p++; }
        else if (*p == '+') p++;
        if (sscanf(p, "%d:%d", &h, &m) >= 1) {
            k->tz_minutes = sign * (h * 60 + m);
            snprintf(k->tz_text, sizeof k->tz_text, "%c%02d:%02d", sign < 0 ? '-' : '+', h % 100,
                     m % 100);
        }
    } else if (ieq(key, "DMDOUBLE_SERVER_TZ")) {
        int sign = 1, h = 0, m = 0;
        const char *p = val;
        if (*p == '-') { sign = -1; p++; }
        else if (*p == '+') p++;
        if (sscanf(p, "%d:%d", &h, &m) >= 1) k->server_tz_minutes = sign * (h * 60 + m);
    } else if (ieq(key, "DMDOUBLE_SESSID")) {
        k->sessid = atol(val);
    } else if (ieq(key, "DMDOUBLE_DBMS_VER")) {
        snprintf(k->dbms_ver, sizeof k->dbms_ver, "%s", val);
    } else if (ieq(key, "DMDOUBLE_LOG_SQL")) {
        k->log_sql = atoi(val) != 0 || ieq(val, "yes") || ieq(val, "true");
    } else if (ieq(key, "DMDOUBLE_PWD")) {
        snprintf(k->pwd, sizeof k->pwd, "%s", val);
    } else if (ieq(key, "DMDOUBLE_DATABASE_DIR")) {
        snprintf(k->database_dir, sizeof k->database_dir, "%s", val);
    } else if (ieq(key, "DMDOUBLE_LOG")) {
        snprintf(k->log, sizeof k->log, "%s", val);
    } else if (ieq(key, "DMDOUBLE_ERRORS")) {
        k->errors = !ieq(val, "sqlite");
    } else if (ieq(key, "DMDOUBLE_DENY") || ieq(key, "DMDOUBLE_SLOW")) {
        int slow = ieq(key, "DMDOUBLE_SLOW");
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s", val);
        char *save = NULL;
        for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ') t++;
            if (!*t) continue;
            if (slow && k->slow_n < MAX_LIST) {
                char *colon = strrchr(t, ':');
                double secs = 1;
                if (colon) { *colon = 0; secs = atof(colon + 1); }
                snprintf(k->slow[k->slow_n].name, NAME_LEN, "%s", t);
                k->slow[k->slow_n++].seconds = secs;
            } else if (!slow && k->deny_n < MAX_LIST) {
                snprintf(k->deny[k->deny_n++], NAME_LEN, "%s", t);
            }
        }
    }
}

/* Copies `in` to a new string without the DMDOUBLE_* attributes, applying them to `k`. */
static char *strip_knobs(const char *in, SQLSMALLINT len, struct knobs *k) {
    size_t n = len == SQL_NTS ? strlen(in) : (size_t)len;
    struct buf out = {0};
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        /* one attribute: key=value or key={value} up to ';' */
        size_t eq = i;
        while (eq < n && in[eq] != '=' && in[eq] != ';') eq++;
        size_t end = eq;
        if (end < n && in[end] == '=') {
            end++;
            if (end < n && in[end] == '{') {
                while (end < n && in[end] != '}') end++;
                if (end < n) end++;
            }
            while (end < n && in[end] != ';') end++;
        }
        char key[64] = {0};
        size_t ks = start;
        while (ks < eq && in[ks] == ' ') ks++;
        size_t kl = eq - ks < sizeof key - 1 ? eq - ks : sizeof key - 1;
        memcpy(key, in + ks, kl);
        while (kl && key[kl - 1] == ' ') key[--kl] = 0;
        if (strncasecmp(key, "DMDOUBLE_", 9) == 0 && eq < n && in[eq] == '=') {
            char val[1024] = {0};
            size_t vs = eq + 1, ve = end;
            if (vs < ve && in[vs] == '{') { vs++; if (ve > vs && in[ve - 1] == '}') ve--; }
            size_t vl = ve - vs < sizeof val - 1 ? ve - vs : sizeof val - 1;
            memcpy(val, in + vs, vl);
            parse_knob(k, key, val);
        } else if (end > start) {
            /* an ordinary keyword: note it (for DMDOUBLE_LOG and the login check) */
            char val[1024] = {0};
            if (eq < n && in[eq] == '=') {
                size_t vs = eq + 1, ve = end;
                if (vs < ve && in[vs] == '{') { vs++; if (ve > vs && in[ve - 1] == '}') ve--; }
                size_t vl = ve - vs < sizeof val - 1 ? ve - vs : sizeof val - 1;
                memcpy(val, in + vs, vl);
            }
            char upper[64];
            size_t ul = strlen(key);
            for (size_t j = 0; j <= ul && j < sizeof upper; j++)
                upper[j] = (char)toupper((unsigned char)key[j]);
            upper[sizeof upper - 1] = 0;
            if (upper[0]) {
                size_t kl2 = strlen(k->keys);
                snprintf(k->keys + kl2, sizeof k->keys - kl2, "%s%s", kl2 ? "," : "", upper);
                int secret = ieq(upper, "PWD") || ieq(upper, "PASSWORD");
                size_t al = strlen(k->attrs);
                snprintf(k->attrs + al, sizeof k->attrs - al, "attr %s=%s\n", upper,
                         secret ? "***" : val);
            }
            if (ieq(upper, "DATABASE")) k->has_database = 1;
            if (ieq(upper, "PWD") || ieq(upper, "PASSWORD")) {
                k->has_pwd = 1;
                snprintf(k->given_pwd, sizeof k->given_pwd, "%s", val);
            }
            if (ieq(upper, "SERVER")) snprintf(k->server, sizeof k->server, "%s", val);
            put(&out, in + start, end - start);
            put(&out, ";", 1);
        }
        i = end < n ? end + 1 : n;
    }
    if (!out.s) return strdup("");
    return out.s;
}

/* ================================================================== entry points */

EXPORT SQLRETURN SQL_API SQLAllocHandle(SQLSMALLINT type, SQLHANDLE in, SQLHANDLE *out) {
    if (!real_ready()) return SQL_ERROR;
    if (type != SQL_HANDLE_ENV) clear_diag(in);
    SQLRETURN rc = r_SQLAllocHandle(type, in, out);
    if (SQL_SUCCEEDED(rc) && out && *out) add(*out, type, type == SQL_HANDLE_STMT ? find(in) : NULL);
    return rc;
}

EXPORT SQLRETURN SQL_API SQLFreeHandle(SQLSMALLINT type, SQLHANDLE h) {
    SQLRETURN rc = FORWARD(SQLFreeHandle, type, h);
    if (SQL_SUCCEEDED(rc)) drop(h);
    return rc;
}

EXPORT SQLRETURN SQL_API SQLFreeStmt(SQLHSTMT s, SQLUSMALLINT opt) {
    clear_diag(s);
    SQLRETURN rc = FORWARD(SQLFreeStmt, s, opt);
    if (opt == SQL_DROP && SQL_SUCCEEDED(rc)) drop(s);
    return rc;
}

EXPORT SQLRETURN SQL_API SQLSetEnvAttr(SQLHENV e, SQLINTEGER a, SQLPOINTER v, SQLINTEGER l) {
    return FORWARD(SQLSetEnvAttr, e, a, v, l);
}

EXPORT SQLRETURN SQL_API SQLGetEnvAttr(SQLHENV e, SQLINTEGER a, SQLPOINTER v, SQLINTEGER l,
                                       SQLINTEGER *ol) {
    return FORWARD(SQLGetEnvAttr, e, a, v, l, ol);
}

EXPORT SQLRETURN SQL_API SQLConnect(SQLHDBC c, SQLCHAR *dsn, SQLSMALLINT dl, SQLCHAR *uid,
                                    SQLSMALLINT ul, SQLCHAR *pwd, SQLSMALLINT pl) {
    clear_diag(c);
    return FWD_DBC(c, SQLConnect, c, dsn, dl, uid, ul, pwd, pl);
}

EXPORT SQLRETURN SQL_API SQLDriverConnect(SQLHDBC c, SQLHWND w, SQLCHAR *in, SQLSMALLINT il,
                                          SQLCHAR *out, SQLSMALLINT ol, SQLSMALLINT *olp,
                                          SQLUSMALLINT completion) {
    if (!real_ready()) return SQL_ERROR;
    clear_diag(c);
    struct entry *e = find(c);
    struct knobs k;
    knobs_default(&k);
    /* DMDOUBLE_* environment variables are defaults; the connection string overrides them. */
    static const char *const env_knobs[] = {
        "DMDOUBLE_DEAD", "DMDOUBLE_QTIMEOUT", "DMDOUBLE_RDONLY", "DMDOUBLE_SESSION_TZ", "DMDOUBLE_SERVER_TZ",
        "DMDOUBLE_SESSID", "DMDOUBLE_DBMS_VER", "DMDOUBLE_ERRORS", "DMDOUBLE_DENY",
        "DMDOUBLE_SLOW", "DMDOUBLE_LOG", "DMDOUBLE_LOG_SQL", "DMDOUBLE_PWD", "DMDOUBLE_DATABASE_DIR", NULL};
    for (int i = 0; env_knobs[i]; i++) {
        const char *v = getenv(env_knobs[i]);
        if (v && *v) parse_knob(&k, env_knobs[i], v);
    }
    char *stripped = strip_knobs(in ? (const char *)in : "", in ? il : 0, &k);
    if (!stripped) return SQL_ERROR;
    if (e) e->k = k;
    if (k.log[0]) {
        char line[1100];
        snprintf(line, sizeof line, "keys %s", k.keys);
        log_event(&k, line);
        if (k.attrs[0]) {
            size_t al = strlen(k.attrs);
            if (al && k.attrs[al - 1] == '\n') k.attrs[al - 1] = 0;
            log_event(&k, k.attrs);
        }
    }
    /* A DM-style connection string (SERVER=..., no Database=): a fixture file named after
     * the server, in DMDOUBLE_DATABASE_DIR. */
    if (!k.has_database && k.server[0] && k.database_dir[0]) {
        char host[256];
        snprintf(host, sizeof host, "%s", k.server);
        char *colon = strchr(host, ':');
        if (colon) *colon = 0;
        struct buf b = {0};
        puts_(&b, stripped);
        puts_(&b, "Database=");
        puts_(&b, k.database_dir);
        puts_(&b, "/");
        puts_(&b, host);
        puts_(&b, ".db;NoCreat=1;");
        if (b.s) {
            free(stripped);
            stripped = b.s;
        }
    }
    if (k.pwd[0] && (!k.has_pwd || strcmp(k.pwd, k.given_pwd) != 0)) {
        free(stripped);
        log_event(&k, "login-failed");
        return set_diag(c, "28000", -2501, "用户名或密码错误");
    }
    SQLRETURN rc = capture(SQL_HANDLE_DBC, c, r_SQLDriverConnect(c, w, (SQLCHAR *)stripped, SQL_NTS, out, ol, olp, completion));
    free(stripped);
    if (SQL_SUCCEEDED(rc)) log_event(&k, "connect");
    return rc;
}

EXPORT SQLRETURN SQL_API SQLDisconnect(SQLHDBC c) {
    clear_diag(c);
    log_event(knobs_of(find(c)), "disconnect");
    return FWD_DBC(c, SQLDisconnect, c);
}

EXPORT SQLRETURN SQL_API SQLSetConnectAttr(SQLHDBC c, SQLINTEGER a, SQLPOINTER v, SQLINTEGER l) {
    clear_diag(c);
    struct entry *e = find(c);
    if (a == SQL_ATTR_ACCESS_MODE) {
        if (e) e->read_only = ((SQLULEN)v == SQL_MODE_READ_ONLY);
        return SQL_SUCCESS;
    }
    if (a == SQL_ATTR_CONNECTION_TIMEOUT) {
        if (e) e->conn_timeout = (SQLULEN)v;
        return SQL_SUCCESS;
    }
    return FWD_DBC(c, SQLSetConnectAttr, c, a, v, l);
}

EXPORT SQLRETURN SQL_API SQLGetConnectAttr(SQLHDBC c, SQLINTEGER a, SQLPOINTER v, SQLINTEGER l,
                                           SQLINTEGER *ol) {
    clear_diag(c);
    struct entry *e = find(c);
    const struct knobs *k = knobs_of(e);
    if (a == SQL_ATTR_CONNECTION_DEAD) log_event(k, "dead-check");
    if (a == SQL_ATTR_CONNECTION_DEAD && k->dead != DEAD_OK) {
        if (k->dead == DEAD_UNSUPPORTED)
            return set_diag(c, "HYC00", -6, "Optional feature not implemented");
        if (v) *(SQLUINTEGER *)v = (SQLUINTEGER)k->dead_value;
        if (ol) *ol = sizeof(SQLUINTEGER);
        return SQL_SUCCESS;
    }
    if (a == SQL_ATTR_ACCESS_MODE) {
        if (v) *(SQLUINTEGER *)v = e && e->read_only ? SQL_MODE_READ_ONLY : SQL_MODE_READ_WRITE;
        if (ol) *ol = sizeof(SQLUINTEGER);
        return SQL_SUCCESS;
    }
    if (a == SQL_ATTR_CONNECTION_TIMEOUT) {
        if (v) *(SQLUINTEGER *)v = e ? (SQLUINTEGER)e->conn_timeout : 0;
        if (ol) *ol = sizeof(SQLUINTEGER);
        return SQL_SUCCESS;
    }
    return FWD_DBC(c, SQLGetConnectAttr, c, a, v, l, ol);
}

EXPORT SQLRETURN SQL_API SQLSetStmtAttr(SQLHSTMT s, SQLINTEGER a, SQLPOINTER v, SQLINTEGER l) {
    clear_diag(s);
    struct entry *e = find(s);
    if (a == SQL_ATTR_QUERY_TIMEOUT) {
        const struct knobs *k = knobs_of(e);
        if (k->qtimeout == QT_REFUSE)
            return set_diag(s, "HYC00", -6, "Optional feature not implemented");
        if (e) e->qtimeout = (SQLULEN)v;
        return SQL_SUCCESS;
    }
    return FWD_STMT(s, SQLSetStmtAttr, s, a, v, l);
}

EXPORT SQLRETURN SQL_API SQLGetStmtAttr(SQLHSTMT s, SQLINTEGER a, SQLPOINTER v, SQLINTEGER l,
                                        SQLINTEGER *ol) {
    clear_diag(s);
    struct entry *e = find(s);
    if (a == SQL_ATTR_QUERY_TIMEOUT) {
        const struct knobs *k = knobs_of(e);
        if (k->qtimeout == QT_REFUSE)
            return set_diag(s, "HYC00", -6, "Optional feature not implemented");
        if (v) *(SQLULEN *)v = e ? e->qtimeout : 0;
        if (ol) *ol = sizeof(SQLULEN);
        return SQL_SUCCESS;
    }
    return FWD_STMT(s, SQLGetStmtAttr, s, a, v, l, ol);
}

static char *copy_sql(SQLCHAR *sql, SQLINTEGER len) {
    if (!sql) return strdup("");
    size_t n = len == SQL_NTS ? strlen((char *)sql) : (size_t)len;
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, sql, n);
    s[n] = 0;
    return s;
}

EXPORT SQLRETURN SQL_API SQLExecDirect(SQLHSTMT s, SQLCHAR *sql, SQLINTEGER len) {
    if (!real_ready()) return SQL_ERROR;
    clear_diag(s);
    struct entry *e = find(s);
    char *text = copy_sql(sql, len);
    if (!text) return SQL_ERROR;
    if (e) atomic_store(&e->cancel, 0);
    log_sql(knobs_of(e), text);
    SQLRETURN rc = precheck(s, e, text);
    if (rc == SQL_SUCCESS) rc = slow(s, e, sleep_of(knobs_of(e), text));
    if (rc == SQL_SUCCESS) {
        char *rewritten = rewrite(e ? e->parent_dbc : NULL, text);
        rc = capture(SQL_HANDLE_STMT, s, r_SQLExecDirect(s, (SQLCHAR *)(rewritten ? rewritten : text), SQL_NTS));
        if (rc == SQL_ERROR) translate_error(s, e, text);
        free(rewritten);
    }
    free(text);
    return rc;
}

EXPORT SQLRETURN SQL_API SQLPrepare(SQLHSTMT s, SQLCHAR *sql, SQLINTEGER len) {
    if (!real_ready()) return SQL_ERROR;
    clear_diag(s);
    struct entry *e = find(s);
    char *text = copy_sql(sql, len);
    if (!text) return SQL_ERROR;
    if (e) e->prepared_sleep = 0;
    SQLRETURN rc = precheck(s, e, text);
    if (rc == SQL_SUCCESS) {
        char *rewritten = rewrite(e ? e->parent_dbc : NULL, text);
        rc = capture(SQL_HANDLE_STMT, s, r_SQLPrepare(s, (SQLCHAR *)(rewritten ? rewritten : text), SQL_NTS));
        if (rc == SQL_ERROR) translate_error(s, e, text);
        free(rewritten);
        if (e && SQL_SUCCEEDED(rc)) {
            e->prepared_sleep = sleep_of(knobs_of(e), text);
            free(e->prepared);
            e->prepared = strdup(text);
        }
    }
    free(text);
    return rc;
}

EXPORT SQLRETURN SQL_API SQLExecute(SQLHSTMT s) {
    clear_diag(s);
    struct entry *e = find(s);
    if (e) {
        atomic_store(&e->cancel, 0);
        if (e->prepared) log_sql(knobs_of(e), e->prepared);
        SQLRETURN rc = slow(s, e, e->prepared_sleep);
        if (rc != SQL_SUCCESS) return rc;
    }
    return FWD_STMT(s, SQLExecute, s);
}

EXPORT SQLRETURN SQL_API SQLCancel(SQLHSTMT s) {
    struct entry *e = find(s);
    log_event(knobs_of(e), "cancel");
    if (e && atomic_load(&e->sleeping)) {
        atomic_store(&e->cancel, 1);
        return SQL_SUCCESS;
    }
    if (e) atomic_store(&e->cancel, 1);
    return FWD_STMT(s, SQLCancel, s);
}

EXPORT SQLRETURN SQL_API SQLGetInfo(SQLHDBC c, SQLUSMALLINT t, SQLPOINTER v, SQLSMALLINT l,
                                    SQLSMALLINT *ol) {
    clear_diag(c);
    const char *text = NULL;
    const struct knobs *k = knobs_of(find(c));
    if (t == SQL_DBMS_NAME) text = "DM";
    else if (t == SQL_DBMS_VER) text = k->dbms_ver;
    else if (t == SQL_DRIVER_NAME) text = "libdmdouble.so";
    if (text) {
        SQLSMALLINT n = (SQLSMALLINT)strlen(text);
        if (ol) *ol = n;
        if (v && l > 0) {
            snprintf((char *)v, (size_t)l, "%s", text);
            if (n >= l) return SQL_SUCCESS_WITH_INFO;
        }
        return SQL_SUCCESS;
    }
    return FWD_DBC(c, SQLGetInfo, c, t, v, l, ol);
}

EXPORT SQLRETURN SQL_API SQLGetDiagRec(SQLSMALLINT type, SQLHANDLE h, SQLSMALLINT rec,
                                       SQLCHAR *state, SQLINTEGER *native, SQLCHAR *msg,
                                       SQLSMALLINT ml, SQLSMALLINT *mlp) {
    struct entry *e = find(h);
    if (e && e->d.set) {
        if (rec != 1) return SQL_NO_DATA;
        if (state) memcpy(state, e->d.state, 6);
        if (native) *native = e->d.native;
        SQLSMALLINT n = (SQLSMALLINT)strlen(e->d.msg);
        if (mlp) *mlp = n;
        if (msg && ml > 0) {
            snprintf((char *)msg, (size_t)ml, "%s", e->d.msg);
            if (n >= ml) return SQL_SUCCESS_WITH_INFO;
        }
        return SQL_SUCCESS;
    }
    return FORWARD(SQLGetDiagRec, type, h, rec, state, native, msg, ml, mlp);
}

static SQLRETURN diag_string(const char *s, SQLPOINTER v, SQLSMALLINT l, SQLSMALLINT *ol) {
    SQLSMALLINT n = (SQLSMALLINT)strlen(s);
    if (ol) *ol = n;
    if (v && l > 0) {
        snprintf((char *)v, (size_t)l, "%s", s);
        if (n >= l) return SQL_SUCCESS_WITH_INFO;
    }
    return SQL_SUCCESS;
}

EXPORT SQLRETURN SQL_API SQLGetDiagField(SQLSMALLINT type, SQLHANDLE h, SQLSMALLINT rec,
                                         SQLSMALLINT id, SQLPOINTER v, SQLSMALLINT l,
                                         SQLSMALLINT *ol) {
    struct entry *e = find(h);
    if (e && e->d.set) {
        if (rec == 0) {
            if (id == SQL_DIAG_NUMBER) { if (v) *(SQLINTEGER *)v = 1; return SQL_SUCCESS; }
            if (id == SQL_DIAG_RETURNCODE) { if (v) *(SQLRETURN *)v = e->d.rc; return SQL_SUCCESS; }
            if (id == SQL_DIAG_ROW_COUNT || id == SQL_DIAG_CURSOR_ROW_COUNT) {
                if (v) *(SQLLEN *)v = 0;
                return SQL_SUCCESS;
            }
            return SQL_NO_DATA;
        }
        if (rec != 1) return SQL_NO_DATA;
        switch (id) {
        case SQL_DIAG_SQLSTATE: return diag_string(e->d.state, v, l, ol);
        case SQL_DIAG_NATIVE: if (v) *(SQLINTEGER *)v = e->d.native; return SQL_SUCCESS;
        case SQL_DIAG_MESSAGE_TEXT: return diag_string(e->d.msg, v, l, ol);
        case SQL_DIAG_CLASS_ORIGIN:
            return diag_string(strncmp(e->d.state, "IM", 2) ? "ISO 9075" : "ODBC 3.0", v, l, ol);
        case SQL_DIAG_SUBCLASS_ORIGIN: return diag_string("ODBC 3.0", v, l, ol);
        case SQL_DIAG_CONNECTION_NAME:
        case SQL_DIAG_SERVER_NAME: return diag_string("", v, l, ol);
        case SQL_DIAG_COLUMN_NUMBER: if (v) *(SQLINTEGER *)v = SQL_COLUMN_NUMBER_UNKNOWN; return SQL_SUCCESS;
        case SQL_DIAG_ROW_NUMBER: if (v) *(SQLLEN *)v = SQL_ROW_NUMBER_UNKNOWN; return SQL_SUCCESS;
        default: return SQL_NO_DATA;
        }
    }
    return FORWARD(SQLGetDiagField, type, h, rec, id, v, l, ol);
}

/* ---- plain pass-through */

#define STMT_CLEAR(s) clear_diag(s)

EXPORT SQLRETURN SQL_API SQLNumResultCols(SQLHSTMT s, SQLSMALLINT *n) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLNumResultCols, s, n);
}
EXPORT SQLRETURN SQL_API SQLDescribeCol(SQLHSTMT s, SQLUSMALLINT c, SQLCHAR *n, SQLSMALLINT bl,
                                        SQLSMALLINT *nl, SQLSMALLINT *t, SQLULEN *sz,
                                        SQLSMALLINT *d, SQLSMALLINT *nu) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLDescribeCol, s, c, n, bl, nl, t, sz, d, nu);
}
EXPORT SQLRETURN SQL_API SQLColAttribute(SQLHSTMT s, SQLUSMALLINT c, SQLUSMALLINT f, SQLPOINTER cp,
                                         SQLSMALLINT bl, SQLSMALLINT *sl, SQLLEN *np) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLColAttribute, s, c, f, cp, bl, sl, np);
}
EXPORT SQLRETURN SQL_API SQLBindCol(SQLHSTMT s, SQLUSMALLINT c, SQLSMALLINT t, SQLPOINTER v,
                                    SQLLEN l, SQLLEN *ind) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLBindCol, s, c, t, v, l, ind);
}
EXPORT SQLRETURN SQL_API SQLBindParameter(SQLHSTMT s, SQLUSMALLINT p, SQLSMALLINT io, SQLSMALLINT ct,
                                          SQLSMALLINT st, SQLULEN cs, SQLSMALLINT dd, SQLPOINTER v,
                                          SQLLEN bl, SQLLEN *ind) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLBindParameter, s, p, io, ct, st, cs, dd, v, bl, ind);
}
EXPORT SQLRETURN SQL_API SQLNumParams(SQLHSTMT s, SQLSMALLINT *n) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLNumParams, s, n);
}
EXPORT SQLRETURN SQL_API SQLDescribeParam(SQLHSTMT s, SQLUSMALLINT p, SQLSMALLINT *t, SQLULEN *sz,
                                          SQLSMALLINT *d, SQLSMALLINT *nu) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLDescribeParam, s, p, t, sz, d, nu);
}
EXPORT SQLRETURN SQL_API SQLFetch(SQLHSTMT s) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLFetch, s);
}
EXPORT SQLRETURN SQL_API SQLFetchScroll(SQLHSTMT s, SQLSMALLINT o, SQLLEN off) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLFetchScroll, s, o, off);
}
EXPORT SQLRETURN SQL_API SQLGetData(SQLHSTMT s, SQLUSMALLINT c, SQLSMALLINT t, SQLPOINTER v,
                                    SQLLEN l, SQLLEN *ind) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLGetData, s, c, t, v, l, ind);
}
EXPORT SQLRETURN SQL_API SQLMoreResults(SQLHSTMT s) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLMoreResults, s);
}
EXPORT SQLRETURN SQL_API SQLCloseCursor(SQLHSTMT s) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLCloseCursor, s);
}
EXPORT SQLRETURN SQL_API SQLRowCount(SQLHSTMT s, SQLLEN *n) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLRowCount, s, n);
}
EXPORT SQLRETURN SQL_API SQLEndTran(SQLSMALLINT t, SQLHANDLE h, SQLSMALLINT c) {
    return FORWARD(SQLEndTran, t, h, c);
}
EXPORT SQLRETURN SQL_API SQLTables(SQLHSTMT s, SQLCHAR *c, SQLSMALLINT cl, SQLCHAR *sc,
                                   SQLSMALLINT sl, SQLCHAR *t, SQLSMALLINT tl, SQLCHAR *ty,
                                   SQLSMALLINT yl) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLTables, s, c, cl, sc, sl, t, tl, ty, yl);
}
EXPORT SQLRETURN SQL_API SQLColumns(SQLHSTMT s, SQLCHAR *c, SQLSMALLINT cl, SQLCHAR *sc,
                                    SQLSMALLINT sl, SQLCHAR *t, SQLSMALLINT tl, SQLCHAR *co,
                                    SQLSMALLINT col) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLColumns, s, c, cl, sc, sl, t, tl, co, col);
}
EXPORT SQLRETURN SQL_API SQLGetTypeInfo(SQLHSTMT s, SQLSMALLINT t) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLGetTypeInfo, s, t);
}
EXPORT SQLRETURN SQL_API SQLNativeSql(SQLHDBC c, SQLCHAR *in, SQLINTEGER il, SQLCHAR *out,
                                      SQLINTEGER ol, SQLINTEGER *olp) {
    return FWD_DBC(c, SQLNativeSql, c, in, il, out, ol, olp);
}
EXPORT SQLRETURN SQL_API SQLParamData(SQLHSTMT s, SQLPOINTER *v) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLParamData, s, v);
}
EXPORT SQLRETURN SQL_API SQLPutData(SQLHSTMT s, SQLPOINTER v, SQLLEN l) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLPutData, s, v, l);
}
EXPORT SQLRETURN SQL_API SQLSetPos(SQLHSTMT s, SQLSETPOSIROW r, SQLUSMALLINT o, SQLUSMALLINT l) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLSetPos, s, r, o, l);
}
EXPORT SQLRETURN SQL_API SQLGetCursorName(SQLHSTMT s, SQLCHAR *n, SQLSMALLINT bl, SQLSMALLINT *nl) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLGetCursorName, s, n, bl, nl);
}
EXPORT SQLRETURN SQL_API SQLSetCursorName(SQLHSTMT s, SQLCHAR *n, SQLSMALLINT nl) {
    STMT_CLEAR(s);
    return FWD_STMT(s, SQLSetCursorName, s, n, nl);
}
