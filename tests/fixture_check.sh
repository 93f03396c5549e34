#!/usr/bin/env bash
# '$' inside the single-quoted SQL is DM's identifier character (V$INSTANCE), not expansion.
# shellcheck disable=SC2016
# Prove that the ODBC drivers reach both fixture engines and that the portable SQL subset
# (docs/DESIGN.md §7) answers the same on SQLite and PostgreSQL, with the values documented in
# tests/fixtures/README.md. Every query runs through unixODBC's `isql` on all three
# instances of both engines.
#
#   tests/fixture_check.sh [--no-build] [SQLITE_DIR]
#
# Without --no-build it first runs `build.sh sqlite SQLITE_DIR` (default
# tests/fixtures/out) and `build.sh pg` (needs scripts/pg-setup.sh to have run).
# Quiet on success; prints each mismatch and exits 1 otherwise.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=1
if [[ ${1:-} == --no-build ]]; then
    build=0
    shift
fi
dir=${1:-$root/tests/fixtures/out}
dir=$(mkdir -p "$dir" && cd "$dir" && pwd)

command -v isql >/dev/null 2>&1 || { echo "fixture_check: isql not found (package unixodbc)" >&2; exit 1; }
"$root/tests/fixtures/build.sh" check
if [[ $build -eq 1 ]]; then
    "$root/tests/fixtures/build.sh" sqlite "$dir"
    "$root/tests/fixtures/build.sh" pg
fi

INSTANCES=(primary standby odd)

conn() { # ENGINE INSTANCE
    case $1 in
        sqlite) echo "Driver=SQLite3;Database=$dir/$2.db;NoCreat=1" ;;
        pg) echo "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=5432;Database=dmexp_$2;UID=dmexp;PWD=dmexp" ;;
    esac
}

# Checks are collected first, then run in one isql session per (engine, instance): a
# marker row `@@N@@` before check N splits the output; isql prints a failing statement's
# diagnostic (`[SQLSTATE]...`) in place of its rows, so every check sees its own result.
n=0
declare -a KIND SQL
declare -A WANT

add() { # KIND SQL WANT_PRIMARY WANT_STANDBY WANT_ODD ('-' skips that instance)
    KIND[n]=$1
    SQL[n]=$2
    WANT[$n,primary]=$3
    WANT[$n,standby]=$4
    WANT[$n,odd]=$5
    n=$((n + 1))
}
# Exact output, rows separated by '\n'.
expect() { add exact "$@"; }
# The whole output matches the extended regex.
expect_re() { add regex "$@"; }
# expect_error SQL INSTANCE: the statement fails there (object absent).
expect_error() {
    local sql=$1 inst
    add error "$sql" - - -
    WANT[$((n - 1)),$2]=error
}

errfile=$(mktemp)
trap 'rm -f "$errfile"' EXIT

run_all() {
    local engine inst i line cur got want preamble failures=0 checks=0
    local -A GOT
    for engine in sqlite pg; do
        for inst in "${INSTANCES[@]}"; do
            GOT=()
            cur=
            preamble=
            while IFS= read -r line; do
                if [[ $line =~ ^@@([0-9]+)@@$ ]]; then
                    cur=${BASH_REMATCH[1]}
                    GOT[$cur]=
                elif [[ -n ${cur:-} ]]; then
                    GOT[$cur]+=${GOT[$cur]:+$'\n'}$line
                else
                    preamble+=${preamble:+$'\n'}$line
                fi
            done < <(
                {
                    if [[ $engine == sqlite && -f $dir/${inst}_sysjob.db ]]; then
                        # What the exporter's connection init does for SQLite.
                        echo "ATTACH DATABASE '$dir/${inst}_sysjob.db' AS SYSJOB"
                    fi
                    for ((i = 0; i < n; i++)); do
                        [[ ${WANT[$i,$inst]} == - ]] && continue
                        echo "SELECT '@@$i@@' FROM DUAL"
                        echo "${SQL[i]}"
                    done
                } | isql -v -k -b -d'|' "$(conn "$engine" "$inst")" 2>"$errfile"
            )
            if [[ ${#GOT[@]} -eq 0 ]]; then
                echo "FAIL [$engine/$inst] no result at all: $preamble $(head -c 300 "$errfile")" >&2
            fi
            for ((i = 0; i < n; i++)); do
                want=${WANT[$i,$inst]}
                [[ $want == - ]] && continue
                checks=$((checks + 1))
                if [[ ! -v GOT[$i] ]]; then
                    failures=$((failures + 1))
                    continue
                fi
                got=${GOT[$i]}
                case ${KIND[i]} in
                    exact) printf -v want '%b' "$want"; [[ $got == "$want" ]] ;;
                    regex) [[ $got =~ ^$want$ ]] ;;
                    error) [[ $got =~ \[[0-9A-Z]{5}\] ]] ;;
                esac || { report "$engine" "$inst" "${SQL[i]}" "$want" "$got"; failures=$((failures + 1)); }
            done
        done
    done
    if [[ $failures -gt 0 ]]; then
        echo "fixture_check: $failures of $checks checks failed" >&2
        return 1
    fi
}

report() { # ENGINE INSTANCE SQL WANT GOT
    printf 'FAIL [%s/%s] %s\n  want: %s\n  got:  %s\n' "$1" "$2" "$3" \
        "${4//$'\n'/\\n}" "${5//$'\n'/\\n}" >&2
}

TS='[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?'

# --- The two statements every datasource must answer -------------------------------------
expect_re 'SELECT STATUS$, MODE$, START_TIME, CURRENT_TIMESTAMP FROM V$INSTANCE' \
    "OPEN\|PRIMARY\|2026-11-01 08:30:00\|$TS" \
    "OPEN\|STANDBY\|2026-10-15 22:05:30\|$TS" \
    "MOUNT\|NORMAL\|2026-11-20 23:59:59\|$TS"
expect 'SELECT 1 FROM DUAL' 1 1 1

# --- V$INSTANCE family: counts (tagged like built-in SQL, scalar subqueries) ---------------
expect '/*+DM_EXPORTER*/ SELECT (SELECT COUNT(*) FROM V$TRXWAIT), (SELECT COUNT(*) FROM V$DEADLOCK_HISTORY), (SELECT COUNT(*) FROM V$THREADS) FROM DUAL' \
    '3|2|12' '0|0|9' '1|4|5'
expect "SELECT CASE STATUS\$ WHEN 'OPEN' THEN 1 WHEN 'MOUNT' THEN 2 WHEN 'SUSPEND' THEN 3 ELSE 4 END, CASE MODE\$ WHEN 'PRIMARY' THEN 1 WHEN 'NORMAL' THEN 2 WHEN 'STANDBY' THEN 3 ELSE 4 END FROM V\$INSTANCE" \
    '1|1' '1|3' '2|2'

# --- V$SESSIONS by state, NULL -> UNKNOWN -------------------------------------------------
expect "SELECT COALESCE(STATE, 'UNKNOWN'), COUNT(SESS_ID) FROM V\$SESSIONS GROUP BY STATE ORDER BY 1" \
    'ACTIVE|3\nCREATE|1\nIDLE|6\nPENDING|1' \
    'ACTIVE|1\nIDLE|2' \
    'ACTIVE|1\nIDLE|1\nSTARTUP|1\nUNKNOWN|1\nUNKNOWN|1'
expect "SELECT SESS_ID, CURR_SCH, THRD_ID, LAST_RECV_TIME, CLNT_IP FROM V\$SESSIONS WHERE STATE = 'ACTIVE' AND LAST_RECV_TIME > '2000-01-01 00:00:00' ORDER BY LAST_RECV_TIME" \
    '140382415120472|APP|4021|2026-11-24 07:58:00|::ffff:192.168.10.21\n140382415133720|REPORT|4077|2026-11-24 08:05:30|::ffff:192.168.100.100' \
    '' \
    '139912000001000||1801|2026-11-24 06:00:00|'

# --- Tablespaces: LEFT JOIN keeps the 100 %-full one; exact MB ------------------------------
expect "SELECT T.TABLESPACE_NAME, CAST(T.TOTAL_BYTES / 1048576 AS BIGINT), CAST(COALESCE(F.FREE_BLOCKS, 0) * (SELECT CAST(PARA_VALUE AS BIGINT) FROM V\$DM_INI WHERE PARA_NAME = 'GLOBAL_PAGE_SIZE') / 1048576 AS BIGINT) FROM (SELECT TABLESPACE_NAME, SUM(BYTES) AS TOTAL_BYTES FROM DBA_DATA_FILES GROUP BY TABLESPACE_NAME) T LEFT JOIN (SELECT TABLESPACE_NAME, SUM(BLOCKS) AS FREE_BLOCKS FROM DBA_FREE_SPACE GROUP BY TABLESPACE_NAME) F ON F.TABLESPACE_NAME = T.TABLESPACE_NAME ORDER BY T.TABLESPACE_NAME" \
    'APP_DATA|4096|356\nAPP_FULL|512|0\nMAIN|1024|500\nROLL|256|208\nSYSTEM|128|32\nTEMP|64|62' \
    'MAIN|1024|512\nROLL|256|240\nSYSTEM|128|40\nTEMP|64|63' \
    'MAIN|256|128\nROLL|128|96\nSYSTEM|64|16\nTEMP|32|32'
expect 'SELECT PATH, TOTAL_SIZE * PAGE_SIZE, FREE_SIZE * PAGE_SIZE, AUTO_EXTEND, NEXT_SIZE, MAX_SIZE FROM V$DATAFILE ORDER BY GROUP_ID, ID' \
    '/dmdata/DAMENG/SYSTEM.DBF|134217728|33554432|1|16|16777215\n/dmdata/DAMENG/ROLL.DBF|268435456|218103808|1|128|16777215\n/dmdata/DAMENG/TEMP.DBF|67108864|65011712|1|16|16777215\n/dmdata/DAMENG/MAIN.DBF|1073741824|524288000|1|128|16777215\n/dmdata/DAMENG/APP_DATA01.DBF|2147483648|268435456|1|256|32768\n/dmdata/DAMENG/APP_DATA02.DBF|2147483648|104857600|1|256|32768\n/dmdata/DAMENG/APP_FULL01.DBF|536870912|0|0|0|512' \
    '/dmdata/DAMENG/SYSTEM.DBF|134217728|41943040|1|16|16777215\n/dmdata/DAMENG/ROLL.DBF|268435456|251658240|1|128|16777215\n/dmdata/DAMENG/TEMP.DBF|67108864|66060288|1|16|16777215\n/dmdata/DAMENG/MAIN.DBF|1073741824|536870912|1|128|16777215' \
    '/opt/dm/data/DAMENG/SYSTEM.DBF|67108864|16777216|1|8|16777215\n/opt/dm/data/DAMENG/ROLL.DBF|134217728|100663296|1|8|16777215\n/opt/dm/data/DAMENG/TEMP.DBF|33554432|33554432|1|8|16777215\n/opt/dm/data/DAMENG/MAIN.DBF|268435456|134217728|0||'

# --- Parameters, statistics, memory zones (by ID, as upstream) ------------------------------
expect "SELECT PARA_NAME, CAST(PARA_VALUE AS BIGINT) FROM V\$DM_INI WHERE PARA_NAME IN ('MAX_SESSIONS', 'REDOS_BUF_NUM', 'REDOS_BUF_SIZE', 'PORT_NUM', 'ARCH_INI') ORDER BY PARA_NAME" \
    'ARCH_INI|1\nMAX_SESSIONS|1000\nPORT_NUM|5236\nREDOS_BUF_NUM|256\nREDOS_BUF_SIZE|32' \
    'ARCH_INI|1\nMAX_SESSIONS|1500\nPORT_NUM|5237\nREDOS_BUF_NUM|512\nREDOS_BUF_SIZE|64' \
    'ARCH_INI|0\nMAX_SESSIONS|50\nPORT_NUM|15236\nREDOS_BUF_NUM|1024'
expect "SELECT COUNT(*), SUM(STAT_VAL) FROM V\$SYSSTAT WHERE NAME IN ('select statements', 'insert statements', 'delete statements', 'update statements', 'ddl statements', 'transaction total count', 'select statements in pl/sql', 'insert statements in pl/sql', 'delete statements in pl/sql', 'update statements in pl/sql', 'DDL in pl/sql count', 'dynamic exec in pl/sql', 'DB time(ms)', 'parse time(ms)', 'hard parse time(ms)', 'latch wait time(ms)', 'mutex wait time(ms)', 'io wait time(ms)', 'trx lock wait time(ms)', 'redo sync wait time(ms)', 'redo sync wait time for commit(ms)', 'parse count', 'parser errors', 'hard parse count', 'plan total count', 'plan cache hit count', 'logic read count', 'recycle logic read count', 'physical read count', 'physical multi read count', 'physical write count', 'transaction deadlock count')" \
    '32|10971899848' '32|174130098' '28|1495437'
expect "SELECT 'HJ ZONE', (SELECT SUM(STAT_VAL) FROM V\$SYSSTAT WHERE ID IN (114, 115)), (SELECT SUM(STAT_VAL) FROM V\$SYSSTAT WHERE ID = 144) FROM DUAL UNION ALL SELECT 'HAGR ZONE', (SELECT SUM(STAT_VAL) FROM V\$SYSSTAT WHERE ID = 116), (SELECT SUM(STAT_VAL) FROM V\$SYSSTAT WHERE ID = 142) FROM DUAL UNION ALL SELECT 'SORT ZONE', (SELECT SUM(STAT_VAL) FROM V\$SYSSTAT WHERE ID = 178), (SELECT SUM(STAT_VAL) FROM V\$SYSSTAT WHERE ID = 177) FROM DUAL" \
    'HJ ZONE|12582912|524288000\nHAGR ZONE|4194304|524288000\nSORT ZONE|8388608|1048576000' \
    'HJ ZONE|0|524288000\nHAGR ZONE|0|524288000\nSORT ZONE|1048576|1048576000' \
    'HJ ZONE|3145728|104857600\nHAGR ZONE|0|104857600\nSORT ZONE||209715200'
expect 'SELECT N_CPU, TOTAL_PHY_SIZE, TOTAL_VIR_SIZE, TOTAL_DISK_SIZE FROM V$SYSTEMINFO LIMIT 1' \
    '16|68719476736|8589934592|2199023255552' '8|34359738368|4294967296|1099511627776' '4|8589934592||'
expect "SELECT CAST(ROUND(SUM(RAT_HIT) * 10000 / COUNT(*)) AS INTEGER) FROM V\$BUFFERPOOL WHERE NAME = 'FAST'" \
    9950 9412 7500
expect 'SELECT OBJ_NUM, IS_RUNNING, PURG_FOR_TS FROM V$PURGE' '17|Y|N' '0|N|N' '3||'

# --- Version-dependent objects: probes and the objects themselves -------------------------
expect "SELECT (SELECT COUNT(*) FROM V\$DYNAMIC_TABLES WHERE NAME = 'V\$SYSTEM_EVENT'), (SELECT COUNT(*) FROM V\$DYNAMIC_TABLES WHERE NAME = 'V\$CKPT'), (SELECT COUNT(*) FROM V\$DYNAMIC_TABLES WHERE NAME = 'V\$DMMONITOR'), (SELECT COUNT(*) FROM V\$DYNAMIC_TABLES WHERE NAME = 'V\$ARCH_APPLY_INFO'), (SELECT COUNT(*) FROM V\$DYNAMIC_TABLES WHERE NAME = 'V\$RLOG') FROM DUAL" \
    '1|1|1|1|1' '1|1|1|1|1' '0|0|0|0|1'
expect "SELECT TABNAME, COUNT(*) FROM V\$DYNAMIC_TABLE_COLUMNS WHERE (TABNAME = 'V\$ARCH_SEND_INFO' AND COLNAME IN ('LAST_SEND_CODE', 'LAST_SEND_DESC')) OR (TABNAME = 'V\$DB_CACHE' AND COLNAME IN ('LRU_DISCARD', 'DDL_DISCARD', 'DISABLED_DICT_NUM')) OR (TABNAME = 'V\$ARCH_QUEUE' AND COLNAME = 'WAITING') OR (TABNAME = 'V\$RLOG' AND COLNAME IN ('CKPT_LSN', 'FILE_LSN', 'FLUSH_LSN', 'CUR_LSN')) OR (TABNAME = 'V\$SYSTEM_EVENT' AND COLNAME IN ('EVENT', 'TOTAL_WAITS')) GROUP BY TABNAME ORDER BY TABNAME" \
    'V$ARCH_QUEUE|1\nV$ARCH_SEND_INFO|2\nV$DB_CACHE|3\nV$RLOG|4\nV$SYSTEM_EVENT|2' \
    'V$ARCH_QUEUE|1\nV$ARCH_SEND_INFO|2\nV$DB_CACHE|3\nV$RLOG|4\nV$SYSTEM_EVENT|2' \
    'V$RLOG|4'
expect 'SELECT EVENT, TOTAL_WAITS FROM V$SYSTEM_EVENT ORDER BY EVENT' \
    'buffer fix wait|890\nio read wait|234567\nnetwork idle wait|9876543\nredo flush wait|45678\ntrxid lock wait|1520' \
    'io read wait|34567\nnetwork idle wait|123456\ntrxid lock wait|0' -
expect_error 'SELECT EVENT, TOTAL_WAITS FROM V$SYSTEM_EVENT' odd
expect 'SELECT CKPT_TOTAL_COUNT, CKPT_TIME_USED FROM V$CKPT' '4821|1234567' '998|45678' -
expect_error 'SELECT CKPT_TIME_USED FROM V$CKPT' odd
expect 'SELECT CKPT_LSN, FILE_LSN, FLUSH_LSN, CUR_LSN FROM V$RLOG' \
    '52093812|52104877|52104877|52105011' '52090001|52104500|52104500|52104500' '10234|10240||10240'
expect 'SELECT LRU_DISCARD, DDL_DISCARD, DISABLED_DICT_NUM FROM V$DB_CACHE' '1532|87|4' '210|3|0' -
expect_error 'SELECT LRU_DISCARD FROM V$DB_CACHE' odd

# --- Archiving, data guard ------------------------------------------------------------------
expect "SELECT ARCH_TYPE, ARCH_DEST, ARCH_SRC, CASE ARCH_STATUS WHEN 'VALID' THEN 1 ELSE 0 END FROM V\$ARCH_STATUS ORDER BY ARCH_TYPE" \
    'ASYNC|GRP1_ASYNC_03|GRP1_RT_01|0\nLOCAL|/dmarch|GRP1_RT_01|1\nREALTIME|GRP1_RT_02|GRP1_RT_01|1' \
    'LOCAL|/dmarch|GRP1_RT_02|0\nREALTIME|GRP1_RT_01|GRP1_RT_02|1' ''
expect "SELECT CREATE_TIME FROM V\$ARCH_FILE WHERE STATUS = 'ACTIVE' ORDER BY CREATE_TIME DESC LIMIT 1" \
    '2026-11-24 07:45:12' '2026-11-24 07:46:02' ''
expect 'SELECT RECTIME FROM V$LOG_HISTORY WHERE RECTIME IS NOT NULL ORDER BY RECTIME DESC LIMIT 1' \
    '2026-11-24 07:45:10' '2026-11-24 07:46:00' ''
expect 'SELECT COUNT(*), COUNT(RECTIME) FROM V$LOG_HISTORY' '3|3' '2|2' '1|0'
expect 'SELECT S.ARCH_TYPE, S.ARCH_DEST, S.MAX_SEND_LSN - COALESCE((SELECT MIN(A.RPKG_LSN) FROM V$ARCH_APPLY_INFO A WHERE A.DEST_NAME = S.ARCH_DEST), S.LAST_SEND_LSN) FROM V$ARCH_SEND_INFO S ORDER BY S.ARCH_TYPE' \
    'ASYNC|GRP1_ASYNC_03|95011\nREALTIME|GRP1_RT_02|811' '' -
expect 'SELECT DEST_NAME, COUNT(*) FROM V$ARCH_APPLY_INFO GROUP BY DEST_NAME' 'GRP1_RT_02|2' '' -
expect 'SELECT ARCH_TYPE, SUM(WAITING), COUNT(*) FROM V$ARCH_QUEUE GROUP BY ARCH_TYPE ORDER BY ARCH_TYPE' \
    'ASYNC|5|2\nREALTIME|0|2' 'REALTIME||1' -
expect_error 'SELECT ARCH_TYPE, WAITING FROM V$ARCH_QUEUE' odd
expect 'SELECT SUM(TASK_MEM_USED), SUM(TASK_NUM), COUNT(*) FROM V$RAPPLY_SYS' '||0' '100663296|16|3' '||0'
expect 'SELECT APPLY_CMT_TIME, LAST_CMT_TIME FROM V$RAPPLY_STAT WHERE APPLY_CMT_TIME IS NOT NULL ORDER BY APPLY_CMT_TIME' \
    '' '2026-11-24 08:00:00|2026-11-24 08:00:42\n2026-11-24 08:00:30|2026-11-24 08:00:42\n2026-11-24 08:00:42|2026-11-24 08:00:42' ''
expect 'SELECT COUNT(*) FROM V$RAPPLY_STAT WHERE APPLY_CMT_TIME IS NULL' '0' '1' '1'
expect "SELECT DW_MODE, DW_STATUS, AUTO_RESTART, CASE DW_STATUS WHEN 'OPEN' THEN 1 WHEN 'MOUNT' THEN 2 WHEN 'SUSPEND' THEN 3 ELSE 4 END FROM V\$DMWATCHER" \
    'AUTO|OPEN|1|1' 'AUTO|RECOVERY|1|4' ''
expect 'SELECT DW_CONN_TIME, MON_CONFIRM, MON_ID, MON_IP, MID FROM V$DMMONITOR ORDER BY MID' \
    '2026-11-01 08:31:10|TRUE|1|192.168.10.30|1\n2026-11-02 14:05:00|FALSE|2|192.168.10.31|2' \
    '2026-11-01 08:31:12|TRUE|1|192.168.10.30|1' -
expect_error 'SELECT MID FROM V$DMMONITOR' odd
expect 'SELECT FILE_ID, PATH, CREATE_TIME, RLOG_SIZE FROM V$RLOGFILE ORDER BY FILE_ID' \
    '0|/dmdata/DAMENG/DAMENG01.log|2026-03-15 10:02:11|268435456\n1|/dmdata/DAMENG/DAMENG02.log|2026-03-15 10:02:11|268435456' \
    '0|/dmdata/DAMENG/DAMENG01.log|2026-03-15 11:20:45|268435456\n1|/dmdata/DAMENG/DAMENG02.log|2026-03-15 11:20:45|268435456' \
    '0|/opt/dm/data/DAMENG/DAMENG01.log|2022-06-01 09:00:00|134217728\n1|/opt/dm/data/DAMENG/DAMENG02.log|2022-06-01 09:00:00|134217728'

# --- Users, licence, version text (UTF-8 through both drivers) ----------------------------
expect "SELECT A.USERNAME, CASE B.RN_FLAG WHEN 1 THEN 'Y' WHEN 0 THEN 'N' END, CASE A.ACCOUNT_STATUS WHEN 'LOCKED' THEN 1 ELSE 0 END, A.EXPIRY_DATE, A.DEFAULT_TABLESPACE, A.PROFILE, A.CREATED FROM DBA_USERS A JOIN SYSUSERS B ON A.USER_ID = B.ID WHERE A.USERNAME NOT IN ('SYS', 'SYSSSO', 'SYSAUDITOR') ORDER BY A.USERNAME" \
    'APP|N|0|2027-05-20 10:00:00|APP_DATA|DEFAULT|2026-03-16 09:00:00\nOLD_ETL|N|1|2026-10-01 00:00:00|APP_DATA|DEFAULT|2026-03-20 11:11:11\nREPORT_RO|Y|0|2026-12-31 23:59:59|MAIN|DEFAULT|2026-04-02 15:30:00\nSYSDBA|N|0||MAIN|DEFAULT|2026-03-15 10:02:11' \
    'REPORT_RO|Y|0|2026-12-31 23:59:59|MAIN|DEFAULT|2026-04-02 15:30:00\nSYSDBA|N|0||MAIN|DEFAULT|2026-03-15 10:02:11' \
    'DEV||0|2026-06-30 00:00:00|||2023-01-09 08:00:00\nSYSDBA|N|0||MAIN||2022-06-01 09:00:00'
expect 'SELECT EXPIRED_DATE, SERVER_TYPE, AUTHORIZED_CUSTOMER FROM V$LICENSE' \
    '2030-06-30|1|示例科技有限公司' '|1|示例科技有限公司' '2026-03-31|3|'
expect "SELECT BANNER FROM V\$VERSION WHERE BANNER LIKE '0%-%'" \
    '03134284604-20260707-335949-20228' '03134284194-20240703-234060-20108' '02134283860-20220525-163502-20017'
# BUILD_VERSION: the ID_CODE shape real DM 8.1.5.60 returns on primary (docs/DM8_EVIDENCE.md F1),
# the older dotted shape on standby, no column on odd.
expect 'SELECT BUILD_VERSION FROM V$INSTANCE' \
    '03134284604-20260707-335949-20228' '1-3-162-2024.07.03-234060-20108-ENT' -
expect_error 'SELECT BUILD_VERSION FROM V$INSTANCE' odd
expect "SELECT TXT FROM V\$INSTANCE_LOG_HISTORY WHERE LEVEL\$ NOT IN ('INFO', 'WARN') ORDER BY SEQNO" \
    'job JOB_STATS_GATHER failed: invalid table or view name [T_STAT_TMP]\narchive send to GRP1_ASYNC_03 failed, code = -70019\nlock wait timeout, trx 7340371 rolled back\nlock wait timeout, trx 7340371 rolled back' \
    'local archive /dmarch: no space left on device' \
    '许可证已过期，数据库无法打开\n'

# --- SYSJOB: schema-qualified names and the quoted "TYPE" column -----------------------------
expect "SELECT COUNT(*) FROM SYSJOB.SYSJOBHISTORIES2 H WHERE H.ERRCODE <> 0 AND H.NAME IN (SELECT J.NAME FROM SYSJOB.SYSJOBSCHEDULES SCHE JOIN SYSJOB.SYSJOBSTEPS STEPS ON SCHE.JOBID = STEPS.JOBID JOIN SYSJOB.SYSJOBS J ON SCHE.JOBID = J.ID WHERE STEPS.\"TYPE\" = 6 AND SCHE.VALID = 'Y')" \
    3 0 -
expect_error 'SELECT COUNT(*) FROM SYSJOB.SYSJOBS' odd

run_all
