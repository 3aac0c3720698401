# The sqlops/mariadb and sqlops/mysql images: a root file system built from Debian packages
# and imported by docker/build-images.sh (BASE), plus the entrypoint. No VOLUME on purpose:
# a test container leaves no anonymous volume behind (compose mounts one explicitly).
ARG BASE
FROM ${BASE}
ENV LANG=C.UTF-8
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
EXPOSE 3306
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["mysqld"]
