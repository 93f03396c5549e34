# %post of the dameng_exporter .rpm ($1 = 1 on install, 2 on upgrade). Like %systemd_post:
# the unit is known to systemd, enabled only by a preset, never started by the package.
chgrp dameng_exporter /etc/dameng_exporter /etc/dameng_exporter/dameng_exporter.toml 2>/dev/null || :
chmod 0750 /etc/dameng_exporter 2>/dev/null || :
chmod 0640 /etc/dameng_exporter/dameng_exporter.toml 2>/dev/null || :
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -eq 1 ]; then
        systemctl preset dameng_exporter.service >/dev/null 2>&1 || :
    fi
fi
exit 0
