# %postun of the dameng_exporter .rpm ($1 = 1 on upgrade): like %systemd_postun_with_restart.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart dameng_exporter.service >/dev/null 2>&1 || :
    fi
fi
exit 0
