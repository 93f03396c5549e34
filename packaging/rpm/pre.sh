# %pre of the dameng_exporter .rpm: the service user (before files are owned by its group).
getent group dameng_exporter >/dev/null || groupadd -r dameng_exporter
getent passwd dameng_exporter >/dev/null || \
    useradd -r -g dameng_exporter -M -d /var/lib/dameng_exporter -s /sbin/nologin \
        -c "dameng_exporter service" dameng_exporter
exit 0
