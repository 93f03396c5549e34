# %preun of the dameng_exporter .rpm ($1 = 0 on erase): like %systemd_preun.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl --no-reload disable --now dameng_exporter.service >/dev/null 2>&1 || :
fi
exit 0
